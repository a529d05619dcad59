import Foundation
import GRDB

/// An instance received over the network (C-STORE into `dxkit listen`, C-MOVE or WADO-RS into
/// `dxkit retrieve`), as the store records it.
public struct ReceivedRecord: Sendable {
    public var path: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String?
    public var peer: String
    public var transferSyntax: String?
    /// Seconds since 1970.
    public var receivedAt: Double

    public init(path: String, sopInstanceUID: String, studyInstanceUID: String, seriesInstanceUID: String?, peer: String,
                transferSyntax: String?, receivedAt: Double) {
        self.path = path; self.sopInstanceUID = sopInstanceUID; self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID; self.peer = peer; self.transferSyntax = transferSyntax
        self.receivedAt = receivedAt
    }
}

/// A DICOM object dxkit wrote for a study (its SR, or a heatmap image), with its derived UIDs.
public struct DicomOutputRecord: Sendable, Equatable {
    public enum Kind: String, Sendable { case sr, heatmap }
    public var sopInstanceUID: String
    public var sopClassUID: String
    public var seriesInstanceUID: String
    public var studyInstanceUID: String
    public var patientKey: String
    public var kind: Kind
    public var path: String

    public init(sopInstanceUID: String, sopClassUID: String, seriesInstanceUID: String, studyInstanceUID: String,
                patientKey: String, kind: Kind, path: String) {
        self.sopInstanceUID = sopInstanceUID; self.sopClassUID = sopClassUID; self.seriesInstanceUID = seriesInstanceUID
        self.studyInstanceUID = studyInstanceUID; self.patientKey = patientKey; self.kind = kind; self.path = path
    }
}

/// A study that received instances after its last report, and when the last one came.
public struct PendingStudy: Sendable, Equatable {
    public var studyInstanceUID: String
    public var lastReceivedAt: Double
}

extension IndexDatabase {
    /// Records received instances (a re-sent instance updates its row) and when each study last got one.
    public func recordReceived(_ records: [ReceivedRecord]) throws {
        guard !records.isEmpty else { return }
        try queue.write { db in
            for r in records {
                try db.execute(sql: """
                    INSERT INTO received (path, sop_instance_uid, study_instance_uid, series_instance_uid, peer, transfer_syntax, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(path) DO UPDATE SET sop_instance_uid = excluded.sop_instance_uid,
                        study_instance_uid = excluded.study_instance_uid, series_instance_uid = excluded.series_instance_uid,
                        peer = excluded.peer, transfer_syntax = excluded.transfer_syntax, received_at = excluded.received_at
                    """, arguments: [r.path, r.sopInstanceUID, r.studyInstanceUID, r.seriesInstanceUID, r.peer,
                                     r.transferSyntax, r.receivedAt])
                try db.execute(sql: """
                    INSERT INTO received_studies (study_instance_uid, last_received_at) VALUES (?, ?)
                    ON CONFLICT(study_instance_uid) DO UPDATE SET last_received_at = max(last_received_at, excluded.last_received_at)
                    """, arguments: [r.studyInstanceUID, r.receivedAt])
            }
        }
    }

    /// Instances indexed from files under `folder` that no `received` row names (stored by an SCP
    /// that was killed before recording them, or fetched by WADO-RS): recorded now as received at
    /// `at` from `peer`. Returns how many.
    @discardableResult
    public func recoverReceived(under folder: String, at: Double, peer: String = "recovered") throws -> Int {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT path, sop_instance_uid, study_instance_uid, series_instance_uid, transfer_syntax FROM instances
                WHERE substr(path, 1, length(?)) = ? AND status = 'ok' AND sop_instance_uid IS NOT NULL
                  AND study_instance_uid IS NOT NULL AND path NOT IN (SELECT path FROM received)
                """, arguments: [prefix, prefix])
        }
        try recordReceived(rows.map {
            ReceivedRecord(path: $0["path"], sopInstanceUID: $0["sop_instance_uid"], studyInstanceUID: $0["study_instance_uid"],
                           seriesInstanceUID: $0["series_instance_uid"], peer: peer, transferSyntax: $0["transfer_syntax"],
                           receivedAt: at)
        })
        return rows.count
    }

    /// Studies that received instances since they were last reported, oldest activity first.
    public func pendingStudies() throws -> [PendingStudy] {
        try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT study_instance_uid, last_received_at FROM received_studies
                WHERE reported_at IS NULL OR reported_at < last_received_at ORDER BY last_received_at, study_instance_uid
                """).map { PendingStudy(studyInstanceUID: $0["study_instance_uid"], lastReceivedAt: $0["last_received_at"]) }
        }
    }

    /// Marks studies reported as of `at` (instances received later make them pending again).
    public func markReported(_ studies: [String], at: Double) throws {
        try queue.write { db in
            for s in studies {
                try db.execute(sql: "UPDATE received_studies SET reported_at = ? WHERE study_instance_uid = ?", arguments: [at, s])
            }
        }
    }

    /// How many instances were received in all, and in how many studies.
    public func receivedCounts() throws -> (instances: Int, studies: Int) {
        try queue.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*) AS n, count(DISTINCT study_instance_uid) AS s FROM received")
            return (row?["n"] ?? 0, row?["s"] ?? 0)
        }
    }

    /// Records the DICOM objects written for a study (an object written again keeps its row).
    public func recordOutputs(_ outputs: [DicomOutputRecord]) throws {
        let now = ISO8601DateFormatter().string(from: Date())
        try queue.write { db in
            for o in outputs {
                try db.execute(sql: """
                    INSERT INTO dicom_outputs (sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid, patient_key, kind, path, written_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(sop_instance_uid) DO UPDATE SET path = excluded.path, written_at = excluded.written_at
                    """, arguments: [o.sopInstanceUID, o.sopClassUID, o.seriesInstanceUID, o.studyInstanceUID, o.patientKey,
                                     o.kind.rawValue, o.path, now])
            }
        }
    }

    /// The DICOM objects written for these studies (all studies when nil) whose file still exists,
    /// heatmaps before SRs (an SR's references then resolve as soon as it arrives).
    public func dicomOutputs(studies: [String]? = nil) throws -> [DicomOutputRecord] {
        let rows = try queue.read { db -> [Row] in
            if let studies {
                guard !studies.isEmpty else { return [] }
                let marks = Array(repeating: "?", count: studies.count).joined(separator: ",")
                return try Row.fetchAll(db, sql: "SELECT * FROM dicom_outputs WHERE study_instance_uid IN (\(marks)) ORDER BY kind, id",
                                        arguments: StatementArguments(studies))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM dicom_outputs ORDER BY kind, id")
        }
        return rows.map {
            DicomOutputRecord(sopInstanceUID: $0["sop_instance_uid"], sopClassUID: $0["sop_class_uid"],
                              seriesInstanceUID: $0["series_instance_uid"], studyInstanceUID: $0["study_instance_uid"],
                              patientKey: $0["patient_key"], kind: DicomOutputRecord.Kind(rawValue: $0["kind"]) ?? .sr,
                              path: $0["path"])
        }.filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Records that an object was sent to `destination` (or why not).
    public func recordSent(sopInstanceUID: String, destination: String, sent: Bool, reason: String?) throws {
        let now = ISO8601DateFormatter().string(from: Date())
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO sent (sop_instance_uid, destination, status, reason, sent_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(sop_instance_uid, destination) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                    sent_at = excluded.sent_at
                """, arguments: [sopInstanceUID, destination, sent ? "sent" : "failed", reason, now])
        }
    }

    /// Objects written but not (successfully) sent to `destination`.
    public func unsentOutputs(destination: String) throws -> [DicomOutputRecord] {
        let sent = try queue.read { db in
            Set(try String.fetchAll(db, sql: "SELECT sop_instance_uid FROM sent WHERE destination = ? AND status = 'sent'",
                                    arguments: [destination]))
        }
        return try dicomOutputs().filter { !sent.contains($0.sopInstanceUID) }
    }
}
