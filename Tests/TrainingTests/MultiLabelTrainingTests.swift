import Foundation
import GRDB
import Models
import Pipeline
@testable import Store
@testable import Training
import XCTest

/// `dxkit train --multilabel`: the masked binary cross-entropy's gradient, a two-finding head on
/// the 16 chest X-rays that `score` reads per finding (probabilities recomputed from the stored
/// tensors), and refusals of bad labels and unsupported options.
final class MultiLabelTrainingTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var dir: URL!

    func path(_ relative: String) -> String { Self.repo.appendingPathComponent(relative).path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: path("models/mobilenet-v2/model.json")) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no setup")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-mltrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    static var binary: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("dxkit")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return repo.appendingPathComponent(".build/debug/dxkit").path
    }

    func dxkit(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(["DXKIT_MODELS": path("models")]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func chest() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path("studies/chest")).sorted().map { path("studies/chest/\($0)") }
    }

    /// Pneumonia from the file names; Opacity the same, but unlabelled on every fourth image.
    func labels() throws -> String {
        var csv = "path,finding,label\n"
        for (i, file) in try chest().enumerated() {
            let y = URL(fileURLWithPath: file).lastPathComponent.hasPrefix("NORMAL") ? 0 : 1
            csv += "\(file),Pneumonia,\(y)\n"
            if i % 4 != 1 { csv += "\(file),Opacity,\(y == 1 ? "present" : "absent")\n" }
        }
        return csv
    }

    func write(_ text: String, _ name: String) throws -> String {
        let file = dir.appendingPathComponent(name).path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func testMaskedBinaryCrossEntropyGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 5)
        let dim = 6, outputs = 3
        var head = HeadModel(kind: .linear, inputs: dim, classes: outputs, mean: (0..<dim).map { _ in rng.normal() * 0.1 },
                             scale: (0..<dim).map { _ in 1 + rng.unit() }, seed: 1)
        head.parameters = head.parameters.map { $0.map { _ in rng.normal() * 0.5 } }
        let xs = (0..<5).map { _ in (0..<dim).map { _ in rng.normal() } }
        let targets: [[Float?]] = [[1, 0, nil], [0, nil, 1], [nil, nil, nil], [1, 1, 0], [0, 0, nil]]
        let (loss, grads) = MultiLabelLoss.lossAndGradient(head, xs, targets)
        func value(_ h: HeadModel) -> Float { MultiLabelLoss.loss(xs.map(h.logits), targets) }
        XCTAssertEqual(loss, value(head), accuracy: 1e-5)
        var worst: Float = 0
        for t in head.parameters.indices {
            for i in head.parameters[t].indices {
                let h: Float = 1e-2
                var plus = head, minus = head
                plus.parameters[t][i] += h
                minus.parameters[t][i] -= h
                worst = max(worst, abs((value(plus) - value(minus)) / (2 * h) - grads[t][i]))
            }
        }
        XCTAssertLessThan(worst, 1e-3, "analytic vs numeric gradient")
        // A masked target contributes nothing: changing what it would have been changes nothing.
        var flipped = targets
        flipped[2] = [nil, nil, nil]
        flipped[0][2] = nil
        XCTAssertEqual(MultiLabelLoss.lossAndGradient(head, xs, flipped).grads, grads)
        XCTAssertEqual(MultiLabelLoss.lossAndGradient(head, [xs[2]], [targets[2]]).grads.flatMap { $0 }.allSatisfy { $0 == 0 }, true)
    }

    func testTrainsTwoFindingsThatScoreReadsPerFinding() throws {
        let db = dir.appendingPathComponent("x.sqlite").path, out = dir.appendingPathComponent("heads/chestml").path
        XCTAssertEqual(try dxkit(["ingest", path("studies/chest"), "--db", db]).status, 0)
        let labels = try write(try labels(), "labels.csv")
        let trained = try dxkit(["train", "--multilabel", "--db", db, "--labels", labels, "--head", "chestml", "--backbone", "mobilenet-v2",
                                 "--out", out, "--validation", "none", "--epochs", "200", "--lr", "1e-2", "--threshold", "0.4",
                                 "--cache-dir", dir.appendingPathComponent("features").path])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("Pneumonia: training loss") && trained.stderr.contains("Opacity: training loss"), trained.stderr)

        let cardURL = URL(fileURLWithPath: "\(out)/model.json")
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: cardURL)) as! [String: Any]
        XCTAssertEqual(card["output"] as? String, "sigmoid")
        XCTAssertEqual(card["classes"] as? [String], ["Pneumonia", "Opacity"])
        let scoring = try XCTUnwrap(card["scoring"] as? [String: Any])
        XCTAssertNil(scoring["positive_class"]); XCTAssertNil(scoring["threshold"])
        let findings = try XCTUnwrap(scoring["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.map { $0["name"] as? String }, ["Pneumonia", "Opacity"])
        XCTAssertEqual(findings.map { $0["threshold"] as? Double }, [0.4, 0.4])
        XCTAssertTrue(findings.allSatisfy { $0["code"] == nil })
        XCTAssertNotNil((scoring["routing"] as? [String: Any])?["accept_any"])
        let metrics = try XCTUnwrap(card["metrics"] as? [String: Any])
        XCTAssertNotNil(metrics["train_loss_Pneumonia"] as? Double); XCTAssertNotNil(metrics["train_loss_Opacity"] as? Double)
        let loaded = try ModelCard.load(cardURL.path)
        XCTAssertEqual(try loaded.findingRules(file: cardURL.path).map(\.name), ["Pneumonia", "Opacity"])

        let scored = try dxkit(["score", "--db", db, "--heads", "chestml", "--models-dir", dir.appendingPathComponent("heads").path])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        let index = try IndexDatabase(path: db)
        let rows = try index.queue.read {
            try Row.fetchAll($0, sql: """
                SELECT i.path AS path, r.finding AS finding, r.probability AS p, r.decision AS decision, r.threshold AS threshold
                FROM results r JOIN instances i ON i.id = r.instance_ref WHERE r.head = 'chestml' AND r.status = 'scored'
                """)
        }
        XCTAssertEqual(rows.count, 32, "one row per finding per image")
        var probability: [String: [String: Double]] = [:]
        for row in rows {
            probability[row["path"] as String, default: [:]][row["finding"] as String] = row["p"] as Double
            XCTAssertEqual(row["threshold"] as Double, 0.4)
            XCTAssertEqual(row["decision"] as String, (row["p"] as Double) >= 0.4 ? "present" : "absent")
        }
        XCTAssertEqual(probability.count, 16)

        // Probabilities = sigmoid(W · standardised pooled features + b) from the stored tensors,
        // the features computed afresh (no shared cache).
        let head = try SafeTensors(path: "\(out)/head.safetensors")
        let w = try head.tensor("dense1.weight"), b = try head.tensor("dense1.bias")
        let mean = try head.tensor("input_mean"), scale = try head.tensor("input_scale")
        let backbone = try Classifier(directory: path("models/mobilenet-v2"))
        let found = try index.instances(matching: try chest(), column: "path")
        let examples = try chest().map { file -> Cohort.Example in
            let i = found[file]![0]
            return Cohort.Example(instance: TrainingImage(instanceID: i.instanceID, path: i.path, sopInstanceUID: i.sopInstanceUID,
                                                          studyInstanceUID: i.studyInstanceUID, patient: i.patient, sha256: i.sha256),
                                  label: 0, split: .train)
        }
        let features = try FeatureExtractor(backbone: backbone, cacheDirectory: dir.appendingPathComponent("fresh").path,
                                            augmentation: Augmentation(), mask: nil).embeddings(examples).map { $0[0] }
        var worst = 0.0, scores: [Double] = [], truth: [Int] = []
        for (file, x) in zip(try chest(), features) {
            for (k, name) in ["Pneumonia", "Opacity"].enumerated() {
                var z = Double(b[k])
                for c in x.indices { z += Double(w[k * x.count + c]) * Double((x[c] - mean[c]) * scale[c]) }
                let expected = 1 / (1 + exp(-z))
                worst = max(worst, abs(expected - probability[file]![name]!))
                if k == 0 { scores.append(probability[file]![name]!); truth.append(file.contains("NORMAL") ? 0 : 1) }
            }
        }
        XCTAssertLessThan(worst, 1e-5, "score's probabilities are the stored head's sigmoid outputs")
        let auroc = try XCTUnwrap(Self.pairwiseAUROC(scores, truth))
        XCTAssertGreaterThan(auroc, 0.9, "training-set AUROC for Pneumonia")

        // With a patient split: per-finding validation AUROC (or its absence) on the card.
        var options = TrainingRun.Options()
        options.head = "split"; options.backbone = "mobilenet-v2"; options.backboneDirectory = path("models/mobilenet-v2")
        options.output = dir.appendingPathComponent("heads/split").path
        options.cacheDirectory = dir.appendingPathComponent("features").path
        options.hyper.epochs = 20; options.hyper.seed = 3
        let split = try MultiLabelTrainJob(database: index, labels: LabelsFile(path: labels), findings: ["Pneumonia"], options: options).run { _ in }
        XCTAssertEqual(split.validationSize, 4)
        XCTAssertNotNil(split.validationAUROC[0])
        let splitCard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: split.cardPath))) as! [String: Any]
        XCTAssertEqual(splitCard["classes"] as? [String], ["Pneumonia"])
        XCTAssertNotNil((splitCard["metrics"] as? [String: Any])?["validation_auroc_Pneumonia"] as? Double)
    }

    func testRefusesBadLabelsNamingFileAndLine() throws {
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [path("studies/chest")])
        let files = try chest()
        var options = TrainingRun.Options()
        options.backboneDirectory = path("models/mobilenet-v2")
        options.output = dir.appendingPathComponent("never").path
        func refusal(_ csv: String, _ name: String) throws -> String {
            let file = try write(csv, name)
            do {
                _ = try MultiLabelTrainJob(database: db, labels: LabelsFile(path: file), findings: [], options: options).run { _ in }
                XCTFail("\(name) was accepted")
                return ""
            } catch {
                let text = "\(error)"
                XCTAssertTrue(text.contains(file), text)
                return text
            }
        }
        let noColumn = try refusal("path,label\n" + files.map { "\($0),1\n" }.joined(), "nocolumn.csv")
        XCTAssertTrue(noColumn.contains("no finding column"), noColumn)
        let onlyPositive = try refusal("path,finding,label\n" + files.map { "\($0),Pneumonia,\($0.contains("NORMAL") ? 0 : 1)\n\($0),Effusion,1\n" }.joined(),
                                       "positive.csv")
        XCTAssertTrue(onlyPositive.contains("finding Effusion has no negative label") && onlyPositive.contains("lines 3, 5,"), onlyPositive)
        let notBinary = try refusal("path,finding,label\n\(files[0]),Pneumonia,0\n\(files[1]),Pneumonia,2\n", "binary.csv")
        XCTAssertTrue(notBinary.contains("line 3: label '2' is not 0/1"), notBinary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: options.output), "nothing trained")
    }

    func testRefusesUnsupportedOptions() throws {
        let common = ["train", "--multilabel", "--db", dir.appendingPathComponent("none.sqlite").path, "--labels", "l.csv",
                      "--head", "h", "--backbone", "mobilenet-v2", "--out", dir.appendingPathComponent("h").path]
        for (extra, message) in [(["--head-type", "mlp"], "--head-type mlp is not supported"),
                                 (["--head-type", "prototype"], "--head-type prototype is not supported"),
                                 (["--unfreeze", "1"], "frozen features only"),
                                 (["--search", "random"], "does not support --search"),
                                 (["--cv", "patients"], "does not support --cv")] {
            let r = try dxkit(common + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
        let findingsAlone = try dxkit(common.filter { $0 != "--multilabel" } + ["--findings", "A"])
        XCTAssertTrue(findingsAlone.stderr.contains("--findings is for --multilabel"), findingsAlone.stderr)
    }

    /// AUROC as the share of (positive, negative) pairs ranked right, ties half.
    static func pairwiseAUROC(_ scores: [Double], _ labels: [Int]) -> Double? {
        let pos = scores.indices.filter { labels[$0] == 1 }, neg = scores.indices.filter { labels[$0] == 0 }
        guard !pos.isEmpty, !neg.isEmpty else { return nil }
        var concordant = 0.0
        for i in pos { for j in neg { concordant += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0 } }
        return concordant / Double(pos.count * neg.count)
    }
}
