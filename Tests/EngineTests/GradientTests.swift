@testable import Engine
import XCTest

/// Every backward op against central finite differences of L = Σ y ⊙ r (so dL/dy = r), for odd
/// sizes, strides 1 and 2 and both padding conventions. Convolutions are checked without their
/// fused activation (finite differences straddle ReLU kinks); activations are checked on their own,
/// away from the kinks, and max pooling on inputs whose values are well apart (no ties within ε).
final class GradientTests: XCTestCase {
    /// Compares `analytic` with (L(p + εe_i) − L(p − εe_i)) / 2ε at every index of `point`.
    func check(_ name: String, analytic: [Float], at point: [Float], eps: Float = 1e-2,
               file: StaticString = #filePath, line: UInt = #line, _ loss: ([Float]) -> Double) {
        XCTAssertEqual(analytic.count, point.count, "\(name): gradient size", file: file, line: line)
        var worst: Float = 0, at = 0
        for i in point.indices {
            var p = point
            p[i] = point[i] + eps
            let up = loss(p)
            p[i] = point[i] - eps
            let down = loss(p)
            let numeric = Float((up - down) / Double(2 * eps))
            let err = abs(numeric - analytic[i]) / max(1, abs(numeric))
            if err > worst { worst = err; at = i }
        }
        XCTAssertLessThan(worst, 1e-2, "\(name): worst relative error at index \(at)", file: file, line: line)
    }

    func dot(_ y: Tensor, _ r: [Float]) -> Double { zip(y.data, r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    func testConvolutionGradients() {
        var g = Seeded(11)
        for (h, w) in [(7, 6), (8, 8)] {
            for (k, stride, rule) in [(1, 1, PaddingRule.fixed(.none)), (1, 2, .same), (3, 1, .same), (3, 2, .same),
                                      (3, 2, .fixed(.symmetric(1))), (5, 2, .same)] {
                let (cin, cout) = (3, 4)
                let conv = Conv2D(weights: g.array(cout * cin * k * k), bias: g.array(cout), outChannels: cout, inChannels: cin,
                                  kernel: (k, k), stride: stride, padding: rule)
                let x = Tensor(shape: [2, h, w, cin], data: g.array(2 * h * w * cin), layout: .nhwc)
                let y = conv.forward(x, .default)
                let r = g.array(y.count)
                let dPre = Tensor(shape: y.shape, data: r, layout: .nhwc)
                let (dx, dw, db) = Gradients.conv(conv, input: x, dPre: dPre)
                let name = "conv \(h)x\(w) k\(k) s\(stride) \(rule)"
                check(name + " dx", analytic: dx!.data, at: x.data) { dot(conv.forward(Tensor(shape: x.shape, data: $0, layout: .nhwc), .default), r) }
                check(name + " dw", analytic: dw, at: conv.weights) { dot(Conv2D(packed: $0, bias: conv.bias, like: conv).forward(x, .default), r) }
                check(name + " db", analytic: db, at: conv.bias) { dot(Conv2D(packed: conv.weights, bias: $0, like: conv).forward(x, .default), r) }
                XCTAssertNil(Gradients.conv(conv, input: x, dPre: dPre, inputGradient: false).dx)
            }
        }
    }

    func testDepthwiseGradients() {
        var g = Seeded(12)
        for (h, w) in [(7, 6), (8, 8)] {
            for (k, stride, rule) in [(3, 1, PaddingRule.same), (3, 2, .same), (3, 2, .fixed(.symmetric(1))), (5, 1, .same), (5, 2, .same)] {
                let c = 5
                let dw0 = DepthwiseConv2D(weights: g.array(c * k * k), bias: g.array(c), channels: c, kernel: k, stride: stride,
                                          padding: rule)
                let x = Tensor(shape: [2, h, w, c], data: g.array(2 * h * w * c), layout: .nhwc)
                let y = dw0.forward(x, .default)
                let r = g.array(y.count)
                let dPre = Tensor(shape: y.shape, data: r, layout: .nhwc)
                let (dx, dw, db) = Gradients.depthwise(dw0, input: x, dPre: dPre)
                let name = "depthwise \(h)x\(w) k\(k) s\(stride) \(rule)"
                check(name + " dx", analytic: dx!.data, at: x.data) { dot(dw0.forward(Tensor(shape: x.shape, data: $0, layout: .nhwc), .default), r) }
                check(name + " dw", analytic: dw, at: dw0.weights) { dot(DepthwiseConv2D(packed: $0, bias: dw0.bias, like: dw0).forward(x, .default), r) }
                check(name + " db", analytic: db, at: dw0.bias) { dot(DepthwiseConv2D(packed: dw0.weights, bias: $0, like: dw0).forward(x, .default), r) }
            }
        }
    }

    func testPoolingGradients() {
        var g = Seeded(13)
        for (h, w) in [(7, 6), (8, 8)] {
            for (k, stride, rule) in [(3, 2, PaddingRule.same), (2, 2, .fixed(.none)), (3, 1, .fixed(.symmetric(1)))] {
                // Distinct values 0.01 apart, shuffled: no two within ε of each other.
                var values = (0..<(2 * h * w * 3)).map { Float($0) * 0.01 }
                for i in values.indices.reversed() { values.swapAt(i, Int((g.next() + 1) * 0.5 * Float(i + 1)) % (i + 1)) }
                let x = Tensor(shape: [2, h, w, 3], data: values, layout: .nhwc)
                let maxPool = MaxPool2D(kernel: k, stride: stride, padding: rule)
                let avgPool = AvgPool2D(kernel: k, stride: stride, padding: rule)
                let y = maxPool.forward(x, .default)
                let r = g.array(y.count)
                let dy = Tensor(shape: y.shape, data: r, layout: .nhwc)
                check("max pool \(h)x\(w) k\(k) s\(stride)", analytic: Gradients.maxPool(maxPool, input: x, dy: dy).data, at: x.data, eps: 1e-3) {
                    dot(maxPool.forward(Tensor(shape: x.shape, data: $0, layout: .nhwc), .default), r)
                }
                check("avg pool \(h)x\(w) k\(k) s\(stride)", analytic: Gradients.averagePool(avgPool, input: x, dy: dy).data, at: x.data) {
                    dot(avgPool.forward(Tensor(shape: x.shape, data: $0, layout: .nhwc), .default), r)
                }
            }
        }
    }

    func testGlobalPoolDenseAndActivationGradients() {
        var g = Seeded(14)
        let x = Tensor(shape: [3, 5, 4, 6], data: g.array(3 * 5 * 4 * 6), layout: .nhwc)
        let r = g.array(3 * 6)
        check("global average pool", analytic: Gradients.globalAveragePool(input: x, dy: Tensor(shape: [3, 6], data: r)).data, at: x.data) {
            dot(GlobalAveragePool().forward(Tensor(shape: x.shape, data: $0, layout: .nhwc), .default), r)
        }

        let dense = Dense(weights: g.array(4 * 7), bias: g.array(4), inFeatures: 7, outFeatures: 4, activation: .relu)
        let input = Tensor(shape: [3, 7], data: g.array(21))
        let y = dense.forward(input, .default)
        let rd = g.array(y.count)
        let dPre = Gradients.activation(Tensor(shape: y.shape, data: rd), output: y, .relu, .default)
        let (dx, dw, db) = Gradients.dense(dense, input: input, dPre: dPre)
        func rebuilt(_ w: [Float], _ b: [Float]) -> Dense { Dense(weights: w, bias: b, inFeatures: 7, outFeatures: 4, activation: .relu) }
        check("dense dx", analytic: dx.data, at: input.data) { dot(dense.forward(Tensor(shape: [3, 7], data: $0), .default), rd) }
        check("dense dw", analytic: dw, at: dense.weights) { dot(rebuilt($0, dense.bias).forward(input, .default), rd) }
        check("dense db", analytic: db, at: dense.bias) { dot(rebuilt(dense.weights, $0).forward(input, .default), rd) }

        for activation in [Activation.relu, .relu6] {
            let pre = g.array(40).map { $0 * 8 }.map { abs($0) < 0.01 || abs($0 - 6) < 0.01 ? $0 + 0.05 : $0 }
            let out = Tensor(shape: [40], data: pre.map { activation.apply($0) })
            let ra = g.array(40)
            check("\(activation)", analytic: Gradients.activation(Tensor(shape: [40], data: ra), output: out, activation, .default).data, at: pre, eps: 1e-3) {
                zip($0, ra).reduce(0) { $0 + Double(activation.apply($1.0)) * Double($1.1) }
            }
        }
    }
}
