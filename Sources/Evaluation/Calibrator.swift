import Foundation

/// A fitted map from raw to calibrated probabilities: temperature scaling on the logit (Guo et
/// al.), Platt scaling (logistic regression on the logit), or isotonic regression (pool adjacent
/// violators, linear between fitted points, clipped outside them — as scikit-learn's
/// IsotonicRegression(out_of_bounds="clip")).
public enum Calibrator: Codable, Sendable, Equatable {
    case temperature(Double)
    case platt(a: Double, b: Double)
    case isotonic(x: [Double], y: [Double])

    /// logit = log(s / (1 − s)), scores clipped away from 0 and 1.
    public static func logit(_ s: Double) -> Double {
        let p = min(max(s, 1e-12), 1 - 1e-12)
        return log(p / (1 - p))
    }

    public var method: String {
        switch self {
        case .temperature: return "temperature"
        case .platt: return "platt"
        case .isotonic: return "isotonic"
        }
    }

    public func apply(_ s: Double) -> Double {
        switch self {
        case let .temperature(t): return 1 / (1 + exp(-Self.logit(s) / t))
        case let .platt(a, b): return 1 / (1 + exp(-(a * Self.logit(s) + b)))
        case let .isotonic(x, y):
            guard let first = x.first, let last = x.last else { return s }
            if s <= first { return y[0] }
            if s >= last { return y[y.count - 1] }
            var lo = 0, hi = x.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if x[mid] <= s { lo = mid } else { hi = mid }
            }
            return x[hi] == x[lo] ? y[lo] : y[lo] + (y[hi] - y[lo]) * (s - x[lo]) / (x[hi] - x[lo])
        }
    }

}
