import Foundation

/// A constant of an ONNX graph (an initializer, a Constant node, or the result of shape arithmetic
/// evaluated at import time): its dims and its values, float or integer. Integer values include
/// `batch`, a marker for the batch size (unknown until run time) that shape arithmetic passes on.
struct ONNXConstant {
    enum Values { case float([Float]), int([Int64]) }
    var dims: [Int]
    var values: Values

    /// The batch size in a shape computed from `Shape` (its dim 0 is dynamic).
    static let batch: Int64 = -(1 << 40) + 17

    var count: Int { switch values { case let .float(v): return v.count; case let .int(v): return v.count } }
    var floats: [Float] { switch values { case let .float(v): return v; case let .int(v): return v.map { Float($0) } } }
    var ints: [Int64] { switch values { case let .float(v): return v.map { $0.isFinite && abs($0) < 9e18 ? Int64($0) : 0 }; case let .int(v): return v } }
    var isFloat: Bool { if case .float = values { return true } else { return false } }

    init(dims: [Int], values: Values) { self.dims = dims; self.values = values }
    init(ints: [Int64], dims: [Int]? = nil) { self.init(dims: dims ?? [ints.count], values: .int(ints)) }

    /// The elements at `indices` (data movement: gather, slice, transpose), with `dims`.
    func taking(_ indices: [Int], dims: [Int]) -> ONNXConstant {
        switch values {
        case let .float(v): return ONNXConstant(dims: dims, values: .float(indices.map { v[$0] }))
        case let .int(v): return ONNXConstant(dims: dims, values: .int(indices.map { v[$0] }))
        }
    }

    /// Decodes `proto`, checking its sizes before allocating: no external data, raw data of exactly
    /// the size the dims say, at most `maxElements` values.
    init(_ proto: Onnx_TensorProto, file: String, what: String) throws {
        func fail(_ reason: String) -> ModelError { ModelError(file: file, reason: "\(what): \(reason)") }
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            throw fail("its data is stored outside the file (external data is not read; save the model with its weights inside)")
        }
        if proto.hasSegment { throw fail("segmented tensors are not supported") }
        var n = 1
        for d in proto.dims {
            guard d >= 0, d <= Int64(Self.maxElements) else { throw fail("dimension \(d) is out of range") }
            let (p, overflow) = n.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= Self.maxElements else { throw fail("\(proto.dims) is too large") }
            n = p
        }
        dims = proto.dims.map { Int($0) }
        let raw = proto.rawData
        switch proto.dataType {
        case 1:
            if proto.hasRawData {
                guard raw.count == n * 4 else { throw fail("raw data holds \(raw.count) bytes, its dims \(proto.dims) need \(n * 4)") }
                values = .float(raw.withUnsafeBytes { b in (0..<n).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } })
            } else {
                guard proto.floatData.count == n else { throw fail("holds \(proto.floatData.count) values, its dims \(proto.dims) need \(n)") }
                values = .float(proto.floatData)
            }
        case 7:
            if proto.hasRawData {
                guard raw.count == n * 8 else { throw fail("raw data holds \(raw.count) bytes, its dims \(proto.dims) need \(n * 8)") }
                values = .int(raw.withUnsafeBytes { b in (0..<n).map { Int64(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } })
            } else {
                guard proto.int64Data.count == n else { throw fail("holds \(proto.int64Data.count) values, its dims \(proto.dims) need \(n)") }
                values = .int(proto.int64Data)
            }
        case 6:
            if proto.hasRawData {
                guard raw.count == n * 4 else { throw fail("raw data holds \(raw.count) bytes, its dims \(proto.dims) need \(n * 4)") }
                values = .int(raw.withUnsafeBytes { b in (0..<n).map { Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) } })
            } else {
                guard proto.int32Data.count == n else { throw fail("holds \(proto.int32Data.count) values, its dims \(proto.dims) need \(n)") }
                values = .int(proto.int32Data.map { Int64($0) })
            }
        default:
            throw fail("element type \(proto.dataType) is not supported (float32, int64 and int32 are)")
        }
    }

    /// The most values one tensor may hold (256 Mi floats, 1 GiB).
    static let maxElements = 1 << 28

    /// The product of `dims`, or nil when it overflows or passes `maxElements`.
    static func product<S: Sequence>(_ dims: S) -> Int? where S.Element == Int {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else { return nil }
            n = p
        }
        return n
    }
}
