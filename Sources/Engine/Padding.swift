/// Zero padding around a feature map, possibly asymmetric.
public struct Padding: Sendable, Equatable {
    public var top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    public static let none = Padding(top: 0, bottom: 0, left: 0, right: 0)

    /// PyTorch's symmetric padding `p` on every side.
    public static func symmetric(_ p: Int) -> Padding { Padding(top: p, bottom: p, left: p, right: p) }

    /// TensorFlow/Keras "same": output = ceil(input / stride); any odd total goes to the bottom/right.
    public static func same(height: Int, width: Int, kernel: Int, stride: Int, dilation: Int = 1) -> Padding {
        func split(_ size: Int) -> (Int, Int) {
            let out = (size + stride - 1) / stride
            let total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(height), (l, r) = split(width)
        return Padding(top: t, bottom: b, left: l, right: r)
    }

    /// Output size along one axis.
    @inlinable public static func output(_ size: Int, kernel: Int, stride: Int, before: Int, after: Int) -> Int {
        (size + before + after - kernel) / stride + 1
    }
}

/// How a layer pads: fixed, or "same" computed from the input size at run time.
public enum PaddingRule: Sendable, Equatable {
    case fixed(Padding)
    case same

    /// Output height and width for an input of `height` x `width`, and the padding used.
    public func output(height: Int, width: Int, kernel: Int, stride: Int) -> (Int, Int, Padding) {
        let p = resolve(height: height, width: width, kernel: kernel, stride: stride)
        return (Padding.output(height, kernel: kernel, stride: stride, before: p.top, after: p.bottom),
                Padding.output(width, kernel: kernel, stride: stride, before: p.left, after: p.right), p)
    }

    public func resolve(height: Int, width: Int, kernel: Int, stride: Int) -> Padding {
        switch self {
        case let .fixed(p): return p
        case .same: return .same(height: height, width: width, kernel: kernel, stride: stride)
        }
    }
}
