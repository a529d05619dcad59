import Foundation
import GRDB
import XCTest

/// `dxkit send`, `query` and `retrieve` against a real Orthanc, by DIMSE (C-STORE, C-FIND, C-MOVE)
/// and by DICOMweb (STOW-RS, QIDO-RS, WADO-RS with basic authentication from the environment).
final class QueryRetrieveTests: XCTestCase {
    let rg1 = Tools.path("studies/rg1/RG1_UNCI.dcm")
    let rg1Study = "1.3.6.1.4.1.5962.1.2.9.20040826185059.5457"
    let chest = Tools.path("studies/chest/NORMAL2-IM-1430-0001.dcm")

    struct Match: Decodable {
        var study_instance_uid: String
        var study_date: String?
        var modalities: [String]
        var instances: Int?
    }

    func matches(_ result: Tools.Result) throws -> [Match] {
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONDecoder().decode([Match].self, from: Data(result.stdout.utf8))
    }

    /// pydicom: the two files hold equal datasets.
    func sameDataset(_ a: String, _ b: String) throws -> Bool {
        let r = try Tools.python(["-c", "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]) == pydicom.dcmread(sys.argv[2]))", a, b])
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "True"
    }

    func testDIMSESendQueryAndMove() throws {
        let movePort = Tools.freePort()
        // The PACS knows who may query (DXKIT) and where it may move studies to (DXMOVE at movePort).
        let orthanc = try Orthanc(modalities: ["DXKIT": Tools.freePort(), "DXMOVE": movePort])
        defer { orthanc.stop() }
        let dir = try Tools.temporaryFolder("dimse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sent = try Tools.dxkit(["send", rg1, chest, "--to", orthanc.peer])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        XCTAssertTrue(sent.stdout.contains("2 files: 2 sent, 0 refused"), sent.stdout)

        let all = try matches(Tools.dxkit(["query", "--from", orthanc.peer, "--modality", "CR", "--json"]))
        XCTAssertEqual(all.count, 2)
        let dated = try matches(Tools.dxkit(["query", "--from", orthanc.peer, "--date", "20040101-20041231", "--json"]))
        XCTAssertEqual(dated.map(\.study_instance_uid), [rg1Study])
        XCTAssertEqual(dated.first?.study_date, "20040826")
        XCTAssertEqual(dated.first?.modalities, ["CR"])
        XCTAssertEqual(dated.first?.instances, 1)

        let moved = try Tools.dxkit(["retrieve", "--from", orthanc.peer, "--study-uid", rg1Study, "--ae-title", "DXMOVE",
                                     "--port", String(movePort), "--db", "\(dir)/db.sqlite"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertTrue(moved.stdout.contains("1 studies: 1 instances received, 1 ingested, 0 failed"), moved.stdout)
        let files = Tools.dicomFiles(in: "\(dir)/received")
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(try sameDataset(files[0], rg1), "C-MOVE round trip changed the dataset")
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        XCTAssertEqual(try db.read { try String.fetchOne($0, sql: "SELECT study_instance_uid FROM received") }, rg1Study)
        XCTAssertEqual(try db.read { try String.fetchOne($0, sql: "SELECT peer FROM received") }, orthanc.peer)

        // A move to an AE the PACS does not know fails naming the peer and why.
        let unknown = try Tools.dxkit(["retrieve", "--from", orthanc.peer, "--study-uid", rg1Study, "--ae-title", "NOBODY",
                                       "--port", String(Tools.freePort()), "--db", "\(dir)/db2.sqlite"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains(orthanc.peer), unknown.stderr)
    }

    func testDICOMwebStowQidoWado() throws {
        let orthanc = try Orthanc(modalities: [:])
        defer { orthanc.stop() }
        let dir = try Tools.temporaryFolder("dicomweb")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mammograms = Tools.dicomFiles(in: Tools.path("studies/mammograms"))
        XCTAssertEqual(mammograms.count, 8)

        // Credentials only from the environment: none gives HTTP 401, in the URL they are refused.
        let anonymous = try Tools.dxkit(["send", rg1, "--dicomweb", orthanc.dicomweb])
        XCTAssertEqual(anonymous.status, 2)
        XCTAssertTrue(anonymous.stderr.contains("HTTP 401"), anonymous.stderr)
        let inURL = try Tools.dxkit(["query", "--dicomweb", "http://\(Orthanc.user):\(Orthanc.password)@127.0.0.1:\(orthanc.httpPort)/dicom-web"])
        XCTAssertEqual(inURL.status, 2)
        XCTAssertTrue(inURL.stderr.contains("credentials in the URL are refused"), inURL.stderr)
        XCTAssertFalse(inURL.stderr.contains(Orthanc.password))

        let stow = try Tools.dxkit(["send", rg1, Tools.path("studies/mammograms"), "--dicomweb", orthanc.dicomweb], environment: orthanc.credentials)
        XCTAssertEqual(stow.status, 0, stow.stderr)
        XCTAssertTrue(stow.stdout.contains("9 files: 9 sent, 0 refused"), stow.stdout)
        for file in mammograms + [rg1] {
            let uid = try Tools.run("dcmdump", ["+P", "0008,0018", file]).stdout.split(separator: "[")[1].split(separator: "]")[0]
            XCTAssertTrue(try orthanc.has(instance: String(uid)), "\(file) not in Orthanc after STOW-RS")
        }

        let qido = try matches(Tools.dxkit(["query", "--dicomweb", orthanc.dicomweb, "--json"], environment: orthanc.credentials))
        XCTAssertEqual(qido.count, 9, "rg1 and the 8 mammograms (one study each in CBIS-DDSM)")
        let mg = try matches(Tools.dxkit(["query", "--dicomweb", orthanc.dicomweb, "--modality", "MG", "--json"], environment: orthanc.credentials))
        XCTAssertEqual(mg.count, 8)
        XCTAssertEqual(mg.compactMap(\.instances).reduce(0, +), 8)

        let wado = try Tools.dxkit(["retrieve", "--dicomweb", orthanc.dicomweb, "--study-uid", rg1Study, "--db", "\(dir)/db.sqlite"],
                                   environment: orthanc.credentials)
        XCTAssertEqual(wado.status, 0, wado.stderr)
        let files = Tools.dicomFiles(in: "\(dir)/received")
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(try sameDataset(files[0], rg1), "WADO-RS round trip changed the dataset")
        // Retrieving by query (all MG studies) brings the 8 mammograms.
        let byQuery = try Tools.dxkit(["retrieve", "--dicomweb", orthanc.dicomweb, "--modality", "MG", "--db", "\(dir)/db.sqlite"],
                                      environment: orthanc.credentials)
        XCTAssertEqual(byQuery.status, 0, byQuery.stderr)
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        XCTAssertEqual(try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM instances WHERE modality = 'MG' AND status = 'ok'") }, 8)
    }
}
