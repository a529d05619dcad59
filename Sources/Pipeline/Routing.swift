import Models

/// Applies a head's routing rule (data in its model card) to an instance's attributes: the head
/// takes the instance when every attribute of at least one clause has an accepted value.
public enum Routing {
    public static func accepts(_ routing: ModelCard.Scoring.Routing, _ attributes: [String: String]) -> Bool {
        routing.acceptAny.contains { clause in
            clause.allSatisfy { attribute, allowed in
                guard let value = attributes[attribute]?.uppercased() else { return allowed.contains(where: { $0 == nil }) }
                return allowed.contains { $0?.uppercased() == value }
            }
        }
    }

    /// Why no head took the instance, naming what it is and what each head takes.
    public static func rejection(_ attributes: [String: String], heads: [(String, ModelCard.Scoring.Routing)]) -> String {
        let what = ["modality", "body_part", "view_position", "sop_class_uid"].map { "\($0) \(attributes[$0] ?? "missing")" }
            .joined(separator: ", ")
        if heads.isEmpty { return "no head is installed (\(what))" }
        let takes = heads.map { name, routing in
            "\(name) takes " + routing.acceptAny.map { clause in
                clause.sorted { $0.key < $1.key }.map { "\($0.key) ∈ {\($0.value.map { $0 ?? "missing" }.joined(separator: ","))}" }
                    .joined(separator: " & ")
            }.joined(separator: " or ")
        }.joined(separator: "; ")
        return "no installed head accepts it (\(what)); \(takes)"
    }
}
