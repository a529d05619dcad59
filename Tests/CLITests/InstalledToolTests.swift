import Foundation
import XCTest

/// dxkit as installed (`make install`: PREFIX/bin/dxkit, PREFIX/share/dxkit/models), run from an
/// empty folder elsewhere: it finds its models beside itself; without them it exits 2 and says
/// where it looked; a head trained into any folder is scored with its backbone found by name.
final class InstalledToolTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent("models/breast/model.json").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no models")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-installed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("prefix/bin"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: CLI.binary, to: dir.appendingPathComponent("prefix/bin/dxkit"))
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// Runs the installed binary in the empty folder, without DXKIT_MODELS.
    func installed(_ arguments: [String]) throws -> CLI.Result {
        let p = Process()
        p.executableURL = dir.appendingPathComponent("prefix/bin/dxkit")
        p.arguments = arguments
        p.currentDirectoryURL = dir.appendingPathComponent("empty")
        var environment = ProcessInfo.processInfo.environment
        environment["DXKIT_MODELS"] = nil
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLI.Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    func testInstalledBinaryFindsItsModelsAndSaysWhereItLookedWithout() throws {
        let studies = dir.appendingPathComponent("studies")
        try FileManager.default.createDirectory(at: studies, withIntermediateDirectories: true)
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(chest[0])").path,
                                         toPath: studies.appendingPathComponent("chest.dcm").path)
        try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/mammograms/sfm-benign-0").path,
                                         toPath: studies.appendingPathComponent("mammo").path)

        // Without models: exit 2, nothing ingested as if it could score, and where it looked.
        let bare = try installed(["run", studies.path, "--out", "rep"])
        XCTAssertEqual(bare.status, 2, bare.stderr)
        XCTAssertTrue(bare.stderr.contains("share/dxkit/models (install location)"), bare.stderr)
        XCTAssertTrue(bare.stderr.contains("(./models)"), bare.stderr)
        XCTAssertTrue(try installed(["classify", studies.appendingPathComponent("chest.dcm").path]).status == 2)

        // Installed: the models beside the binary are found from any folder.
        let share = dir.appendingPathComponent("prefix/share/dxkit")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: share.appendingPathComponent("models"), withDestinationURL: CLI.repo.appendingPathComponent("models"))
        let run = try installed(["run", studies.path, "--out", "rep"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("5 candidates: 5 scored"), run.stdout)
        XCTAssertTrue(run.stdout.contains("heads: breast, pneumonia"), run.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("empty/rep/index.html").path))
        // A head that does not exist is a fatal error naming it.
        let unknown = try installed(["score", "--db", "rep/dxkit.sqlite", "--heads", "nope"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("'nope'"), unknown.stderr)
    }

    /// `train --out` takes any folder: the card names the backbone and its weights, and `score`
    /// finds them at the install location while taking the head from `--models-dir`.
    func testHeadTrainedAnywhereIsScoredWithItsBackboneFoundByName() throws {
        let share = dir.appendingPathComponent("prefix/share/dxkit")
        try FileManager.default.createDirectory(at: share, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: share.appendingPathComponent("models"), withDestinationURL: CLI.repo.appendingPathComponent("models"))
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        var labels = "path,label\n"
        for name in chest.prefix(2) + chest.suffix(2) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: input.appendingPathComponent(name).path)
            labels += "\(input.appendingPathComponent(name).path),\(name.hasPrefix("NORMAL") ? 0 : 1)\n"
        }
        try labels.write(to: dir.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try installed(["ingest", input.path, "--db", "x.sqlite"]).status, 0)
        let heads = dir.appendingPathComponent("my heads")
        let trained = try installed(["train", "--db", "x.sqlite", "--labels", dir.appendingPathComponent("labels.csv").path,
                                     "--head", "mine", "--backbone", "mobilenet-v2", "--classes", "NORMAL,PNEUMONIA",
                                     "--validation", "none", "--epochs", "3", "--out", heads.appendingPathComponent("mine").path])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let scored = try installed(["score", "--db", "x.sqlite", "--models-dir", heads.path])
        XCTAssertEqual(scored.status, 0, scored.stderr)
        XCTAssertTrue(scored.stdout.contains("4 scored") && scored.stdout.contains("(heads: mine)"), scored.stdout)
    }
}
