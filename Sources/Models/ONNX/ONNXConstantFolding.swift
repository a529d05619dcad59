import Foundation

/// Operations on constants, evaluated at import time: what exporters emit to compute shapes and
/// paddings (Shape → Gather → Unsqueeze → Concat → Reshape; ConstantOfShape, Slice, Transpose,
/// Cast). A computed map's `Shape` is known too (its batch as `ONNXConstant.batch`).
extension ONNXLowering {
    /// Evaluates `node` when it is a Constant or all its inputs are constants; false otherwise.
    mutating func foldConstant(_ node: NodeContext) throws -> Bool {
        let op = node.proto.opType
        if op == "Constant" { constants[node.output] = try constantAttribute(node); return true }
        if op == "Shape", let shape = shapes[resolve(node.input(0))] {
            var dims = shape.map { $0 < 0 ? ONNXConstant.batch : Int64($0) }
            let start = try node.int("start", 0), end = try node.int("end", dims.count)
            let r = dims.count
            let lo = max(0, min(r, start < 0 ? start + r : start)), hi = max(lo, min(r, end < 0 ? end + r : end))
            dims = Array(dims[lo..<hi])
            constants[node.output] = ONNXConstant(ints: dims)
            return true
        }
        let inputs = node.proto.input.filter { !$0.isEmpty }
        guard !inputs.isEmpty, inputs.allSatisfy({ constants[resolve($0)] != nil }) else { return false }
        let c = node.proto.input.map { $0.isEmpty ? nil : constants[resolve($0)] }
        let x = c[0]!
        let result: ONNXConstant
        switch op {
        case "Identity", "Dropout": result = x
        case "Cast":
            let to = try node.int("to", 1)
            switch to {
            case 1: result = ONNXConstant(dims: x.dims, values: .float(x.floats))
            case 6, 7: result = ONNXConstant(dims: x.dims, values: .int(x.ints))
            default: throw node.fail("Cast to type \(to) is not supported")
            }
        case "Shape": result = ONNXConstant(ints: x.dims.map { Int64($0) })
        case "ConstantOfShape":
            let dims = x.ints
            let n = try count(dims.map { Int($0) }, node)
            let fill = try node.attribute("value").map { try ONNXConstant($0.t, file: file, what: "node \(node.label) value") }
            if let fill, !fill.isFloat { result = ONNXConstant(dims: dims.map { Int($0) }, values: .int(Array(repeating: fill.ints.first ?? 0, count: n))) }
            else { result = ONNXConstant(dims: dims.map { Int($0) }, values: .float(Array(repeating: fill?.floats.first ?? 0, count: n))) }
        case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
            result = ONNXConstant(dims: try reshapedDims(node, x, c), values: x.values)
        case "Gather":
            guard x.dims.count == 1, (try node.int("axis", 0)) == 0, let idx = c[1] else { throw node.fail("only gathering from a 1-D constant is supported") }
            let picks = try idx.ints.map { i -> Int in
                let j = i < 0 ? Int(i) + x.count : Int(i)
                guard j >= 0, j < x.count else { throw node.fail("index \(i) out of range") }
                return j
            }
            result = x.taking(picks, dims: idx.dims)
        case "Concat":
            guard c.allSatisfy({ ($0?.dims.count ?? 1) == 1 }) else { throw node.fail("only concatenating 1-D constants is supported") }
            let all = c.compactMap { $0 }
            if all.allSatisfy(\.isFloat) { result = ONNXConstant(dims: [all.map(\.count).reduce(0, +)], values: .float(all.flatMap(\.floats))) }
            else { result = ONNXConstant(ints: all.flatMap(\.ints)) }
        case "Slice": result = try slice(node, x, c)
        case "Transpose":
            let perm = try node.ints("perm") ?? Array((0..<x.dims.count).reversed())
            result = try transpose(node, x, perm)
        case "Add", "Sub", "Mul", "Div":
            guard let y = c.count > 1 ? c[1] : nil else { throw node.fail("takes two inputs") }
            result = try arithmetic(node, op, x, y)
        default:
            throw node.fail("operation \(op) on constants is not supported by dxkit's import")
        }
        guard result.count <= ONNXConstant.maxElements else { throw node.fail("result too large") }
        constants[node.output] = result
        return true
    }

    func constantAttribute(_ node: NodeContext) throws -> ONNXConstant {
        if let a = node.attribute("value") { return try ONNXConstant(a.t, file: file, what: "node \(node.label) value") }
        if let a = node.attribute("value_float") { return ONNXConstant(dims: [], values: .float([a.f])) }
        if let a = node.attribute("value_floats") { return ONNXConstant(dims: [a.floats.count], values: .float(a.floats)) }
        if let a = node.attribute("value_int") { return ONNXConstant(ints: [a.i], dims: []) }
        if let a = node.attribute("value_ints") { return ONNXConstant(ints: a.ints) }
        throw node.fail("a Constant without a supported value attribute")
    }

    func count(_ dims: [Int], _ node: NodeContext) throws -> Int {
        var n = 1
        for d in dims {
            guard d >= 0 else { throw node.fail("negative dim in \(dims)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= ONNXConstant.maxElements else { throw node.fail("\(dims) is too large") }
            n = p
        }
        return n
    }

    func reshapedDims(_ node: NodeContext, _ x: ONNXConstant, _ c: [ONNXConstant?]) throws -> [Int] {
        let rank = x.dims.count
        switch node.proto.opType {
        case "Flatten":
            var axis = try node.int("axis", 1)
            if axis < 0 { axis += rank }
            guard axis >= 0, axis <= rank else { throw node.fail("axis out of range") }
            guard let a = ONNXConstant.product(x.dims.prefix(axis)), let b = ONNXConstant.product(x.dims.dropFirst(axis)) else {
                throw node.fail("\(x.dims) is too large")
            }
            return [a, b]
        case "Reshape":
            guard let spec = c.count > 1 ? c[1]?.ints : nil, spec.count <= 8 else { throw node.fail("no shape") }
            var dims = try spec.enumerated().map { i, d -> Int in
                if d == 0 { guard i < rank else { throw node.fail("bad shape") }; return x.dims[i] }
                guard d == -1 || (d > 0 && d <= Int64(ONNXConstant.maxElements)) else { throw node.fail("shape \(spec) is not supported") }
                return Int(d)
            }
            if let i = dims.firstIndex(of: -1) {
                guard let known = ONNXConstant.product(dims.filter { $0 != -1 }), known > 0, x.count % known == 0 else { throw node.fail("shape \(spec) does not fit \(x.count) values") }
                dims[i] = x.count / known
            }
            guard ONNXConstant.product(dims) == x.count else { throw node.fail("shape \(spec) does not fit \(x.count) values") }
            return dims
        default:
            let axes = try (c.count > 1 ? c[1]?.ints.map(Int.init) : nil) ?? node.ints("axes") ?? []
            if node.proto.opType == "Squeeze" {
                let drop = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
                return x.dims.enumerated().filter { axes.isEmpty ? $0.element != 1 : !drop.contains($0.offset) }.map(\.element)
            }
            let out = rank + axes.count
            let add = Set(axes.map { $0 < 0 ? $0 + out : $0 })
            guard add.allSatisfy({ $0 >= 0 && $0 < out }) else { throw node.fail("axes out of range") }
            var rest = x.dims.makeIterator()
            return (0..<out).map { add.contains($0) ? 1 : (rest.next() ?? 1) }
        }
    }

    /// Flat indices of the elements picked by `perAxis` (row-major over `dims`).
    func indices(_ dims: [Int], _ perAxis: [[Int]]) -> [Int] {
        var out = [0]
        for (a, picks) in perAxis.enumerated() {
            out = out.flatMap { base in picks.map { base * dims[a] + $0 } }
        }
        return out
    }

    func slice(_ node: NodeContext, _ x: ONNXConstant, _ c: [ONNXConstant?]) throws -> ONNXConstant {
        guard c.count >= 3, let starts = c[1]?.ints, let ends = c[2]?.ints, starts.count == ends.count else { throw node.fail("bad slice") }
        let rank = x.dims.count
        let axes = (c.count > 3 ? c[3]?.ints : nil) ?? (0..<Int64(starts.count)).map { $0 }
        let steps = (c.count > 4 ? c[4]?.ints : nil) ?? Array(repeating: 1, count: starts.count)
        guard axes.count == starts.count, steps.count == starts.count else { throw node.fail("bad slice") }
        var perAxis = x.dims.map { Array(0..<$0) }
        for (i, axis) in axes.enumerated() {
            let a = Int(axis < 0 ? axis + Int64(rank) : axis)
            guard a >= 0, a < rank, steps[i] != 0 else { throw node.fail("bad slice axis or step") }
            let d = Int64(x.dims[a]), step = steps[i]
            func clamp(_ v: Int64, _ lo: Int64, _ hi: Int64) -> Int64 { max(lo, min(hi, v)) }
            var s = starts[i] < 0 ? starts[i] + d : starts[i], e = ends[i] < 0 ? ends[i] + d : ends[i]
            if step > 0 { s = clamp(s, 0, d); e = clamp(e, 0, d) } else { s = clamp(s, 0, d - 1); e = clamp(e, -1, d - 1) }
            var picks: [Int] = []
            var j = s
            while step > 0 ? j < e : j > e {
                picks.append(Int(j))
                let (next, overflow) = j.addingReportingOverflow(step)
                if overflow || picks.count > x.dims[a] { break }
                j = next
            }
            perAxis[a] = picks
        }
        return x.taking(indices(x.dims, perAxis), dims: perAxis.map(\.count))
    }

    func transpose(_ node: NodeContext, _ x: ONNXConstant, _ perm: [Int]) throws -> ONNXConstant {
        let rank = x.dims.count
        guard perm.sorted() == Array(0..<rank) else { throw node.fail("bad permutation \(perm)") }
        let outDims = perm.map { x.dims[$0] }
        var strides = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * x.dims[a + 1] }
        var picks: [Int] = [0]
        for a in 0..<rank { picks = picks.flatMap { base in (0..<outDims[a]).map { base + $0 * strides[perm[a]] } } }
        return x.taking(picks, dims: outDims)
    }

    func arithmetic(_ node: NodeContext, _ op: String, _ x: ONNXConstant, _ y: ONNXConstant) throws -> ONNXConstant {
        guard x.count == y.count || x.count == 1 || y.count == 1 else { throw node.fail("constant broadcast of \(x.dims) and \(y.dims) is not supported") }
        let n = max(x.count, y.count)
        let dims = x.count >= y.count ? x.dims : y.dims
        if x.isFloat || y.isFloat {
            let a = x.floats, b = y.floats
            return ONNXConstant(dims: dims, values: .float((0..<n).map { i in
                let (p, q) = (a[x.count == 1 ? 0 : i], b[y.count == 1 ? 0 : i])
                switch op { case "Add": return p + q; case "Sub": return p - q; case "Mul": return p * q; default: return p / q }
            }))
        }
        let a = x.ints, b = y.ints
        guard !a.contains(ONNXConstant.batch), !b.contains(ONNXConstant.batch) else {
            throw node.fail("arithmetic on the batch size is not supported")
        }
        return ONNXConstant(dims: dims, values: .int(try (0..<n).map { i in
            let (p, q) = (a[x.count == 1 ? 0 : i], b[y.count == 1 ? 0 : i])
            switch op {
            case "Add": return p &+ q
            case "Sub": return p &- q
            case "Mul": return p &* q
            default:
                guard q != 0, !(p == .min && q == -1) else { throw node.fail("division by zero or overflow") }
                return p / q
            }
        }))
    }
}
