import CDCMTKNet
import Foundation

/// The SCU side of DIMSE towards one peer: C-ECHO, C-STORE of files, study-level C-FIND and
/// C-MOVE. Each call opens one association (bounded by `timeoutSeconds` at every wait), does its
/// work and releases it; failures throw a `NetworkError` naming the peer.
public struct DimseClient: Sendable {
    public var peer: DicomPeer
    /// Our calling AE title.
    public var aeTitle: String
    public var timeoutSeconds = 30

    public init(peer: DicomPeer, aeTitle: String) throws {
        try DicomPeer.checkAETitle(aeTitle, in: aeTitle)
        self.peer = peer
        self.aeTitle = aeTitle
    }

    private func withPeer<R>(_ body: (inout dx_peer) -> R) -> R {
        aeTitle.withCString { ours in
            peer.aeTitle.withCString { theirs in
                peer.host.withCString { host in
                    var p = dx_peer(our_ae: ours, peer_ae: theirs, host: host, port: Int32(peer.port),
                                    timeout_seconds: Int32(timeoutSeconds))
                    return body(&p)
                }
            }
        }
    }

    /// C-ECHO: throws when the peer cannot be reached or does not answer success.
    public func echo() throws {
        var err = [CChar](repeating: 0, count: 512)
        let ok = withPeer { dx_echo(&$0, &err, err.count) }
        if ok == 0 { throw NetworkError(file: peer.description, reason: String(cString: err)) }
    }

    /// C-STORE of each file, proposing its own transfer syntax with Explicit/Implicit VR Little
    /// Endian as fallback (converted by DCMTK when the peer takes only those). One outcome per file,
    /// in order; throws only when the peer could not be reached at all.
    public func send(_ paths: [String]) throws -> [SendOutcome] {
        guard !paths.isEmpty else { return [] }
        var results = [dx_send_result](repeating: dx_send_result(), count: paths.count)
        var err = [CChar](repeating: 0, count: 512)
        let ok = withCStrings(paths) { list in
            withPeer { dx_send_files(&$0, list, Int32(paths.count), &results, &err, err.count) }
        }
        if ok == 0 { throw NetworkError(file: peer.description, reason: String(cString: err)) }
        return zip(paths, results.indices).map { path, i in
            SendOutcome(path: path, sopInstanceUID: string(&results[i].sop_instance_uid), sent: results[i].sent == 1,
                        status: Int(results[i].status), transferSyntax: string(&results[i].transfer_syntax),
                        message: string(&results[i].message))
        }
    }

    /// Study-level C-FIND (Study Root).
    public func findStudies(_ query: StudyQuery) throws -> [StudyMatch] {
        var err = [CChar](repeating: 0, count: 512)
        var rows: UnsafeMutablePointer<CChar>?
        let count = withCStrings([query.patientID ?? "", query.studyDate ?? "", query.modality ?? "",
                                  query.studyInstanceUID ?? "", query.accessionNumber ?? ""]) { s in
            withPeer { p in
                var q = dx_study_query(patient_id: s![0], study_date: s![1], modality: s![2], study_instance_uid: s![3],
                                       accession_number: s![4])
                return dx_find_studies(&p, &q, &rows, &err, err.count)
            }
        }
        defer { dx_net_free(rows) }
        guard count >= 0, let rows else { throw NetworkError(file: peer.description, reason: String(cString: err)) }
        return String(cString: rows).split(separator: "\n").map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func field(_ i: Int) -> String? { i < f.count && !f[i].isEmpty ? f[i] : nil }
            return StudyMatch(studyInstanceUID: field(0) ?? "", studyDate: field(1), studyTime: field(2),
                              accessionNumber: field(3), patientID: field(4),
                              modalities: field(5)?.split(separator: "\\").map(String.init) ?? [],
                              studyDescription: field(6), series: field(7).flatMap { Int($0) },
                              instances: field(8).flatMap { Int($0) })
        }.filter { !$0.studyInstanceUID.isEmpty }
    }

    /// Study-level C-MOVE of one study to `destination` (an AE title the peer knows). Returns the
    /// sub-operation counts; throws when the move failed as a whole.
    public func moveStudy(_ studyInstanceUID: String, to destination: String) throws -> MoveOutcome {
        var err = [CChar](repeating: 0, count: 512)
        var completed: Int32 = 0, failed: Int32 = 0, warning: Int32 = 0
        let ok = studyInstanceUID.withCString { uid in
            destination.withCString { dest in
                withPeer { dx_move_study(&$0, uid, dest, &completed, &failed, &warning, &err, err.count) }
            }
        }
        if ok == 0 { throw NetworkError(file: peer.description, reason: String(cString: err)) }
        return MoveOutcome(completed: Int(completed), failed: Int(failed), warning: Int(warning))
    }
}

/// What happened to one file sent by C-STORE (or STOW-RS).
public struct SendOutcome: Sendable, Codable {
    public var path: String
    public var sopInstanceUID: String
    public var sent: Bool
    /// The DIMSE status (or HTTP status for STOW-RS) the peer answered; 0 when none.
    public var status: Int
    public var transferSyntax: String
    /// Why it was not sent, or the peer's warning.
    public var message: String
}

/// Sub-operation counts of a C-MOVE.
public struct MoveOutcome: Sendable {
    public var completed: Int
    public var failed: Int
    public var warning: Int
}
