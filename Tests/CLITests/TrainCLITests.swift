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
}
