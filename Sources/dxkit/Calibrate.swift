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
    @Option(help: "Labels CSV (key column, label).") var labels: String
    @Option(help: "Head name.") var head: String
    @Option(help: "Calibration method.") var method = CalibrationMethod.temperature
    @Option(help: "Choose the threshold reaching this sensitivity.") var targetSensitivity: Double?
    @Flag(help: "Choose the threshold by Youden's J.") var youden = false
    @OptionGroup var models: ModelOptions
    @Option(help: "Also write the reliability diagram and numbers as HTML into this folder.") var out: String?

    func run() throws {
        do {
            let installed = try InstalledHeads.load(search: models.search(), only: [head])[0]
            let rule: CalibrateJob.ThresholdRule = youden ? .youden
                : targetSensitivity.map { .sensitivity($0) } ?? .keep(installed.scoring.threshold ?? installed.rule.threshold)
            let o = try CalibrateJob(database: IndexDatabase(path: index.db, mustExist: true)).run(
                labels: LabelsFile(path: labels), head: head, modelSha256: installed.sha256,
                classes: installed.card.classes ?? [], method: method.rawValue, rule: rule)
            print("calibrated \(head) (\(o.calibrator.method)) on \(o.n) labelled results; threshold \(String(format: "%.4f", o.threshold)) (\(o.thresholdRule))")
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
                let page = try CalibrationPage.write(head: head, method: o.calibrator.method, threshold: o.threshold, rule: o.thresholdRule,
                                                     n: o.n, before: o.before, after: o.after, reliabilityBefore: o.reliabilityBefore,
                                                     reliabilityAfter: o.reliabilityAfter, to: out)
                print("reliability diagram: \(page)")
            }
        } catch {
            printError("dxkit calibrate: \(error)")
            throw ExitCode(2)
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
            print("recalibrated \(n) \(head) results (\(stored.method), threshold \(String(format: "%.4f", stored.threshold)))")
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("dxkit recalibrate-results: \(error)")
            throw ExitCode(2)
        }
    }
}
