import Foundation

/// A trainable head on pooled embeddings. `linear` and `mlp` inputs are standardised with the
/// training set's mean and a floored deviation (`Standardisation`, kept with the head).
/// `linear`: logistic/softmax regression; `mlp`: one hidden ReLU layer with dropout; `prototype`:
/// class means of L2-normalised embeddings, scored by scaled cosine similarity (few-shot, no
/// optimisation). Prototype heads divide by no training statistic: a cosine is in [−1, 1], so
/// their logits are bounded by ±`temperature` on any image.
public struct HeadModel: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case linear, mlp, prototype }

    public var kind: Kind
    public var inputs: Int, hidden: Int, classes: Int
    public var mean: [Float], scale: [Float]
    /// linear: [w (classes×inputs), b]; mlp: [w1 (hidden×inputs), b1, w2 (classes×hidden), b2]; prototype: [prototypes]
    public var parameters: [[Float]]
    public var dropout: Float = 0.3
    /// Cosine-similarity scale of prototype heads.
    public var temperature: Float = 10

    public init(kind: Kind, inputs: Int, hidden: Int = 128, classes: Int, mean: [Float], scale: [Float], seed: UInt64) {
        self.kind = kind
        self.inputs = inputs
        self.hidden = hidden
        self.classes = classes
        self.mean = mean
        self.scale = scale
        var rng = SplitMix64(seed: seed)
        func glorot(_ rows: Int, _ cols: Int) -> [Float] {
            let s = (2 / Float(rows + cols)).squareRoot()
            return (0..<(rows * cols)).map { _ in rng.normal() * s }
        }
        switch kind {
        // A linear head's objective is convex: it starts at zero, as scikit-learn's solvers do, so no
        // random component outside the training images' span has to be decayed away.
        case .linear: parameters = [[Float](repeating: 0, count: classes * inputs), [Float](repeating: 0, count: classes)]
        case .mlp: parameters = [glorot(hidden, inputs), [Float](repeating: 0, count: hidden), glorot(classes, hidden),
                                 [Float](repeating: 0, count: classes)]
        case .prototype: parameters = [[Float](repeating: 0, count: classes * inputs)]
        }
    }

    func standardise(_ x: [Float]) -> [Float] { (0..<inputs).map { (x[$0] - mean[$0]) * scale[$0] } }

    /// Changes the input standardisation to `newMean`/`newScale` without changing the head's
    /// function: the first layer's weights and bias absorb the change (W' = W·s/s', b' = b +
    /// W·(s ⊙ (μ' − μ))). `moments` (Adam's m and v of the first layer's weights) are carried into
    /// the new coordinates. Used when fine-tuning moves the embeddings the standardisation was fitted to.
    mutating func restandardise(mean newMean: [Float], scale newScale: [Float], moments: inout (m: [Float], v: [Float])?) {
        guard kind != .prototype else { return }
        let rows = kind == .mlp ? hidden : classes
        for r in 0..<rows {
            var shift: Double = 0
            for c in 0..<inputs {
                let w = parameters[0][r * inputs + c]
                shift += Double(w) * Double(scale[c]) * Double(newMean[c] - mean[c])
                let ratio = scale[c] / newScale[c]
                parameters[0][r * inputs + c] = w * ratio
                if moments != nil {
                    moments!.m[r * inputs + c] /= ratio
                    moments!.v[r * inputs + c] /= ratio * ratio
                }
            }
            parameters[1][r] += Float(shift)
        }
        mean = newMean
        scale = newScale
    }

    static func affine(_ w: [Float], _ b: [Float], _ x: [Float], rows: Int, cols: Int) -> [Float] {
        var out = b
        w.withUnsafeBufferPointer { wp in
            for r in 0..<rows {
                var s: Float = 0
                let row = wp.baseAddress! + r * cols
                for c in 0..<cols { s += row[c] * x[c] }
                out[r] += s
            }
        }
        return out
    }

    /// Logits of one embedding (inference: no dropout).
    public func logits(_ embedding: [Float]) -> [Float] {
        switch kind {
        case .prototype:
            let x = Self.normalised(embedding)
            return (0..<classes).map { c in
                temperature * (0..<inputs).reduce(Float(0)) { $0 + parameters[0][c * inputs + $1] * x[$1] }
            }
        case .linear:
            return Self.affine(parameters[0], parameters[1], standardise(embedding), rows: classes, cols: inputs)
        case .mlp:
            let h = Self.affine(parameters[0], parameters[1], standardise(embedding), rows: hidden, cols: inputs).map { max($0, 0) }
            return Self.affine(parameters[2], parameters[3], h, rows: classes, cols: hidden)
        }
    }

    static func normalised(_ x: [Float]) -> [Float] {
        let n = max(x.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return x.map { $0 / n }
    }

    /// Sets prototype heads from class means of normalised embeddings (themselves normalised).
    public mutating func fitPrototypes(_ xs: [[Float]], _ ys: [Int]) {
        var sums = [Float](repeating: 0, count: classes * inputs)
        for (x, y) in zip(xs, ys) { for (i, v) in Self.normalised(x).enumerated() { sums[y * inputs + i] += v } }
        for c in 0..<classes {
            let p = Self.normalised(Array(sums[(c * inputs)..<((c + 1) * inputs)]))
            for i in 0..<inputs { sums[c * inputs + i] = p[i] }
        }
        parameters = [sums]
    }

    /// Weighted cross-entropy of a batch and its gradient with respect to every parameter and,
    /// when asked, to each input embedding. Dropout masks come from `rng` (training only).
    func lossAndGradient(_ xs: [[Float]], _ ys: [Int], weights: [Float], rng: inout SplitMix64,
                         inputGradients: Bool = false) -> (loss: Float, grads: [[Float]], inputs: [[Float]]) {
        var grads = parameters.map { [Float](repeating: 0, count: $0.count) }
        var dInputs: [[Float]] = []
        var loss: Float = 0, total: Float = 0
        for (x0, y) in zip(xs, ys) {
            let x = standardise(x0)
            let w = weights[y]
            total += w
            var h: [Float] = [], mask: [Float] = []
            let z: [Float]
            if kind == .mlp {
                let pre = Self.affine(parameters[0], parameters[1], x, rows: hidden, cols: inputs)
                mask = (0..<hidden).map { i in pre[i] > 0 ? (rng.unit() < dropout ? 0 : 1 / (1 - dropout)) : 0 }
                h = (0..<hidden).map { pre[$0] * mask[$0] }
                z = Self.affine(parameters[2], parameters[3], h, rows: classes, cols: hidden)
            } else {
                z = Self.affine(parameters[0], parameters[1], x, rows: classes, cols: inputs)
            }
            let m = z.max()!
            let e = z.map { exp($0 - m) }
            let s = e.reduce(0, +)
            loss += w * (log(s) + m - z[y])
            let dz = (0..<classes).map { w * (e[$0] / s - ($0 == y ? 1 : 0)) }
            if kind == .mlp {
                var dh = [Float](repeating: 0, count: hidden)
                for c in 0..<classes {
                    grads[3][c] += dz[c]
                    for j in 0..<hidden {
                        grads[2][c * hidden + j] += dz[c] * h[j]
                        dh[j] += dz[c] * parameters[2][c * hidden + j]
                    }
                }
                var dx = [Float](repeating: 0, count: inputGradients ? inputs : 0)
                for j in 0..<hidden where mask[j] != 0 {
                    let g = dh[j] * mask[j]
                    grads[1][j] += g
                    for i in 0..<inputs { grads[0][j * inputs + i] += g * x[i] }
                    if inputGradients { for i in 0..<inputs { dx[i] += g * parameters[0][j * inputs + i] } }
                }
                if inputGradients { dInputs.append((0..<inputs).map { dx[$0] * scale[$0] }) }
            } else {
                var dx = [Float](repeating: 0, count: inputGradients ? inputs : 0)
                for c in 0..<classes {
                    grads[1][c] += dz[c]
                    for i in 0..<inputs { grads[0][c * inputs + i] += dz[c] * x[i] }
                    if inputGradients { for i in 0..<inputs { dx[i] += dz[c] * parameters[0][c * inputs + i] } }
                }
                if inputGradients { dInputs.append((0..<inputs).map { dx[$0] * scale[$0] }) }
            }
        }
        let n = max(total, 1e-12)
        return (loss / n, grads.map { $0.map { $0 / n } }, dInputs.map { $0.map { $0 / n } })
    }

    /// Mean weighted cross-entropy at inference (no dropout).
    public func loss(_ xs: [[Float]], _ ys: [Int], weights: [Float]) -> Float {
        Self.crossEntropy(xs.map(logits), ys, weights: weights)
    }

    /// Mean weighted cross-entropy of logits.
    public static func crossEntropy(_ logits: [[Float]], _ ys: [Int], weights: [Float]) -> Float {
        var loss: Float = 0, total: Float = 0
        for (z, y) in zip(logits, ys) {
            let m = z.max()!
            loss += weights[y] * (log(z.map { exp($0 - m) }.reduce(0, +)) + m - z[y])
            total += weights[y]
        }
        return loss / max(total, 1e-12)
    }
}

/// Input standardisation of linear and MLP heads: x' = (x − μ) / max(σ, floor), with μ and σ the
/// training embeddings' mean and (population) deviation per feature and
/// floor = `floorFraction` × the root-mean-square of all features' deviations.
///
/// Why a floor relative to the embedding's own scale, and not scikit-learn's StandardScaler rule
/// (scale 1 for features constant in training, 1/σ for all others): pooled CNN features of a small
/// cohort include many ReLU/ReLU6 channels that are zero, or non-zero on one image only, in the
/// training set (EfficientNet-Lite0 on the 16 chest X-rays: 73 of 1,280 channels have zero
/// deviation and 140 are non-zero on at most one image). StandardScaler leaves a feature that was
/// non-zero once, at a small value, with σ tiny and a scale in the thousands, so the same feature
/// on a new image becomes ±10³ or more after standardisation; and its "scale 1" for constant
/// features depends on the units of the features (harmless for pooled activations of order 0.1–1,
/// an explosion or a vanishing input elsewhere). With the floor no feature is amplified more than
/// 1/`floorFraction` = 10 times as much as a typical feature of the same embedding, whatever the
/// units; features whose deviation is above the floor (the great majority) are standardised
/// exactly as StandardScaler does. Checked on the 16 chest X-rays, leave-one-patient-out, with
/// scikit-learn's L2 logistic regression on the PyTorch/Keras embeddings (scripts/training_reference.py):
/// pooled log loss 0.85 / 0.71 / 2.85 (EfficientNet-Lite0 / MobileNetV2 / Xception) with
/// StandardScaler's rule against 0.35 / 0.62 / 1.47 with the floor. The fraction 0.1 was picked
/// among 0.01, 0.1, 0.3 and 1 in a trial run on the same images (0.01–0.3 within about 0.05 of
/// each other), so the floor's numbers there are slightly optimistic; it is a round number, not a fit.
public enum Standardisation {
    public static let floorFraction: Double = 0.1

    /// Mean and scale (1 / floored deviation) of `embeddings`, computed in Double.
    public static func fit(_ embeddings: [[Float]]) -> (mean: [Float], scale: [Float]) {
        guard let dim = embeddings.first?.count else { return ([], []) }
        let n = Double(embeddings.count)
        var sum = [Double](repeating: 0, count: dim)
        for x in embeddings { for i in 0..<dim { sum[i] += Double(x[i]) } }
        let mean = sum.map { $0 / n }
        var squares = [Double](repeating: 0, count: dim)
        for x in embeddings { for i in 0..<dim { let d = Double(x[i]) - mean[i]; squares[i] += d * d } }
        let deviation = squares.map { ($0 / n).squareRoot() }
        let rms = (deviation.reduce(0) { $0 + $1 * $1 } / Double(dim)).squareRoot()
        // An embedding constant in every feature has no scale at all: leave it unscaled.
        let floor = rms > 0 ? floorFraction * rms : 1
        return (mean.map { Float($0) }, deviation.map { Float(1 / max($0, floor)) })
    }
}

/// Adam with weight decay on weights (not biases), in one of two forms. Heads (`decoupled`
/// false): the decay is an L2 penalty in the objective — the gradient of (λ/2)‖W‖² is added to
/// the loss's before Adam's moments —, so a head minimises mean class-weighted cross-entropy +
/// (λ/2)‖W‖², a fixed objective that any solver reaches (for a linear two-class head it is
/// scikit-learn's LogisticRegression with C = 2 / (λ n); see scripts/training_reference.py).
/// Backbone blocks being fine-tuned (`decoupled` true): AdamW (Loshchilov & Hutter), the usual
/// form for fine-tuning, the decay applied to the weights directly.
struct AdamW {
    var learningRate: Float
    var weightDecay: Float
    var decoupled = true
    var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    var m: [[Float]], v: [[Float]]
    var step = 0

    init(shapes: [[Float]], learningRate: Float, weightDecay: Float, decoupled: Bool = true) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = shapes.map { [Float](repeating: 0, count: $0.count) }
        v = m
    }

    /// Updates `parameters` in place; even-indexed tensors are weights (decayed), odd are biases.
    mutating func update(_ parameters: inout [[Float]], _ grads: [[Float]], rate: Float) {
        update(&parameters, summing: [grads], rate: rate)
    }

    /// The same with the gradient given as parts to add (in order; one or two, as the slices of a
    /// batch give them). Large tensors are updated in chunks on every core (each element's
    /// arithmetic is the same).
    mutating func update(_ parameters: inout [[Float]], summing parts: [[[Float]]], rate: Float) {
        precondition(parts.count == 1 || parts.count == 2, "one or two gradient parts")
        step += 1
        let c1 = 1 - pow(beta1, Float(step)), c2 = 1 - pow(beta2, Float(step))
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        for t in parameters.indices {
            let decay = t % 2 == 0 && decoupled ? weightDecay : 0, penalty = t % 2 == 0 && !decoupled ? weightDecay : 0
            let first = parts[0][t], second = parts.count == 2 ? parts[1][t] : []
            parameters[t].withUnsafeMutableBufferPointer { p in
                m[t].withUnsafeMutableBufferPointer { m in
                    v[t].withUnsafeMutableBufferPointer { v in
                        first.withUnsafeBufferPointer { g0 in
                            second.withUnsafeBufferPointer { g1 in
                                // (An empty array's buffer may still have an address: decide by the count.)
                                let (pp, mp, vp, gp) = (p.baseAddress!, m.baseAddress!, v.baseAddress!, g0.baseAddress!)
                                let hp = g1.count == p.count ? g1.baseAddress : nil
                                let chunks = p.count >= 1 << 16 ? 8 : 1
                                @inline(__always) func step(_ i: Int, _ loss: Float) {
                                    let g = loss + penalty * pp[i]
                                    mp[i] = b1 * mp[i] + (1 - b1) * g
                                    vp[i] = b2 * vp[i] + (1 - b2) * g * g
                                    pp[i] -= rate * ((mp[i] / c1) / ((vp[i] / c2).squareRoot() + eps) + decay * pp[i])
                                }
                                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                                    let range = (chunk * p.count / chunks)..<((chunk + 1) * p.count / chunks)
                                    if let hp { for i in range { step(i, gp[i] + hp[i]) } } else { for i in range { step(i, gp[i]) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
