import Foundation

/// Reads a safetensors file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data. F32 tensors only.
public struct SafeTensors {
    public struct Entry: Sendable {
        public let shape: [Int]
        public let range: Range<Int>
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: Data
    private let base: Int

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(file: path, reason: "cannot read the weights file (run `make setup` to convert weights)")
        }
        guard data.count >= 8 else { throw ModelError(file: path, reason: "too short for a safetensors file") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard headerLength > 0, 8 + headerLength <= data.count,
              let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any] else {
            throw ModelError(file: path, reason: "unreadable safetensors header")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw ModelError(file: path, reason: "malformed header entry for \(name)")
            }
            guard dtype == "F32" else { throw ModelError(file: path, reason: "\(name) is \(dtype); only F32 is supported") }
            guard offsets[0] <= offsets[1], 8 + headerLength + offsets[1] <= data.count,
                  offsets[1] - offsets[0] == 4 * shape.reduce(1, *) else {
                throw ModelError(file: path, reason: "\(name): byte range does not match its shape \(shape)")
            }
            entries[name] = Entry(shape: shape, range: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.data = data
        self.base = 8 + headerLength
    }

    /// The tensor's values; throws when absent or when its shape differs from `shape` (if given).
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        guard let e = entries[name] else { throw ModelError(file: path, reason: "no tensor named \(name)") }
        if let shape, shape != e.shape {
            throw ModelError(file: path, reason: "\(name) has shape \(e.shape), expected \(shape)")
        }
        let count = e.range.count / 4
        return data.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: count) { out, n in
                let src = raw.baseAddress! + base + e.range.lowerBound
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
                n = count
            }
        }
    }

    public func shape(_ name: String) -> [Int]? { entries[name]?.shape }
}
