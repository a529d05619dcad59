import Engine
import Foundation

/// Pooling, padding, reshapes and the fully connected operations of an imported graph.
extension ONNXLowering {
    mutating func pool(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        guard x.count == 4 else { throw node.fail("only 2-D pooling on [N, C, H, W] maps is supported") }
        guard node.proto.output.dropFirst().allSatisfy(\.isEmpty) else { throw node.fail("pooling indices are not supported") }
        guard let kernel = try node.ints("kernel_shape"), kernel.count == 2, kernel[0] == kernel[1], kernel[0] >= 1, kernel[0] <= 64 else {
            throw node.fail("only square pooling windows (up to 64) are supported")
        }
        let strides = try node.ints("strides") ?? [1, 1]
        guard strides.count == 2, strides[0] == strides[1], strides[0] >= 1, strides[0] <= 64 else {
            throw node.fail("only equal strides (up to 64) are supported")
        }
        if let d = try node.ints("dilations"), d != [1, 1] { throw node.fail("dilated pooling is not supported") }
        if try node.int("storage_order", 0) != 0 { throw node.fail("storage_order 1 is not supported") }
        let (k, s) = (kernel[0], strides[0])
        var pads = try padding(node, input: [x[2], x[3]], kernel: kernel, strides: strides)
        let ceil = (try node.int("ceil_mode", 0)) != 0
        var extra = [0, 0]
        var out = [0, 0]
        for a in 0..<2 {
            let size = x[2 + a], before = pads[a], after = pads[2 + a]
            guard size + before + after >= k else { throw node.fail("its window is larger than the padded input") }
            var o = (size + before + after - k) / s + 1
            if ceil {
                o = (size + before + after - k + s - 1) / s + 1
                if (o - 1) * s >= size + before { o -= 1 }  // the last window must start inside the input
            }
            out[a] = o
            extra[a] = max(0, (o - 1) * s + k - (size + before + after))
        }
        let average = node.proto.opType == "AveragePool"
        var input = resolve(node.input(0))
        let includePad = try node.int("count_include_pad", 0) != 0
        if average && includePad && pads.contains(where: { $0 > 0 }) {
            // Zeros that count: padded explicitly, then an average over whole windows.
            guard extra == [0, 0] else { throw node.fail("ceil_mode with count_include_pad=1 is not supported") }
            let padded = node.output + "#padded"
            emit(GraphSpec.Node(name: node.label, op: "zero_pad", inputs: [input], output: padded, params: ["pads": pads]), [])
            shapes[padded] = [x[0], x[1], x[2] + pads[0] + pads[2], x[3] + pads[1] + pads[3]]
            input = padded
            pads = [0, 0, 0, 0]
        }
        pads[2] += extra[0]
        pads[3] += extra[1]
        emit(GraphSpec.Node(name: node.label, op: average ? "avg_pool" : "max_pool", inputs: [input], output: node.output,
                            params: ["kernel": [k], "stride": [s], "pads": pads]), [])
        shapes[node.output] = [x[0], x[1], out[0], out[1]]
    }

    mutating func pad(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        let mode = node.string("mode") ?? "constant"
        guard mode == "constant" || mode.isEmpty else { throw node.fail("only zero padding is supported, not \(mode)") }
        guard x.count == 4 else { throw node.fail("only padding [N, C, H, W] maps is supported") }
        let p = try requireConstant(node, 1, "pads").ints
        if let v = constant(node, 2), v.floats.contains(where: { $0 != 0 }) { throw node.fail("only zero padding is supported") }
        if !node.input(2).isEmpty && constant(node, 2) == nil { throw node.fail("its padding value must be a constant") }
        if !node.input(3).isEmpty { throw node.fail("the axes input is not supported") }
        guard p.count == 8, p[0] == 0, p[1] == 0, p[4] == 0, p[5] == 0, p.allSatisfy({ $0 >= 0 && $0 <= 1024 }) else {
            throw node.fail("only non-negative padding of H and W is supported (pads \(p))")
        }
        let pads = [Int(p[2]), Int(p[3]), Int(p[6]), Int(p[7])]
        emit(GraphSpec.Node(name: node.label, op: "zero_pad", inputs: [resolve(node.input(0))], output: node.output,
                            params: ["pads": pads]), [])
        shapes[node.output] = [x[0], x[1], x[2] + pads[0] + pads[2], x[3] + pads[1] + pads[3]]
    }

    /// Reshape, Squeeze and Unsqueeze of a computed value: only as [N, C, H, W] → [N, CHW] (a
    /// flatten), [N, K] ↔ [N, K, 1, 1], or to the same shape.
    mutating func reshape(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        let perImage = x.dropFirst().reduce(1, *)
        var target: [Int]
        switch node.proto.opType {
        case "Reshape":
            let spec = try requireConstant(node, 1, "shape").ints
            guard spec.count >= 1, spec.count <= 8 else { throw node.fail("shape \(spec) is not supported") }
            let allowZero = (try node.int("allowzero", 0)) != 0
            target = []
            for (i, d) in spec.enumerated() {
                if d == ONNXConstant.batch { target.append(-1) }
                else if d == 0 && !allowZero { guard i < x.count else { throw node.fail("shape \(spec) copies a missing dim") }; target.append(x[i]) }
                else if d == -1 { target.append(-2) }
                else if d > 0 && d < 1 << 31 { target.append(Int(d)) }
                else { throw node.fail("shape \(spec) is not supported") }
            }
            // The batch dim: -1 (copied, or the batch marker), or -2 (inferred) when the rest is one image.
            if target.first == -2 && target.dropFirst().allSatisfy({ $0 > 0 }) && ONNXConstant.product(target.dropFirst()) == perImage { target[0] = -1 }
            if let i = target.firstIndex(of: -2) {
                let known = target.enumerated().filter { $0.offset != i && $0.offset != 0 }.map(\.element)
                guard target.first == -1, known.allSatisfy({ $0 > 0 }), let k = ONNXConstant.product(known), k > 0, perImage % k == 0 else {
                    throw node.fail("shape \(spec) does not keep the batch first")
                }
                target[i] = perImage / k
            }
        default:
            let axes = try (constant(node, 1)?.ints.map(Int.init) ?? node.ints("axes") ?? [])
            if node.proto.opType == "Squeeze" {
                let rank = x.count
                let drop = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
                guard !drop.contains(0), drop.allSatisfy({ $0 < rank && x[$0] == 1 }) else { throw node.fail("squeezes a dim that is not 1") }
                target = x.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            } else {
                let rank = x.count + axes.count
                let add = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
                guard !add.contains(0), add.allSatisfy({ $0 < rank }) else { throw node.fail("unsqueezes the batch") }
                var rest = x.makeIterator()
                target = (0..<rank).map { add.contains($0) ? 1 : rest.next()! }
            }
        }
        guard target.first == -1, ONNXConstant.product(target.dropFirst()) == perImage else {
            throw node.fail("reshape of \(x) to \(target) does not keep each image's values")
        }
        let input = resolve(node.input(0))
        if target == x { aliases[node.output] = input; return }
        if target.count == 2 {
            if x.count == 2 { aliases[node.output] = input; return }
            emit(GraphSpec.Node(name: node.label, op: "flatten", inputs: [input], output: node.output), [])
        } else if target.count == 4 && target[2] == 1 && target[3] == 1 && (x.count == 2 || x[2] * x[3] == 1) {
            emit(GraphSpec.Node(name: node.label, op: "unflatten", inputs: [input], output: node.output), [])
        } else {
            throw node.fail("reshape of \(x) to \(target) moves data (only flattening is a layout no-op)")
        }
        shapes[node.output] = target
    }

    /// Gemm and MatMul of [N, K] by a constant matrix: a dense layer (alpha and beta folded in).
    mutating func gemm(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        guard x.count == 2 else { throw node.fail("only [N, K] × a constant matrix is supported (flatten first)") }
        let b = try requireConstant(node, 1, "weight matrix")
        guard b.dims.count == 2, b.isFloat else { throw node.fail("its weight matrix is not a 2-D float tensor") }
        let gemm = node.proto.opType == "Gemm"
        let transA = try node.int("transA", 0)
        if gemm && transA != 0 { throw node.fail("transA=1 is not supported") }
        let transB = gemm ? (try node.int("transB", 0)) != 0 : false
        let alpha: Float = gemm ? (try node.float("alpha", 1)) : 1, beta: Float = gemm ? (try node.float("beta", 1)) : 1
        let (k, m) = transB ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        guard k == x[1], m > 0 else { throw node.fail("weight matrix \(b.dims) does not take \(x[1]) features") }
        let values = b.floats
        var weights = [Float](repeating: 0, count: m * k)  // [out, in]
        for o in 0..<m { for i in 0..<k { weights[o * k + i] = alpha * (transB ? values[o * k + i] : values[i * m + o]) } }
        var bias = [Float](repeating: 0, count: m)
        if gemm, let c = constant(node, 2) {
            guard c.isFloat, c.count == 1 || c.dims == [m] || c.dims == [1, m] else {
                throw node.fail("its bias \(c.dims) does not broadcast over [N, \(m)]")
            }
            let cv = c.floats
            bias = (0..<m).map { beta * cv[c.count == 1 ? 0 : $0] }
        } else if gemm && !node.input(2).isEmpty { throw node.fail("its bias must be a constant") }
        emit(GraphSpec.Node(name: node.label, op: "dense", inputs: [resolve(node.input(0))], output: node.output,
                            params: ["features": [k, m]]), [weights, bias])
        shapes[node.output] = [x[0], m]
    }
}
