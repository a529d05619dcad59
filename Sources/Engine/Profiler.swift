import Foundation

/// Per-operation wall time of forward passes, for `dxkit classify --profile`. Off by default;
/// when on, containers time each leaf layer they run and attribute it to the layer's kind.
public final class Profiler: @unchecked Sendable {
    public static let shared = Profiler()
    public var enabled = false
    private var totals: [String: (seconds: Double, calls: Int)] = [:]
    private let lock = NSLock()

    /// Runs `layer` on `input`, timing it when profiling is on and the layer is not a container.
    @inline(__always)
    func run(_ layer: Layer, _ input: Tensor) -> Tensor {
        guard enabled, !(layer is Sequential), !(layer is Residual), !(layer is SeparableConv2D), !(layer is SeparablePair) else { return layer.forward(input) }
        return timed(Self.name(of: layer)) { layer.forward(input) }
    }

    /// `body`'s result, its time recorded under `name` when profiling is on.
    @inline(__always)
    func timed(_ name: String, _ body: () -> Tensor) -> Tensor {
        guard enabled else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let out = body()
        record(name, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return out
    }

    public func record(_ name: String, seconds: Double) {
        lock.lock()
        let t = totals[name] ?? (0, 0)
        totals[name] = (t.seconds + seconds, t.calls + 1)
        lock.unlock()
    }

    /// Operation kinds by total time, largest first.
    public func report() -> [(name: String, seconds: Double, calls: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return totals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.seconds > $1.seconds }
    }

    public func reset() {
        lock.lock()
        totals = [:]
        lock.unlock()
    }

    static func name(of layer: Layer) -> String {
        switch layer {
        case let c as Conv2D:
            if c.kernelHeight == 1 && c.kernelWidth == 1 { return "conv 1x1 (GEMM)" }
            let kind = c.winograd != nil ? "Winograd F(4x4,3x3)"
                : c.inChannels <= Conv2D.directMaxInputChannels ? "direct" : "im2col+GEMM"
            return "conv \(c.kernelHeight)x\(c.kernelWidth) (\(kind))"
        case let d as DepthwiseConv2D: return "depthwise \(d.kernel)x\(d.kernel) s\(d.stride)"
        case is SeparableConv2D: return "separable conv"
        case is MaxPool2D: return "max pool"
        case is AvgPool2D: return "avg pool"
        case is GlobalAveragePool: return "global avg pool"
        case is Dense: return "dense"
        case is ActivationLayer: return "activation"
        default: return String(describing: type(of: layer))
        }
    }
}
