import ArgumentParser
import Foundation
import Pipeline
import Store
import Training

/// `dxkit train --multilabel`: the options it refuses, and the run (see `MultiLabelTrainJob`).
extension Train {
    /// Refuses what a multi-label head does not support, before anything is read.
    func checkMultiLabelOptions() throws {
        guard multilabel else {
            if findings != nil { throw ValidationError("--findings is for --multilabel heads") }
            return
        }
        guard headType == .linear else {
            throw ValidationError("--multilabel trains a linear head (one sigmoid output per finding); --head-type \(headType.rawValue) is not supported")
        }
        guard unfreeze == 0, searchUnfreeze == nil else {
            throw ValidationError("--multilabel trains on frozen features only: --unfreeze/--search-unfreeze are not supported")
        }
        guard search == nil else { throw ValidationError("--multilabel does not support --search: give --lr and --weight-decay") }
        guard cv == nil else { throw ValidationError("--multilabel does not support --cv: use --validation for held-out AUROC per finding") }
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold takes a probability in [0, 1], not \(threshold)") }
    }

    func runMultiLabel(_ options: TrainingRun.Options) throws {
        let names = (findings ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard Set(names).count == names.count else { throw ValidationError("--findings names a finding twice: \(findings ?? "")") }
        var options = options
        do {
            options.augmentation = try Augmentation(spec: augment)
            let outcome = try MultiLabelTrainJob(database: IndexDatabase(path: index.db, mustExist: true), labels: LabelsFile(path: labels),
                                                 findings: names, options: options).run { printError($0) }
            var line = "trained \(head) (multi-label linear on \(backbone), \(outcome.trainLoss.count) findings): \(outcome.trainSize) training images, \(outcome.validationSize) validation, best epoch \(outcome.result.bestEpoch)"
            if outcome.result.overfitting {
                line += "\nOVERFITTING: training and validation diverge: " + outcome.result.overfittingReasons.joined(separator: "; ")
            }
            print(line + "\nwrote \(outcome.cardPath)")
        } catch {
            printError("dxkit train: \(error)")
            throw ExitCode(2)
        }
    }
}
