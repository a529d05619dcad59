import ArgumentParser
import Evaluation
import Foundation
import Models
import Reports
import Pipeline
import Store

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a calibrator and operating threshold for a head on labelled, scored studies; store them with the head.",
        discussion: "New results use them at once; `dxkit recalibrate-results` updates existing ones without re-running the network.")

    @OptionGroup var index: IndexOption
    @Option(help: "Labels CSV (key column, label; a multi-label head's also a finding column).") var labels: String
    @Option(help: "Head name.") var head: String
    @Option(help: "Calibration method.") var method = CalibrationMethod.temperature
    @Option(help: "Choose the threshold reaching this sensitivity.") var targetSensitivity: Double?
    @Flag(help: "Choose the threshold by Youden's J.") var youden = false
    @OptionGroup var models: ModelOptions
    @Option(help: "Also write the reliability diagram and numbers as HTML into this folder.") var out: String?

    @Option(help: "Multi-label heads: calibrate this finding only (default: every finding the labels file labels).")
    var finding: String?

    func run() throws {
        do {
            let installed = try InstalledHeads.load(search: models.search(), only: [head])[0]
            let job = try CalibrateJob(database: IndexDatabase(path: index.db, mustExist: true))
            let file = try LabelsFile(path: labels)
            guard installed.isMultiLabel else {
                if finding != nil { throw ValidationError("--finding is for multi-label heads; \(head) is single-label") }
                try file.checkSingleLabel(head: head)
                let rule: CalibrateJob.ThresholdRule = youden ? .youden
                    : targetSensitivity.map { .sensitivity($0) } ?? .keep(installed.card.decisionRule?.threshold ?? installed.rule.threshold)
                let o = try job.run(labels: file, head: head, modelSha256: installed.sha256,
                                    classes: installed.card.classes ?? [], method: method.rawValue, rule: rule)
                try show(o, subject: head)
                return
            }
            // A multi-label head: each finding calibrated on its own rows, stored per finding.
            let names = installed.findings.map(\.name)
            if let finding, !names.contains(finding) {
                throw ValidationError("--finding \(finding) is not one of \(head)'s findings (\(names.joined(separator: ", ")))")
            }
            var targets = finding.map { [$0] } ?? file.labelledFindings(in: names)
            if targets.isEmpty { targets = [names[0]] }  // forFinding then says what is wrong with the file
            for name in targets {
                let selected = try file.forFinding(name, head: head, findings: names)
                let cardThreshold = installed.card.scoring?.findings?.first { $0.name == name }?.threshold ?? 0.5
                let rule: CalibrateJob.ThresholdRule = youden ? .youden
                    : targetSensitivity.map { .sensitivity($0) } ?? .keep(cardThreshold)
                let o = try job.run(labels: selected, head: head, modelSha256: installed.sha256, finding: name,
                                    classes: [FindingRule.absent, FindingRule.present], method: method.rawValue, rule: rule)
                try show(o, subject: "\(head) · \(name)")
            }
        } catch {
            printError("dxkit calibrate: \(error)")
            throw ExitCode(2)
        }
    }

    func show(_ o: CalibrateJob.Outcome, subject: String) throws {
        printSafe("calibrated \(subject) (\(o.calibrator.method)) on \(o.n) labelled results; threshold \(String(format: "%.4f", o.threshold)) (\(o.thresholdRule))")
        for key in ["ece", "brier", "log_loss"] {
            print(String(format: "  %-9@ before %.4f  after %.4f", key as NSString, o.before[key]!, o.after[key]!))
        }
        print("reliability (bin: mean score → observed rate, n), before | after:")
        for (b, a) in zip(o.reliabilityBefore.bins, o.reliabilityAfter.bins) where b.count > 0 || a.count > 0 {
            func cell(_ x: CalibrationBins.Bin) -> String {
                x.count == 0 ? "—" : String(format: "%.2f → %.2f (%d)", x.meanScore!, x.meanLabel!, x.count)
            }
            print(String(format: "  [%.2f, %.2f)  ", b.lower, b.upper) + cell(b) + "  |  " + cell(a))
        }
        if let out {
            let page = try CalibrationPage.write(head: subject, method: o.calibrator.method, threshold: o.threshold, rule: o.thresholdRule,
                                                 n: o.n, before: o.before, after: o.after, reliabilityBefore: o.reliabilityBefore,
                                                 reliabilityAfter: o.reliabilityAfter, to: out)
            printSafe("reliability diagram: \(page)")
        }
    }
}

struct RecalibrateResults: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recalibrate-results",
        abstract: "Apply a head's stored calibration to its existing results (no network run).")

    @OptionGroup var index: IndexOption
    @Option(help: "Head name.") var head: String
    @OptionGroup var models: ModelOptions

    func run() throws {
        do {
            let installed = try InstalledHeads.load(search: models.search(), only: [head])[0]
            guard let (n, stored) = try Recalibration.run(database: IndexDatabase(path: index.db, mustExist: true), head: installed) else {
                printError("dxkit recalibrate-results: no calibration stored for \(head); run dxkit calibrate first")
                throw ExitCode(2)
            }
            if installed.isMultiLabel {
                // Each finding's own calibration was applied to that finding's results.
                var applied = installed
                let found = try applied.applyStoredCalibrations(ResultStore(database: IndexDatabase(path: index.db, mustExist: true)))
                let each = found.map { "\($0.finding): \($0.method), threshold \(String(format: "%.4f", $0.threshold))" }
                printSafe("recalibrated \(n) \(head) results (\(each.joined(separator: "; ")))")
            } else {
                print("recalibrated \(n) \(head) results (\(stored.method), threshold \(String(format: "%.4f", stored.threshold)))")
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("dxkit recalibrate-results: \(error)")
            throw ExitCode(2)
        }
    }
}
