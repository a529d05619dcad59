import Foundation
import Models
import Store

/// A registered model as the reports show it: its head, weights sha256 and card (decoded once).
struct ModelSummary {
    var head: String
    var sha256: String
    var card: ModelCard?

    /// Every registered model by weights sha256; a card that cannot be decoded is shown as unknown.
    static func all(_ database: IndexDatabase) throws -> [String: ModelSummary] {
        try database.registeredModels().mapValues { m in
            ModelSummary(head: m.head, sha256: m.sha256, card: try? ModelCard.decode(Data(m.cardJSON.utf8), file: "model \(m.sha256)"))
        }
    }

    /// How the head decides (its positive class), nil when its card is unknown.
    var rule: DecisionRule? { card?.decisionRule }
}
