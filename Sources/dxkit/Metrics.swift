import ArgumentParser
import Pipeline
import Evaluation
import Foundation
import Reports

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
    @Option(help: "Points kept on each ROC and precision-recall curve in the JSON (0: every distinct threshold).") var curvePoints = 200
    @Option(help: "Write ROC, precision-recall and reliability charts (PNG and SVG) into this folder.") var plots: String?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard bootstrap >= 0 else { throw ValidationError("--bootstrap takes a number of replicates (0: none)") }
        guard curvePoints == 0 || curvePoints >= 2 else { throw ValidationError("--curve-points takes 0 (every threshold) or at least 2") }
        guard bins >= 1 else { throw ValidationError("--bins takes at least 1") }
    }

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
        report.curvePoints = curvePoints > 0 ? curvePoints : nil
        let result = report.json()
        if let plots {
            do {
                let files = try MetricsPlots.write(result, to: plots)
                if !json { print("charts: \(files.count) PNG (and SVG) files in \(plots)") }
            } catch {
                printError("dxkit metrics: \(error)")
                throw ExitCode(2)
            }
        }
        if json {
            print(try JSONOutput.string(result))
            return
        }
        let m = result.summary
        func f(_ x: Double?) -> String { x.map { "\($0)" } ?? "—" }
        let lines: [(String, String)] = [
            ("n", "\(m.n)"), ("prevalence", f(m.prevalence)), ("auroc", f(m.auroc)),
            ("auroc_ci", m.aurocCI.map { "\($0)" } ?? "—"), ("auprc", f(m.auprc)), ("brier", f(m.brier)),
            ("log_loss", f(m.logLoss)), ("ece", f(m.ece)), ("mce", f(m.mce)), ("temperature", f(m.temperature)),
            ("threshold", f(m.threshold)), ("sensitivity", f(m.sensitivity)), ("specificity", f(m.specificity)),
            ("ppv", f(m.ppv)), ("npv", f(m.npv)), ("f1", f(m.f1)), ("accuracy", f(m.accuracy)),
            ("selection_rate", f(m.selectionRate)),
        ] + (result.demographicParityDifference.map { [("demographic_parity_difference", f($0))] } ?? [])
          + (result.equalizedOddsDifference.map { [("equalized_odds_difference", f($0))] } ?? [])
        for (key, value) in lines { printSafe(key.padding(toLength: 32, withPad: " ", startingAt: 0) + value) }
        if m.smallSample { print("warning: n < 30; intervals and calibration are unreliable") }
    }
}
