import Engine
import Foundation

/// The import's last step: fusions on the emitted operations (padding into the convolution after
/// it, BatchNorm into the convolution before it, ReLU/ReLU6 into the operation that makes their
/// input — each only when that value has no other reader), then the spec with named tensors.
extension ONNXLowering {
    mutating func finish(_ graph: Onnx_GraphProto) throws -> ONNXImporter.Result {
        guard graph.output.count == 1, let out = graph.output.first else {
            throw fail("the graph has \(graph.output.count) outputs; dxkit imports single-output classifiers")
        }
        let output = resolve(out.name)
        guard let shape = shapes[output] else { throw fail("the output \(out.name) is not computed from the input") }
        guard shape.count == 2 || (shape.count == 4 && shape[2] == 1 && shape[3] == 1) else {
            throw fail("the output \(out.name) is \(shape), not [N, K] scores")
        }
        fuse(output: output)
        var tensors: [String: [Float]] = [:]
        var nodes: [GraphSpec.Node] = []
        for p in pending where !p.removed {
            var node = p.node
            if !p.tensors.isEmpty {
                let names = p.tensors.indices.map { "n\(nodes.count).\($0)" }
                for (name, values) in zip(names, p.tensors) { tensors[name] = values }
                node.weights = names
            }
            nodes.append(node)
        }
        let spec = GraphSpec(format: GraphSpec.currentFormat, input: inputName, inputShape: inputShape, output: output, nodes: nodes)
        return ONNXImporter.Result(spec: spec, tensors: tensors, opset: opset, outputs: shape.dropFirst().reduce(1, *))
    }

    /// How many operations read each value (the graph's output counts as one more).
    func readers(output: String) -> [String: Int] {
        var n: [String: Int] = [output: 1]
        for p in pending where !p.removed { for i in p.node.inputs { n[i, default: 0] += 1 } }
        return n
    }

    func producer(of value: String) -> Int? {
        pending.indices.last { !pending[$0].removed && pending[$0].node.output == value }
    }

    mutating func fuse(output: String) {
        // Padding into the convolution that alone reads it.
        var counts = readers(output: output)
        for i in pending.indices where pending[i].node.op == "zero_pad" && !pending[i].removed {
            let pad = pending[i].node
            guard counts[pad.output] == 1,
                  let j = pending.indices.first(where: { !pending[$0].removed && pending[$0].node.op == "conv" && pending[$0].node.inputs == [pad.output] }),
                  let extra = pad.params?["pads"], let own = pending[j].node.params?["pads"] else { continue }
            pending[j].node.params?["pads"] = zip(own, extra).map { $0 + $1 }
            pending[j].node.inputs = pad.inputs
            pending[j].node.name = pad.name + " + " + pending[j].node.name
            pending[i].removed = true
        }
        // BatchNorm into the convolution that alone feeds it, else a channel affine.
        counts = readers(output: output)
        for i in pending.indices where pending[i].node.op == "batchnorm" && !pending[i].removed {
            let bn = pending[i]
            if let j = producer(of: bn.node.inputs[0]), pending[j].node.op == "conv", counts[bn.node.inputs[0]] == 1,
               pending[j].node.activation == nil {
                let (scale, shift) = (bn.tensors[0], bn.tensors[1])
                var w = pending[j].tensors[0], b = pending[j].tensors[1]
                let per = w.count / scale.count
                for o in 0..<scale.count {
                    for k in 0..<per { w[o * per + k] *= scale[o] }
                    b[o] = b[o] * scale[o] + shift[o]
                }
                pending[j].tensors = [w, b]
                pending[j].node.output = bn.node.output
                pending[j].node.name += " + " + bn.node.name
                pending[i].removed = true
            } else {
                pending[i].node.op = "affine"
            }
        }
        // ReLU/ReLU6 into the operation that alone feeds it.
        counts = readers(output: output)
        let fusing: Set<String> = ["conv", "affine", "add", "sub", "mul", "dense"]
        for i in pending.indices where pending[i].node.op == "activation" && !pending[i].removed {
            let act = pending[i].node
            guard let j = producer(of: act.inputs[0]), fusing.contains(pending[j].node.op), counts[act.inputs[0]] == 1,
                  pending[j].node.activation == nil else { continue }
            pending[j].node.activation = act.activation
            pending[j].node.output = act.output
            pending[j].node.name += " + " + act.name
            pending[i].removed = true
        }
    }
}
