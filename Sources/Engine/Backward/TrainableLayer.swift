/// A leaf layer that fine-tuning can train: it runs with tensors that change every step and has
/// a backward pass (`Gradients`). Containers need no such conformance: training walks their
/// `structure` (a sequence, a residual connection) generically. Convolutions, depthwise
/// convolutions, activations and max / average pooling are trainable; dense layers, global
/// pooling and layout conversions are not (a backbone's unfrozen blocks never hold them).
public protocol TrainableLayer: Layer {
    /// This layer holding `parameters` in place of its own tensors (`parameters` order, the same
    /// sizes), built to be rebuilt every step (a convolution keeps its weights unpacked and runs
    /// OpenBLAS, packing would cost more than it saves).
    func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer
    /// The gradients of the loss for one forward pass of this layer — `input` → `output` — given
    /// `dy`, its gradient at the output: with respect to the input (nil unless `inputGradient`)
    /// and to each of its own tensors, in `parameters` order.
    func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]])
}

extension Conv2D: TrainableLayer {
    public func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer {
        Conv2D(packed: parameters[parameters.startIndex], bias: parameters[parameters.startIndex + 1], like: self, inference: false)
    }

    public func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]]) {
        let dPre = Gradients.activation(dy, output: output, activation, plan)
        let (dx, dw, db) = Gradients.conv(self, input: input, dPre: dPre, inputGradient: inputGradient)
        return (dx, [dw, db])
    }
}

extension DepthwiseConv2D: TrainableLayer {
    public func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer {
        DepthwiseConv2D(packed: parameters[parameters.startIndex], bias: parameters[parameters.startIndex + 1], like: self)
    }

    public func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]]) {
        let dPre = Gradients.activation(dy, output: output, activation, plan)
        let (dx, dw, db) = Gradients.depthwise(self, input: input, dPre: dPre, inputGradient: inputGradient)
        return (dx, [dw, db])
    }
}

extension ActivationLayer: TrainableLayer {
    public func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer { self }

    public func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]]) {
        (inputGradient ? Gradients.activation(dy, output: output, activation, plan) : nil, [])
    }
}

extension MaxPool2D: TrainableLayer {
    public func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer { self }

    public func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]]) {
        (inputGradient ? Gradients.maxPool(self, input: input, dy: dy) : nil, [])
    }
}

extension AvgPool2D: TrainableLayer {
    public func trainingCopy(_ parameters: ArraySlice<[Float]>) -> TrainableLayer { self }

    public func gradients(input: Tensor, output: Tensor, dy: Tensor, inputGradient: Bool, _ plan: ExecutionPlan)
        -> (dx: Tensor?, parameters: [[Float]]) {
        (inputGradient ? Gradients.averagePool(self, input: input, dy: dy) : nil, [])
    }
}
