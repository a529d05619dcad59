import ArgumentParser
import Evaluation
import Foundation

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Metrics, calibration and subgroup disparities for a CSV of scores from any model.")

    @Option(help: "CSV file.") var csv: String
    @Option(help: "Column of probabilities of the positive class.") var scoreCol: String
    @Option(help: "Column of 0/1 labels.") var labelCol: String
    @Option(help: "Group column (repeatable).") var groupCol: [String] = []
    @Option(help: "Decision threshold.") var threshold = 0.5
    @Option(help: "Equal-width bins for ECE/MCE.") var bins = 15
    @Option(help: "Bootstrap replicates for every metric's 95% interval (0: none).") var bootstrap = 1000
    @Option(help: "Bootstrap seed.") var seed: UInt64 = 20261126
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        var report: MetricsReport
        do {
            report = try MetricsReport.load(csv: csv, scoreColumn: scoreCol, labelColumn: labelCol, groupColumns: groupCol,
                                            threshold: threshold, bins: bins)
        } catch {
            printError("dxkit metrics: \(error)")
            throw ExitCode(2)
        }
        if bootstrap > 0 { report.bootstrap = Bootstrap(replicates: bootstrap, seed: seed) }
        let object = report.json()
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        for key in ["n", "prevalence", "auroc", "auroc_ci", "auprc", "brier", "log_loss", "ece", "mce", "temperature",
                    "threshold", "sensitivity", "specificity", "ppv", "npv", "f1", "accuracy", "selection_rate",
                    "demographic_parity_difference", "equalized_odds_difference"] where object[key] != nil {
            printSafe(key.padding(toLength: 32, withPad: " ", startingAt: 0) + "\(object[key]!)")
        }
        if (object["small_sample"] as? Bool) == true { print("warning: n < 30; intervals and calibration are unreliable") }
    }
}
