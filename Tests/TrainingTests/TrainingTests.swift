import Foundation
import GRDB
import Models
import Store
@testable import Training
import XCTest

/// Training on cohorts built from the real images: refusals, patient-level splits without leakage,
/// convergence, bit-for-bit reproducibility, and few-shot prototypes on held-out views.
final class TrainingTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var dir: URL!
    var db: IndexDatabase!

    func path(_ relative: String) -> String { Self.repo.appendingPathComponent(relative).path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: path("models/efficientnet-lite0/model.json")) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no setup")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try Ingestor(database: db, jobs: 2).run(paths: [path("studies/chest"), path("studies/mammograms")])
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The 16 chest X-rays labelled from their file names (NORMAL2-* normal, person*_bacteria_* pneumonia).
    func chestLabels(extra: String = "") throws -> LabelsFile {
        var csv = "path,label\n"
        for name in try FileManager.default.contentsOfDirectory(atPath: path("studies/chest")).sorted() {
            csv += "\(path("studies/chest/\(name)")),\(name.hasPrefix("NORMAL") ? "NORMAL" : "PNEUMONIA")\n"
        }
        let file = dir.appendingPathComponent("chest.csv").path
        try (csv + extra).write(toFile: file, atomically: true, encoding: .utf8)
        return try LabelsFile(path: file)
    }

    func options(_ out: String) -> TrainingRun.Options {
        var o = TrainingRun.Options()
        o.head = "test"
        o.classes = ["NORMAL", "PNEUMONIA"]
        o.backbone = "efficientnet-lite0"
        o.modelsDirectory = path("models")
        o.output = dir.appendingPathComponent(out).path
        o.cacheDirectory = dir.appendingPathComponent("features").path
        o.hyper.epochs = 40
        o.hyper.seed = 3
        return o
    }

    func testRefusesLabelsForNothingIngestedAndBadRows() throws {
        let labels = try chestLabels(extra: "/nowhere/missing.dcm,NORMAL\n")
        XCTAssertThrowsError(try Cohort(labels: labels, database: db, classes: ["NORMAL", "PNEUMONIA"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("line 18") && text.contains("/nowhere/missing.dcm"), text)
        }
        let bad = dir.appendingPathComponent("bad.csv").path
        try "path,label,split\nx.dcm,NORMAL,holdout\n,1,train\n".write(toFile: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelsFile(path: bad)) { error in
            XCTAssertTrue("\(error)".contains("line 2: split 'holdout'") && "\(error)".contains("line 3: empty path"), "\(error)")
        }
    }

    func testPatientSplitHasNoLeakageAndRefusesOneClassSplits() throws {
        var cohort = try Cohort(labels: try chestLabels(), database: db, classes: ["NORMAL", "PNEUMONIA"])
        cohort.splitByPatient(validation: 0.25, seed: 9)
        let train = Set(cohort.examples(.train).map(\.instance.patient)), val = Set(cohort.examples(.val).map(\.instance.patient))
        XCTAssertTrue(train.isDisjoint(with: val), "no patient in two splits")
        XCTAssertEqual(cohort.examples(.val).count, 4)
        XCTAssertEqual(Set(cohort.examples(.val).map(\.label)), [0, 1], "stratified")
        try cohort.checkSplits(requireValidation: true)
        // The mammograms by their two patients: a patient split leaves one class per split.
        var breast = try Cohort(labels: LabelsFile(path: path("scripts/breast-labels.csv")), database: db, classes: ["BENIGN", "MALIGNANT"])
        XCTAssertEqual(breast.patients.count, 2)
        breast.splitByPatient(validation: 0.5, seed: 1)
        XCTAssertThrowsError(try breast.checkSplits(requireValidation: true)) {
            XCTAssertTrue("\($0)".contains("no validation examples (2 patients)"), "\($0)")
        }
    }

    func testTrainingConvergesAndIsReproducibleBitForBit() throws {
        let labels = try chestLabels()
        let first = try TrainingRun(database: db, labels: labels, options: options("a")).run { _ in }
        _ = try TrainingRun(database: db, labels: labels, options: options("b")).run { _ in }
        let curve = first.result.curve
        XCTAssertLessThan(curve[curve.count - 1].trainLoss, curve[0].trainLoss * 0.5, "training loss falls")
        XCTAssertEqual(first.validationSize, 4)
        XCTAssertNotNil(first.validationAUROC)
        let a = try Data(contentsOf: dir.appendingPathComponent("a/head.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("b/head.safetensors"))
        XCTAssertEqual(a, b, "same seed, same weights, bit for bit")
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("a/model.json"))) as! [String: Any]
        let training = try XCTUnwrap(card["training"] as? [String: Any])
        XCTAssertEqual(training["labels_sha256"] as? String, labels.sha256)
        XCTAssertEqual((training["split_sizes"] as? [String: Int])?["validation"], 4)
        XCTAssertNotNil(training["overfitting"] as? Bool)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a/curves.png").path))
        let registered = try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM models WHERE head = 'test'") }
        XCTAssertEqual(registered, 1, "same weights register once")
    }

    func testSearchCrossValidatesByPatientAndStoresEveryTrial() throws {
        var o = options("searched")
        o.hyper.epochs = 15
        o.search = HyperparameterSearch(method: "random", trials: 3, folds: 4)
        let outcome = try TrainingRun(database: db, labels: try chestLabels(), options: o).run { _ in }
        XCTAssertEqual(outcome.trials.count, 3)
        for trial in outcome.trials { XCTAssertEqual(trial.foldLosses.count, 4, "one loss per patient fold") }
        let best = try XCTUnwrap(outcome.trials.min { $0.meanLoss < $1.meanLoss })
        XCTAssertEqual(outcome.hyper.head, best.hyper.head)
        XCTAssertEqual(outcome.hyper.learningRate, best.hyper.learningRate)
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("searched/model.json"))) as! [String: Any]
        let search = try XCTUnwrap((card["training"] as? [String: Any])?["search"] as? [String: Any])
        XCTAssertEqual((search["trials"] as? [Any])?.count, 3)
        // Folds hold whole patients.
        var cohort = try Cohort(labels: try chestLabels(), database: db, classes: ["NORMAL", "PNEUMONIA"])
        cohort.splitByPatient(validation: 0, seed: 1)
        let folds = HyperparameterSearch.patientFolds(cohort.examples, folds: 4, seed: 3)
        var foldOfPatient: [String: Int] = [:]
        for (e, f) in zip(cohort.examples, folds) {
            XCTAssertEqual(foldOfPatient[e.instance.patient] ?? f, f)
            foldOfPatient[e.instance.patient] = f
        }
    }

    func testPrototypeHeadClassifiesHeldOutViewsOfTrainingPatients() throws {
        // Few-shot: prototypes from the CC views of both patients, tested on their MLO views.
        let rows = try String(contentsOfFile: path("scripts/breast-labels.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let instances = try db.instances(matching: rows.map { String($0.split(separator: ",")[0]) }, column: "sop_instance_uid")
        var csv = "sop_instance_uid,label,patient,split\n"
        for row in rows {
            let f = row.split(separator: ",").map(String.init)
            let file = try XCTUnwrap(instances[f[0]]?.first).path
            let view = try DICOMView.of(file)
            csv += "\(f[0]),\(f[1]),\(f[2]),\(view == "CC" ? "train" : "val")\n"
        }
        let file = dir.appendingPathComponent("views.csv").path
        try csv.write(toFile: file, atomically: true, encoding: .utf8)
        var o = options("proto")
        o.classes = ["BENIGN", "MALIGNANT"]
        o.hyper.head = "prototype"
        let outcome = try TrainingRun(database: db, labels: LabelsFile(path: file), options: o).run { _ in }
        XCTAssertEqual(outcome.trainSize, 4)
        XCTAssertEqual(outcome.validationSize, 4)
        XCTAssertEqual(outcome.validationAUROC, 1.0, "every MLO view closer to its own patient's prototype")
    }
}

/// The view of a CBIS-DDSM file, from its PatientID (…_LEFT_CC).
enum DICOMView {
    static func of(_ path: String) throws -> String {
        let id = try XCTUnwrap(try DICOMFileID.patientID(path))
        return id.hasSuffix("_CC") ? "CC" : "MLO"
    }
}

import DICOM
enum DICOMFileID {
    static func patientID(_ path: String) throws -> String? { try DicomFile(path: path).string(.patientID) }
}

/// The heads' analytic gradients against central finite differences (dropout off).
final class GradientTests: XCTestCase {
    func testHeadGradientsMatchFiniteDifferences() {
        for kind in [HeadModel.Kind.linear, .mlp] {
            var rng = SplitMix64(seed: 42)
            let dim = 6, classes = 3
            var head = HeadModel(kind: kind, inputs: dim, hidden: 5, classes: classes,
                                 mean: (0..<dim).map { _ in rng.normal() * 0.1 }, scale: (0..<dim).map { _ in 1 + rng.unit() }, seed: 7)
            head.dropout = 0
            let xs = (0..<4).map { _ in (0..<dim).map { _ in rng.normal() } }
            let ys = [0, 1, 2, 1]
            let weights: [Float] = [1, 2, 0.5]
            var noise = SplitMix64(seed: 1)
            let (_, grads, inputGrads) = head.lossAndGradient(xs, ys, weights: weights, rng: &noise, inputGradients: true)
            var worst: Float = 0
            for n in xs.indices {
                for i in 0..<dim {
                    let h: Float = 1e-2
                    var plus = xs, minus = xs
                    plus[n][i] += h
                    minus[n][i] -= h
                    let numeric = (head.loss(plus, ys, weights: weights) - head.loss(minus, ys, weights: weights)) / (2 * h)
                    worst = max(worst, abs(numeric - inputGrads[n][i]))
                }
            }
            XCTAssertLessThan(worst, 2e-3, "\(kind): analytic vs numeric gradient of the inputs")
            worst = 0
            for t in head.parameters.indices {
                for i in head.parameters[t].indices {
                    let h: Float = 1e-2
                    var plus = head, minus = head
                    plus.parameters[t][i] += h
                    minus.parameters[t][i] -= h
                    let numeric = (plus.loss(xs, ys, weights: weights) - minus.loss(xs, ys, weights: weights)) / (2 * h)
                    worst = max(worst, abs(numeric - grads[t][i]))
                }
            }
            XCTAssertLessThan(worst, 2e-3, "\(kind): analytic vs numeric gradient")
        }
    }
}
