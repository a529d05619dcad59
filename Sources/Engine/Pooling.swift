/// Max pooling; padded positions never win (they count as -infinity, as in Keras and PyTorch).
public final class MaxPool2D: Layer, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public let padding: PaddingRule

    public init(kernel: Int, stride: Int, padding: PaddingRule) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public func forward(_ input: Tensor) -> Tensor {
        let (h, w) = (input.height, input.width)
        let pad = padding.resolve(height: h, width: w, kernel: kernel, stride: stride)
        let oh = Padding.output(h, kernel: kernel, stride: stride, before: pad.top, after: pad.bottom)
        let ow = Padding.output(w, kernel: kernel, stride: stride, before: pad.left, after: pad.right)
        let planes = input.batch * input.channels
        return Tensor(shape: [input.batch, input.channels, oh, ow]) { out in
            input.data.withUnsafeBufferPointer { x in
                for plane in 0..<planes {
                    let src = x.baseAddress! + plane * h * w
                    let dst = out.baseAddress! + plane * oh * ow
                    for oy in 0..<oh {
                        let y0 = max(oy * stride - pad.top, 0), y1 = min(oy * stride - pad.top + kernel, h)
                        for ox in 0..<ow {
                            let x0 = max(ox * stride - pad.left, 0), x1 = min(ox * stride - pad.left + kernel, w)
                            var m = -Float.infinity
                            for y in y0..<y1 { for xx in x0..<x1 { m = max(m, src[y * w + xx]) } }
                            dst[oy * ow + ox] = m
                        }
                    }
                }
            }
        }
    }
}

/// Average pooling; padded positions are excluded from the average (count_include_pad=False).
public final class AvgPool2D: Layer, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public let padding: PaddingRule

    public init(kernel: Int, stride: Int, padding: PaddingRule) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public func forward(_ input: Tensor) -> Tensor {
        let (h, w) = (input.height, input.width)
        let pad = padding.resolve(height: h, width: w, kernel: kernel, stride: stride)
        let oh = Padding.output(h, kernel: kernel, stride: stride, before: pad.top, after: pad.bottom)
        let ow = Padding.output(w, kernel: kernel, stride: stride, before: pad.left, after: pad.right)
        let planes = input.batch * input.channels
        return Tensor(shape: [input.batch, input.channels, oh, ow]) { out in
            input.data.withUnsafeBufferPointer { x in
                for plane in 0..<planes {
                    let src = x.baseAddress! + plane * h * w
                    let dst = out.baseAddress! + plane * oh * ow
                    for oy in 0..<oh {
                        let y0 = max(oy * stride - pad.top, 0), y1 = min(oy * stride - pad.top + kernel, h)
                        for ox in 0..<ow {
                            let x0 = max(ox * stride - pad.left, 0), x1 = min(ox * stride - pad.left + kernel, w)
                            var s: Float = 0
                            for y in y0..<y1 { for xx in x0..<x1 { s += src[y * w + xx] } }
                            dst[oy * ow + ox] = s / Float((y1 - y0) * (x1 - x0))
                        }
                    }
                }
            }
        }
    }
}

/// Mean over each channel's plane: [N, C, H, W] → [N, C, 1, 1].
public final class GlobalAveragePool: Layer, @unchecked Sendable {
    public init() {}

    public func forward(_ input: Tensor) -> Tensor {
        let plane = input.height * input.width
        return Tensor(shape: [input.batch, input.channels, 1, 1]) { out in
            input.data.withUnsafeBufferPointer { x in
                for i in 0..<(input.batch * input.channels) {
                    var s: Double = 0
                    let p = x.baseAddress! + i * plane
                    for j in 0..<plane { s += Double(p[j]) }
                    out[i] = Float(s / Double(plane))
                }
            }
        }
    }
}
