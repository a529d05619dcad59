import Foundation
import XCTest

/// `dxkit train --unfreeze K` as a user runs it: a fine-tuned Xception head that `score` uses at
/// once, and refusals that say what is wrong.
final class TrainCLITests: XCTestCase {
    func testUnfreezeTrainsScoresAndRefusesWhatItCannotDo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-train-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: models.appendingPathComponent("xception-pneumonia").path,
                                                   withDestinationPath: CLI.repo.appendingPathComponent("models/xception-pneumonia").path)
        let chest = CLI.repo.appendingPathComponent("studies/chest").path
        var csv = "path,label\n"
        for name in try FileManager.default.contentsOfDirectory(atPath: chest).sorted() {
            csv += "\(chest)/\(name),\(name.hasPrefix("NORMAL") ? "NORMAL" : "PNEUMONIA")\n"
        }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", chest, "--db", db]).status, 0)
        let common = ["train", "--db", db, "--labels", labels, "--head", "tuned", "--backbone", "xception",
                      "--classes", "NORMAL,PNEUMONIA", "--models-dir", models.path, "--out", models.appendingPathComponent("tuned").path,
                      "--cache-dir", dir.appendingPathComponent("features").path]

        let prototype = try CLI.run(common + ["--head-type", "prototype", "--unfreeze", "1"])
        XCTAssertNotEqual(prototype.status, 0)
        XCTAssertTrue(prototype.stderr.contains("prototype heads are not trained by gradient"), prototype.stderr)
        let tooMany = try CLI.run(common + ["--unfreeze", "40"])
        XCTAssertNotEqual(tooMany.status, 0)
        XCTAssertTrue(tooMany.stderr.contains("cannot unfreeze 40 blocks"), tooMany.stderr)

        let trained = try CLI.run(common + ["--unfreeze", "2", "--epochs", "3", "--batch", "8"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("last 2 blocks retrained"), trained.stdout)
        XCTAssertTrue(trained.stderr.contains("epoch   3"), "progress per epoch")
        let scored = try CLI.run(["score", "--db", db, "--heads", "tuned", "--models-dir", models.path])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        XCTAssertTrue(scored.stdout.contains("16 scored"), scored.stdout)
    }

    /// `--cv patients` as a user runs it: the pooled AUROC with its bootstrap interval on the
    /// terminal and on the card, every epoch's training and validation numbers, and refusals.
    func testCrossValidationReportsPooledAUROCOnTheCard() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-train-cv-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: models.appendingPathComponent("mobilenet-v2").path,
                                                   withDestinationPath: CLI.repo.appendingPathComponent("models/mobilenet-v2").path)
        let chest = CLI.repo.appendingPathComponent("studies/chest").path
        var csv = "path,label,patient\n"
        for name in try FileManager.default.contentsOfDirectory(atPath: chest).sorted() {
            let patient = name.hasPrefix("NORMAL") ? String(name.dropFirst(8).dropLast(9)) : String(name.split(separator: "_")[0])
            csv += "\(chest)/\(name),\(name.hasPrefix("NORMAL") ? "NORMAL" : "PNEUMONIA"),\(patient)\n"
        }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", chest, "--db", db]).status, 0)
        let common = ["train", "--db", db, "--labels", labels, "--head", "cv", "--backbone", "mobilenet-v2",
                      "--classes", "NORMAL,PNEUMONIA", "--models-dir", models.path, "--out", models.appendingPathComponent("cv").path,
                      "--cache-dir", dir.appendingPathComponent("features").path, "--seed", "3"]
        let both = try CLI.run(common + ["--cv", "patients", "--search", "random"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("run them one at a time"), both.stderr)
        XCTAssertNotEqual(try CLI.run(common + ["--cv", "1"]).status, 0, "one fold is no cross-validation")

        let run = try CLI.run(common + ["--cv", "patients", "--epochs", "40", "--lr", "3e-3"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("cross-validation (leave-one-patient-out, 15 folds, 16 of 16 images predicted): AUROC"), run.stderr)
        XCTAssertTrue(run.stdout.contains("cross-validated (leave-one-patient-out) AUROC"), run.stdout)
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: models.appendingPathComponent("cv/model.json"))) as! [String: Any]
        let cv = try XCTUnwrap((card["training"] as? [String: Any])?["cross_validation"] as? [String: Any])
        let metrics = try XCTUnwrap(card["metrics"] as? [String: Any])
        XCTAssertEqual(metrics["cross_validated_auroc"] as? Double, cv["auroc"] as? Double)
        XCTAssertTrue((metrics["cross_validation"] as? String)?.hasPrefix("leave-one-patient-out, 15 folds, 16 images") ?? false)
        XCTAssertEqual((cv["out_of_fold_probabilities"] as? [Double])?.count, 16)
        XCTAssertEqual(cv["folds"] as? Int, 15)
        let auroc = try XCTUnwrap(cv["auroc"] as? Double), ci = try XCTUnwrap(cv["auroc_95ci"] as? [Double])
        XCTAssertTrue(ci[0] <= auroc && auroc <= ci[1], "\(auroc) in \(ci)")
        XCTAssertGreaterThan(auroc, 0.7, "MobileNetV2 separates these images (scikit-learn: 0.875)")
        let scored = try CLI.run(["score", "--db", db, "--heads", "cv", "--models-dir", models.path])
        XCTAssertEqual(scored.status, 0, "the card loads and scores: \(scored.stderr)")
        XCTAssertTrue(scored.stdout.contains("16 scored"), scored.stdout)

        // With a validation split: per-epoch training and validation numbers on the terminal.
        let split = try CLI.run(common + ["--epochs", "5", "--out", models.appendingPathComponent("split").path])
        XCTAssertEqual(split.status, 0, split.stderr)
        XCTAssertTrue(split.stderr.contains("train AUROC") && split.stderr.contains("validation loss"), split.stderr)
        let splitCard = try JSONSerialization.jsonObject(with: Data(contentsOf: models.appendingPathComponent("split/model.json"))) as! [String: Any]
        let training = try XCTUnwrap(splitCard["training"] as? [String: Any])
        XCTAssertNotNil(training["overfitting_reasons"] as? [String])
        XCTAssertEqual((training["overfitting_reasons"] as? [String])?.isEmpty, !(training["overfitting"] as! Bool))
    }
}
