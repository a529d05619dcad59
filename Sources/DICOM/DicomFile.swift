import CDCMTK
import Foundation

/// One parsed DICOM file (DCMTK's dcmdata underneath). Large element values, the
/// pixel data among them, stay on disk until asked for, so opening is cheap.
/// Not thread-safe: use one `DicomFile` per thread.
public final class DicomFile {
    public let path: String
    let handle: OpaquePointer

    /// Values longer than this many bytes are read from disk only when needed.
    public static let defaultMaxReadLength: UInt32 = 4096

    /// Parses `path`. Throws a `DicomError` naming the file and DCMTK's reason.
    public init(path: String, maxReadLength: UInt32 = DicomFile.defaultMaxReadLength) throws {
        self.path = path
        try FileKind.requireRegularFile(path)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DicomError(.unreadable, file: path, reason: "permission denied")
        }
        var err = [CChar](repeating: 0, count: 512)
        guard let h = dx_open(path, maxReadLength, &err, err.count) else {
            let reason = String(cString: err)
            let kind: DicomError.Kind = DicomFile.looksLikeDicom(path) ? .parse : .notDicom
            throw DicomError(kind, file: path, reason: kind == .notDicom ? "not a DICOM file (\(reason))" : reason)
        }
        handle = h
    }

    deinit { dx_close(handle) }

    /// True when the file has the 128-byte preamble followed by "DICM".
    public static func looksLikeDicom(_ path: String) -> Bool {
        guard case .regular = FileKind.of(path), let fh = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? fh.close() }
        guard let head = try? fh.read(upToCount: 132), head.count == 132 else { return false }
        return head[128] == 0x44 && head[129] == 0x49 && head[130] == 0x43 && head[131] == 0x4D
    }

    /// UID of the transfer syntax the dataset is encoded in.
    public var transferSyntaxUID: String {
        var buf = [CChar](repeating: 0, count: 128)
        dx_transfer_syntax(handle, &buf, buf.count)
        return String(cString: buf)
    }

    /// Whether the file carries a File Meta Information header.
    public var hasMetaHeader: Bool { dx_has_meta(handle) != 0 }

    /// The element at `tag` in the top-level dataset (group 0002 in the meta header).
    public subscript(_ tag: Tag) -> DicomElement? { element([tag]) }

    /// The element at the end of a path through sequences: `tags[i]` for i < last are
    /// sequences and `items[i]` picks the item in each (0 when omitted).
    public func element(_ tags: [Tag], items: [Int] = []) -> DicomElement? {
        let keys = tags.map(\.key)
        let idx = (0..<max(tags.count - 1, 0)).map { UInt32($0 < items.count ? items[$0] : 0) }
        guard let e = keys.withUnsafeBufferPointer({ k in
            idx.withUnsafeBufferPointer { i in dx_find(handle, k.baseAddress, i.baseAddress, Int32(tags.count)) }
        }) else { return nil }
        return DicomElement(pointer: e, owner: self)
    }

    /// Number of items in the sequence at the end of the path (0 when absent).
    public func sequenceCount(_ tags: [Tag], items: [Int] = []) -> Int {
        let keys = tags.map(\.key)
        let idx = (0..<max(tags.count - 1, 0)).map { UInt32($0 < items.count ? items[$0] : 0) }
        return Int(keys.withUnsafeBufferPointer { k in
            idx.withUnsafeBufferPointer { i in dx_sequence_count(handle, k.baseAddress, i.baseAddress, Int32(tags.count)) }
        })
    }

    /// Trimmed string value, nil when absent or empty.
    public func string(_ tag: Tag) -> String? { self[tag]?.string }
    /// First numeric value when it is a finite number (NaN, infinities and unparsable text: nil).
    public func double(_ tag: Tag) -> Double? { self[tag]?.double(at: 0).flatMap { $0.isFinite ? $0 : nil } }
    /// First numeric value as an integer; nil when absent or not a number within ±2^31
    /// (values come from the file: a DS of "-1e400" must not trap).
    public func int(_ tag: Tag) -> Int? { self[tag]?.int(at: 0) }

    /// First numeric value as an integer: nil when absent; throws when present but not a
    /// whole-ish number within ±2^31 (e.g. Rows "-1e400" or "nan"), naming the attribute.
    public func checkedInt(_ tag: Tag, _ name: String) throws -> Int? {
        guard let element = self[tag], let raw = element.double(at: 0) else { return nil }
        guard let value = element.int(at: 0) else {
            throw DicomError(.parse, file: path, reason: "\(name) \(tag) holds \(raw), not a usable integer")
        }
        return value
    }

    /// Referenced File IDs of a DICOMDIR's directory records, relative to its folder.
    public var dicomdirReferencedFiles: [String] {
        let n = Int(dx_dicomdir_count(handle))
        var out: [String] = []
        var buf = [CChar](repeating: 0, count: 1024)
        for i in 0..<n where dx_dicomdir_file(handle, Int32(i), &buf, buf.count) > 0 {
            out.append(String(cString: buf))
        }
        return out
    }
}

/// A view of one element of an open `DicomFile`; valid while the file is alive.
public struct DicomElement {
    let pointer: OpaquePointer
    let owner: DicomFile

    public var vr: String { String(cString: dx_elem_vr(pointer)) }
    public var multiplicity: Int { Int(dx_elem_vm(pointer)) }
    public var length: Int { Int(dx_elem_length(pointer)) }

    /// The whole value as text (multiple values joined by `\`), trimmed of padding.
    public var string: String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = dx_elem_string(pointer, &buf, buf.count)
        if n < 0 { return nil }
        if n >= buf.count {
            buf = [CChar](repeating: 0, count: n + 1)
            _ = dx_elem_string(pointer, &buf, buf.count)
        }
        let s = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\0")))
        return s.isEmpty ? nil : s
    }

    /// Numeric value number `index` (US, SS, UL, SL, FL, FD, DS, IS and numeric text).
    public func double(at index: Int) -> Double? {
        var v = 0.0
        return dx_elem_double(pointer, UInt(index), &v) != 0 ? v : nil
    }

    /// Numeric value number `index` as an integer (rounded toward zero); nil when absent,
    /// not finite or beyond ±2^31.
    public func int(at index: Int) -> Int? {
        guard let v = double(at: index), v.isFinite, Swift.abs(v) <= 2_147_483_648 else { return nil }
        return Int(v.rounded(.towardZero))
    }

    /// All numeric values.
    public var doubles: [Double] { (0..<multiplicity).compactMap { double(at: $0) } }

    /// The value as 16-bit words (US, SS, OW).
    public var words: [UInt16]? {
        var p: UnsafePointer<UInt16>?
        var n: UInt = 0
        guard dx_elem_words(pointer, &p, &n) != 0, let p else { return nil }
        return Array(UnsafeBufferPointer(start: p, count: Int(n)))
    }

    /// The value as raw bytes (OB, OW, UN).
    public var bytes: [UInt8]? {
        var p: UnsafePointer<UInt8>?
        var n: UInt = 0
        guard dx_elem_bytes(pointer, &p, &n) != 0, let p else { return nil }
        return Array(UnsafeBufferPointer(start: p, count: Int(n)))
    }
}
