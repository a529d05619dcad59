import CDCMTKNet
import Foundation

/// A DICOM Storage and Verification SCP (DCMTK's dcmnet underneath, see `dxnet.h`): accepts
/// associations on a port, answers C-ECHO, and receives C-STORE datasets bit for bit into a
/// temporary file; a dataset becomes a file in the store — `<store>/<study>/<series>/<sop>.dcm` —
/// only once it is complete, is the instance its command announced, and is on disk (fsync'ed and
/// renamed), and only then does the peer get success. A transfer cut off (peer abort, SIGKILL,
/// shutdown) leaves at most a `*.part` file in the incoming folder, never an instance.
///
/// Each association runs on its own thread; what happens comes back as `Event`s, polled by the
/// caller (no callback runs caller code on a network thread). Every value from a peer is untrusted:
/// a bad association or dataset is one error event naming the peer, and the SCP keeps serving.
public final class StorageSCP {
    /// How the SCP is set up.
    public struct Configuration: Sendable {
        public var aeTitle: String
        public var port: Int
        public var storeDirectory: String
        public var incomingDirectory: String
        /// Callers allowed to associate; empty: anyone.
        public var allowed: [AllowedCaller] = []
        public var maxAssociations = 16
        /// Read timeout, and how long an idle association may stay open (seconds).
        public var timeoutSeconds = 30

        public init(aeTitle: String, port: Int, storeDirectory: String, incomingDirectory: String) {
            self.aeTitle = aeTitle
            self.port = port
            self.storeDirectory = storeDirectory
            self.incomingDirectory = incomingDirectory
        }
    }

    /// Something the SCP did.
    public enum Event: Sendable {
        /// An instance is stored at `path`.
        case stored(ReceivedInstance)
        /// An association opened or closed normally (peer and message).
        case info(peer: String, message: String)
        /// Something failed (a rejected AE, an abort, a refused dataset), naming the peer.
        case error(peer: String, message: String)
    }

    private let handle: OpaquePointer
    public let configuration: Configuration

    /// Starts listening. Leftover `*.part` files of an earlier run in the incoming folder are removed
    /// (they were transfers that never completed).
    public init(_ configuration: Configuration) throws {
        try DicomPeer.checkAETitle(configuration.aeTitle, in: configuration.aeTitle)
        self.configuration = configuration
        let fm = FileManager.default
        try? fm.createDirectory(atPath: configuration.incomingDirectory, withIntermediateDirectories: true)
        for name in (try? fm.contentsOfDirectory(atPath: configuration.incomingDirectory)) ?? [] where name.hasSuffix(".part") {
            try? fm.removeItem(atPath: configuration.incomingDirectory + "/" + name)
        }
        let entries = configuration.allowed.flatMap(\.entries)
        var err = [CChar](repeating: 0, count: 512)
        let started: OpaquePointer? = configuration.aeTitle.withCString { ae in
            configuration.storeDirectory.withCString { store in
                configuration.incomingDirectory.withCString { incoming in
                    withCStrings(entries) { allow in
                        var c = dx_scp_config(ae_title: ae, port: Int32(configuration.port), store_dir: store,
                                              incoming_dir: incoming, allow: allow, allow_count: Int32(entries.count),
                                              max_associations: Int32(configuration.maxAssociations),
                                              timeout_seconds: Int32(configuration.timeoutSeconds))
                        return dx_scp_start(&c, &err, err.count)
                    }
                }
            }
        }
        guard let started else {
            throw NetworkError(file: "\(configuration.aeTitle)@:\(configuration.port)", reason: String(cString: err))
        }
        handle = started
    }

    deinit {
        _ = dx_scp_stop(handle, 0)
        dx_scp_free(handle)
    }

    /// The next event, waiting up to `timeout` seconds; nil when none came.
    public func next(timeout: Double) -> Event? {
        var e = dx_scp_event()
        guard dx_scp_next_event(handle, Int32(max(0, timeout * 1000)), &e) == 1 else { return nil }
        let peer = string(&e.peer), message = string(&e.message)
        switch e.kind {
        case Int32(DX_EVENT_STORED):
            return .stored(ReceivedInstance(path: string(&e.path), sopInstanceUID: string(&e.sop_instance_uid),
                                            sopClassUID: string(&e.sop_class_uid), studyInstanceUID: string(&e.study_instance_uid),
                                            seriesInstanceUID: string(&e.series_instance_uid),
                                            transferSyntax: string(&e.transfer_syntax), peer: peer))
        case Int32(DX_EVENT_INFO): return .info(peer: peer, message: message)
        default: return .error(peer: peer, message: message)
        }
    }

    /// Stops accepting and waits up to `grace` seconds for running associations; returns how many
    /// were still running. Events already queued can still be read.
    @discardableResult
    public func stop(grace: Int) -> Int { Int(dx_scp_stop(handle, Int32(grace))) }
}

/// An instance the SCP stored: where, what, and from whom (`AE@address`).
public struct ReceivedInstance: Sendable, Equatable {
    public var path: String
    public var sopInstanceUID: String
    public var sopClassUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var transferSyntax: String
    public var peer: String
}

/// A fixed C char array (imported as a tuple) as a String.
func string<T>(_ tuple: inout T) -> String {
    withUnsafeBytes(of: &tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// Runs `body` with a C array of C strings that lives as long as the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { UnsafePointer(strdup($0)) }
    defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
    return copies.withUnsafeBufferPointer { body($0.baseAddress) }
}
