import Engine
import Foundation

/// Builds the engine's `GraphNetwork` from a stored `GraphSpec` and its tensors, checking every
/// reference, parameter and tensor size first (a stored graph is read as untrusted). A network can
/// be built for part of the graph: from a value to another (the backbone up to its feature map,
/// the head from there).
public struct GraphBuilder {
    public let spec: GraphSpec
    /// Tensor name → values (read from model.safetensors, or straight from an import).
    public let tensor: (String) throws -> [Float]
    /// For messages: the graph file.
    public let file: String

    public init(spec: GraphSpec, file: String, tensor: @escaping (String) throws -> [Float]) {
        self.spec = spec
        self.file = file
        self.tensor = tensor
    }

    /// The network computing `to` from `from` (default: the whole graph). `from` must cut the graph:
    /// every node needed for `to` reads only `from`, constants, or values made from them.
    public func network(from: String? = nil, to: String? = nil) throws -> GraphNetwork {
        let start = from ?? spec.input, end = to ?? spec.output
        let producer = Dictionary(spec.nodes.enumerated().map { ($1.output, $0) }, uniquingKeysWith: { a, _ in a })
        guard producer[end] != nil || end == start else { throw fail("no node makes \(end)") }
        // The nodes needed for `end`, walking back to `start`.
        var needed = Set<Int>(), stack = [end]
        while let value = stack.popLast() {
            if value == start { continue }
            guard let i = producer[value] else {
                throw fail(value == spec.input ? "\(end) does not depend on \(start) alone (it reads the input past it)"
                                               : "value \(value) is read but never made")
            }
            if needed.insert(i).inserted { stack.append(contentsOf: spec.nodes[i].inputs) }
        }
        var slots = [start: 0]
        var nodes: [GraphNetwork.Node] = [], constants: [Int: Tensor] = [:]
        for i in needed.sorted() {
            let node = spec.nodes[i]
            guard slots[node.output] == nil else { throw fail("\(node.output) is made twice") }
            let slot = slots.count
            if node.op == "const" {
                let shape = try param(node, "shape", count: nil)
                let values = try weights(node, 1, count: try product(shape, node))[0]
                constants[slot] = Tensor(shape: shape, data: values)
                slots[node.output] = slot
                continue
            }
            let inputs = try node.inputs.map { name -> Int in
                guard let s = slots[name] else { throw fail("node \(node.name) reads \(name) before it is made") }
                return s
            }
            let operation = try self.operation(node)
            nodes.append(GraphNetwork.Node(name: node.name, inputs: inputs, output: slot, operation: operation))
            slots[node.output] = slot
        }
        guard let out = slots[end] else { throw fail("no node makes \(end)") }
        do { return try GraphNetwork(nodes: nodes, slotCount: slots.count, outputSlot: out, constants: constants) } catch {
            throw fail("\(error)")
        }
    }

    private func operation(_ node: GraphSpec.Node) throws -> GraphOperation {
        let activation = try Activation(storedName: node.activation ?? "identity")
            ?? { throw fail("node \(node.name): unknown activation \(node.activation ?? "")") }()
        func arity(_ n: Int) throws { guard node.inputs.count == n else { throw fail("node \(node.name) (\(node.op)) takes \(n) inputs") } }
        switch node.op {
        case "add", "sub", "mul":
            try arity(2)
            return .binary(BinaryOperator(rawValue: node.op)!, activation)
        case "concat":
            guard !node.inputs.isEmpty else { throw fail("node \(node.name): concat of nothing") }
            return .concat
        default:
            try arity(1)
            return .layer(try layer(node, activation))
        }
    }

    private func layer(_ node: GraphSpec.Node, _ activation: Activation) throws -> Layer {
        switch node.op {
        case "to_nhwc": return ToNHWC()
        case "conv": return try conv(node, activation)
        case "affine":
            let c = try param(node, "channels", count: 1)[0]
            let w = try weights(node, 2, count: c)
            return ChannelAffine(scale: w[0], shift: w[1], activation: activation)
        case "activation": return ActivationLayer(activation)
        case "pointwise": return PointwiseLayer(try pointwise(node))
        case "max_pool", "avg_pool":
            let k = try param(node, "kernel", count: 1)[0], s = try param(node, "stride", count: 1)[0]
            let p = try pads(node)
            return node.op == "max_pool" ? MaxPool2D(kernel: k, stride: s, padding: .fixed(p))
                                         : AvgPool2D(kernel: k, stride: s, padding: .fixed(p))
        case "global_avg_pool": return GlobalAveragePool()
        case "flatten": return FlattenLayer()
        case "unflatten": return UnflattenLayer()
        case "softmax": return SoftmaxLayer()
        case "zero_pad": return ZeroPad(try pads(node))
        case "dense":
            let io = try param(node, "features", count: 2)
            let w = try weights(node, 2, counts: [try product(io, node), io[1]])
            return Dense(weights: w[0], bias: w[1], inFeatures: io[0], outFeatures: io[1], activation: activation)
        default: throw fail("node \(node.name): unknown operation \(node.op)")
        }
    }

    private func conv(_ node: GraphSpec.Node, _ activation: Activation) throws -> Layer {
        let ch = try param(node, "channels", count: 2), k = try param(node, "kernel", count: 2)
        let s = try param(node, "stride", count: 2), d = try param(node, "dilation", count: 2)
        let g = try param(node, "groups", count: 1)[0], p = try pads(node)
        let (cin, cout) = (ch[0], ch[1])
        guard g >= 1, cin % g == 0, cout % g == 0, k.allSatisfy({ $0 <= 64 }), s.allSatisfy({ $0 <= 64 }),
              d.allSatisfy({ $0 <= 64 }) else { throw fail("node \(node.name): unusable convolution parameters") }
        let w = try weights(node, 2, counts: [try product([cout, cin / g, k[0], k[1]], node), cout])
        let square = k[0] == k[1] && s[0] == s[1] && d == [1, 1]
        if square && g == 1 {
            return Conv2D(weights: w[0], bias: w[1], outChannels: cout, inChannels: cin, kernel: (k[0], k[1]), stride: s[0],
                          padding: .fixed(p), activation: activation)
        }
        if square && g == cin && cout == cin {
            return DepthwiseConv2D(weights: w[0], bias: w[1], channels: cin, kernel: k[0], stride: s[0], padding: .fixed(p),
                                   activation: activation)
        }
        return GroupedConv2D(weights: w[0], bias: w[1], inChannels: cin, outChannels: cout, groups: g, kernel: (k[0], k[1]),
                             stride: (s[0], s[1]), dilation: (d[0], d[1]), padding: p, activation: activation)
    }

    private func pointwise(_ node: GraphSpec.Node) throws -> PointwiseFunction {
        let f = node.floats ?? []
        func need(_ n: Int) throws -> [Float] {
            guard f.count == n, f.allSatisfy({ !$0.isNaN }) else { throw fail("node \(node.name): \(node.function ?? "") takes \(n) parameters") }
            return f
        }
        switch node.function {
        case "sigmoid": return .sigmoid
        case "hard_swish": return .hardSwish
        case "hard_sigmoid": let v = try need(2); return .hardSigmoid(alpha: v[0], beta: v[1])
        case "leaky_relu": return .leakyRelu(alpha: try need(1)[0])
        case "clip": let v = try need(2); return .clip(min: v[0], max: v[1])
        default: throw fail("node \(node.name): unknown function \(node.function ?? "none")")
        }
    }

    private func pads(_ node: GraphSpec.Node) throws -> Padding {
        let p = try param(node, "pads", count: 4)
        guard p.allSatisfy({ $0 >= 0 && $0 <= 1024 }) else { throw fail("node \(node.name): pads \(p)") }
        return Padding(top: p[0], bottom: p[2], left: p[1], right: p[3])
    }

    private func param(_ node: GraphSpec.Node, _ key: String, count: Int?) throws -> [Int] {
        guard let v = node.params?[key], count == nil || v.count == count!, v.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw fail("node \(node.name) (\(node.op)): missing or bad \(key)")
        }
        if key != "pads" && key != "shape", v.contains(0) { throw fail("node \(node.name) (\(node.op)): \(key) \(v)") }
        return v
    }

    private func product(_ dims: [Int], _ node: GraphSpec.Node) throws -> Int {
        var p = 1
        for d in dims {
            let (r, overflow) = p.multipliedReportingOverflow(by: d)
            guard !overflow, r <= 1 << 30 else { throw fail("node \(node.name): tensor too large \(dims)") }
            p = r
        }
        return p
    }

    private func weights(_ node: GraphSpec.Node, _ n: Int, count: Int) throws -> [[Float]] {
        try weights(node, n, counts: [Int](repeating: count, count: n))
    }

    private func weights(_ node: GraphSpec.Node, _ n: Int, counts: [Int]) throws -> [[Float]] {
        guard let names = node.weights, names.count == n else { throw fail("node \(node.name) (\(node.op)) needs \(n) tensors") }
        return try zip(names, counts).map { name, count in
            let values = try tensor(name)
            guard values.count == count else { throw fail("node \(node.name): tensor \(name) has \(values.count) values, expected \(count)") }
            return values
        }
    }

    private func fail(_ reason: String) -> ModelError { ModelError(file: file, reason: reason) }
}
