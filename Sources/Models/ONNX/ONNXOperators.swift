import Engine
import Foundation

/// The ONNX operations dxkit runs, each mapped onto engine operations (see `GraphSpec.Node`).
extension ONNXLowering {
    mutating func lower(_ proto: Onnx_NodeProto, index: Int) throws {
        let node = NodeContext(proto, index: index, file: file)
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw node.fail("operation of domain \(proto.domain) is not supported")
        }
        guard !node.output.isEmpty, proto.output.count <= 3, proto.input.count <= 4096 else { throw node.fail("malformed node") }
        guard shapes[node.output] == nil, constants[node.output] == nil, aliases[node.output] == nil else {
            throw node.fail("makes \(node.output) a second time")
        }
        // Constant arithmetic and shape computations: evaluated now.
        if try foldConstant(node) { return }
        switch proto.opType {
        case "Conv": try conv(node)
        case "BatchNormalization": try batchNormalization(node)
        case "Relu": try unary(node, op: "activation", activation: .relu)
        case "Clip": try clip(node)
        case "LeakyRelu": try pointwise(node, "leaky_relu", [try node.float("alpha", 0.01)])
        case "Sigmoid": try pointwise(node, "sigmoid", [])
        case "HardSigmoid": try pointwise(node, "hard_sigmoid", [try node.float("alpha", 0.2), try node.float("beta", 0.5)])
        case "HardSwish": try pointwise(node, "hard_swish", [])
        case "Add", "Sub", "Mul": try binary(node)
        case "Concat": try concat(node)
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool": try globalPool(node)
        case "ReduceMean": try reduceMean(node)
        case "Flatten": try flatten(node)
        case "Reshape", "Squeeze", "Unsqueeze": try reshape(node)
        case "Gemm", "MatMul": try gemm(node)
        case "Softmax": try softmax(node)
        case "Dropout", "Identity":
            _ = try runtime(node.input(0), node)
            if proto.opType == "Dropout", let training = constant(node, 2), training.ints.contains(where: { $0 != 0 }) {
                throw node.fail("training-mode Dropout is not supported")
            }
            aliases[node.output] = resolve(node.input(0))
        case "Pad": try pad(node)
        case "Transpose":
            let shape = try runtime(node.input(0), node)
            guard let perm = try node.ints("perm"), perm == Array(0..<shape.count) else {
                throw node.fail("a transpose that moves data is not supported (only the identity permutation is a layout no-op)")
            }
            aliases[node.output] = resolve(node.input(0))
        default:
            throw node.fail("operation \(proto.opType) is not supported by dxkit's engine")
        }
    }

    mutating func unary(_ node: NodeContext, op: String, activation: Activation? = nil, function: String? = nil,
                        floats: [Float]? = nil) throws {
        let shape = try runtime(node.input(0), node)
        emit(GraphSpec.Node(name: node.label, op: op, inputs: [resolve(node.input(0))], output: node.output, floats: floats,
                            activation: activation?.storedName, function: function), [])
        shapes[node.output] = shape
    }

    mutating func pointwise(_ node: NodeContext, _ function: String, _ floats: [Float]) throws {
        try unary(node, op: "pointwise", function: function, floats: floats)
    }

    mutating func clip(_ node: NodeContext) throws {
        func bound(_ i: Int) throws -> Float? {
            guard !node.input(i).isEmpty else { return nil }
            let c = try requireConstant(node, i, "bound")
            guard c.count == 1, c.floats[0].isFinite else { throw node.fail("its bound is not a finite scalar") }
            return c.floats[0]
        }
        let lo = try bound(1), hi = try bound(2)
        if lo == 0 && hi == 6 { return try unary(node, op: "activation", activation: .relu6) }
        if lo == 0 && hi == nil { return try unary(node, op: "activation", activation: .relu) }
        try pointwise(node, "clip", [lo ?? -.greatestFiniteMagnitude, hi ?? .greatestFiniteMagnitude])
    }

    mutating func conv(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        guard x.count == 4 else { throw node.fail("only 2-D convolutions on [N, C, H, W] maps are supported") }
        let w = try requireConstant(node, 1, "weight")
        guard w.dims.count == 4, w.isFloat else { throw node.fail("its weight is not a 4-D float tensor") }
        let (m, cg, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3])
        let g = try node.int("group", 1)
        guard g >= 1, x[1] % g == 0, m % g == 0, cg == x[1] / g, m > 0, kh > 0, kw > 0 else {
            throw node.fail("weight \(w.dims) does not fit \(x[1]) input channels in \(g) groups")
        }
        if let k = try node.ints("kernel_shape"), k != [kh, kw] { throw node.fail("kernel_shape \(k) differs from the weight's \([kh, kw])") }
        var bias = [Float](repeating: 0, count: m)
        if let b = constant(node, 2) {
            guard b.count == m, b.isFloat else { throw node.fail("its bias has \(b.count) values for \(m) channels") }
            bias = b.floats
        } else if !node.input(2).isEmpty { throw node.fail("its bias must be a constant") }
        let strides = try node.ints("strides") ?? [1, 1], dilations = try node.ints("dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, (strides + dilations).allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
            throw node.fail("strides \(strides) or dilations \(dilations) out of range")
        }
        let pads = try padding(node, input: [x[2], x[3]], kernel: [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1],
                               strides: strides)
        let oh = try outputSize(node, x[2], pads[0] + pads[2], (kh - 1) * dilations[0] + 1, strides[0])
        let ow = try outputSize(node, x[3], pads[1] + pads[3], (kw - 1) * dilations[1] + 1, strides[1])
        emit(GraphSpec.Node(name: node.label, op: "conv", inputs: [resolve(node.input(0))], output: node.output,
                            params: ["channels": [x[1], m], "kernel": [kh, kw], "stride": strides, "dilation": dilations,
                                     "groups": [g], "pads": pads]), [w.floats, bias])
        shapes[node.output] = [-1, m, oh, ow]
    }

    /// Explicit pads [top, left, bottom, right] from `pads` or `auto_pad`.
    func padding(_ node: NodeContext, input: [Int], kernel: [Int], strides: [Int]) throws -> [Int] {
        let auto = node.string("auto_pad") ?? "NOTSET"
        switch auto {
        case "NOTSET", "":
            let p = try node.ints("pads") ?? [0, 0, 0, 0]
            guard p.count == 4, p.allSatisfy({ $0 >= 0 && $0 <= 1024 }) else { throw node.fail("pads \(p) are not 4 values in 0…1024") }
            return p
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var begin = [0, 0], end = [0, 0]
            for a in 0..<2 {
                let out = (input[a] + strides[a] - 1) / strides[a]
                let total = max((out - 1) * strides[a] + kernel[a] - input[a], 0)
                begin[a] = auto == "SAME_UPPER" ? total / 2 : total - total / 2
                end[a] = total - begin[a]
            }
            return [begin[0], begin[1], end[0], end[1]]
        default: throw node.fail("auto_pad \(auto) is not supported")
        }
    }

    func outputSize(_ node: NodeContext, _ size: Int, _ pads: Int, _ extent: Int, _ stride: Int) throws -> Int {
        guard size + pads >= extent else { throw node.fail("its window (\(extent)) is larger than the padded input (\(size + pads))") }
        return (size + pads - extent) / stride + 1
    }

    mutating func batchNormalization(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        guard x.count == 4 else { throw node.fail("only BatchNormalization on [N, C, H, W] maps is supported") }
        guard (try node.int("training_mode", 0)) == 0, node.proto.output.dropFirst().allSatisfy(\.isEmpty) else {
            throw node.fail("training-mode BatchNormalization is not supported")
        }
        let c = x[1]
        let p = try (1...4).map { i -> [Float] in
            let t = try requireConstant(node, i, "parameter")
            guard t.count == c, t.isFloat else { throw node.fail("parameter \(node.input(i)) has \(t.count) values for \(c) channels") }
            return t.floats
        }
        let epsilon = try node.float("epsilon", 1e-5)
        guard epsilon >= 0 else { throw node.fail("negative epsilon") }
        let bn = BatchNorm(gamma: p[0], beta: p[1], mean: p[2], variance: p[3], epsilon: epsilon)
        guard p[3].allSatisfy({ $0 + epsilon > 0 }) else { throw node.fail("a variance plus epsilon is not positive") }
        emit(GraphSpec.Node(name: node.label, op: "batchnorm", inputs: [resolve(node.input(0))], output: node.output,
                            params: ["channels": [c]]), [bn.scale, bn.shift])
        shapes[node.output] = x
    }

    mutating func binary(_ node: NodeContext) throws {
        guard node.proto.input.count == 2 else { throw node.fail("takes two inputs") }
        var operands: [String] = [], shapesIn: [[Int]] = []
        for i in 0..<2 {
            if let c = constant(node, i) {
                shapesIn.append(c.dims)
                operands.append("")
            } else {
                shapesIn.append(try runtime(node.input(i), node))
                operands.append(resolve(node.input(i)))
            }
        }
        let runtimeShapes = zip(operands, shapesIn).filter { !$0.0.isEmpty }.map(\.1)
        let big = runtimeShapes.max { $0.reduce(1, *).magnitude < $1.reduce(1, *).magnitude }!
        for i in 0..<2 {
            let s = shapesIn[i]
            guard s != big else { continue }
            if operands[i].isEmpty {
                // A constant: a scalar, or one value per channel ([C, 1, 1] on maps, [K] or [1, K] on vectors).
                let c = constant(node, i)!
                let offset = big.count - s.count
                let fits = c.isFloat && offset >= 0 && s.enumerated().allSatisfy { j, d in
                    d == 1 || (j + offset == 1 && d == big[1])
                }
                guard fits else {
                    throw node.fail("cannot broadcast a constant of shape \(s) over \(big.map { $0 < 0 ? "N" : String($0) })")
                }
                operands[i] = constantValue(node.input(i), values: c.floats, shape: [c.count])
            } else {
                // A computed value: the same shape, or one value per image and channel ([N, C, 1, 1] on a map).
                guard big.count == 4, s == [-1, big[1], 1, 1] else {
                    throw node.fail("cannot broadcast \(s) over \(big) (supported: equal shapes, scalars, per-channel values)")
                }
            }
        }
        let op = node.proto.opType.lowercased()
        emit(GraphSpec.Node(name: node.label, op: op, inputs: operands, output: node.output), [])
        shapes[node.output] = big
    }

    mutating func concat(_ node: NodeContext) throws {
        let parts = try node.proto.input.map { try runtime($0, node) }
        guard let first = parts.first else { throw node.fail("concatenates nothing") }
        var axis = try node.int("axis", 1)
        if axis < 0 { axis += first.count }
        guard axis == 1, parts.allSatisfy({ $0.count == first.count && Array($0.dropFirst(2)) == Array(first.dropFirst(2)) }) else {
            throw node.fail("only concatenation along the channels of equal-size maps is supported")
        }
        emit(GraphSpec.Node(name: node.label, op: "concat", inputs: node.proto.input.map(resolve), output: node.output), [])
        shapes[node.output] = [first[0], parts.map { $0[1] }.reduce(0, +)] + first.dropFirst(2)
    }

    mutating func globalPool(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        guard x.count == 4 else { throw node.fail("expects an [N, C, H, W] map") }
        emit(GraphSpec.Node(name: node.label, op: "global_avg_pool", inputs: [resolve(node.input(0))], output: node.output), [])
        shapes[node.output] = [x[0], x[1], 1, 1]
    }

    mutating func reduceMean(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        let axes = (try node.ints("axes") ?? []).map { $0 < 0 ? $0 + x.count : $0 }.sorted()
        guard x.count == 4, axes == [2, 3] else { throw node.fail("only a mean over H and W of an [N, C, H, W] map is supported") }
        let keep = (try node.int("keepdims", 1)) != 0
        let pooled = keep ? node.output : node.output + "#pooled"
        emit(GraphSpec.Node(name: node.label, op: "global_avg_pool", inputs: [resolve(node.input(0))], output: pooled), [])
        shapes[pooled] = [x[0], x[1], 1, 1]
        if !keep {
            emit(GraphSpec.Node(name: node.label, op: "flatten", inputs: [pooled], output: node.output), [])
            shapes[node.output] = [x[0], x[1]]
        }
    }

    mutating func flatten(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        var axis = try node.int("axis", 1)
        if axis < 0 { axis += x.count }
        guard axis == 1 else { throw node.fail("only Flatten(axis=1) is supported") }
        if x.count == 2 { aliases[node.output] = resolve(node.input(0)); return }
        emit(GraphSpec.Node(name: node.label, op: "flatten", inputs: [resolve(node.input(0))], output: node.output), [])
        shapes[node.output] = [x[0], x.dropFirst().reduce(1, *)]
    }

    mutating func softmax(_ node: NodeContext) throws {
        let x = try runtime(node.input(0), node)
        var axis = try node.int("axis", -1)
        if axis < 0 { axis += x.count }
        guard x.count == 2 && axis == 1 || x.count == 4 && axis == 1 && x[2] == 1 && x[3] == 1 else {
            throw node.fail("only a softmax over the classes of [N, K] is supported")
        }
        try unary(node, op: "softmax")
    }
}
