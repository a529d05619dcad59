@testable import Evaluation
import Foundation
import XCTest

/// The cohort-scale algorithms against the textbook ones they replace: the bootstrap (one weighted
/// pass per replicate over the scores' single sort, replicates on any number of threads) equals a
/// serial loop that resamples, re-sorts and recomputes every metric from its definition; DeLong's
/// interval equals the O(n²) pairwise definition; thresholds equal a scan of every candidate.
final class CohortScaleTests: XCTestCase {
    /// Scores on a coarse grid (many ties) with a group structure, seeded.
    func cohort(_ n: Int, seed: UInt64, grid: Double = 200) -> (scores: [Double], labels: [Int]) {
        var state = seed
        func unit() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        var scores: [Double] = [], labels: [Int] = []
        for _ in 0..<n {
            let y = unit() < 0.2 ? 1 : 0
            let z = (unit() - 0.5) * 4 + Double(y) * 1.2
            scores.append(((1 / (1 + exp(-z))) * grid).rounded() / grid)
            labels.append(y)
        }
        return (scores, labels)
    }

    func testBootstrapEqualsTheSerialResampleAndSortLoop() {
        let (scores, labels) = cohort(700, seed: 5)
        let e = BinaryEvaluation(scores: scores, labels: labels)
        let fast = Bootstrap(replicates: 150, seed: 42).intervals(e, threshold: 0.5, bins: 15)
        let slow = NaiveBootstrap.intervals(scores, labels, replicates: 150, seed: 42, threshold: 0.5, bins: 15)
        XCTAssertEqual(Set(fast.keys), Set(slow.keys))
        XCTAssertEqual(fast.count, 12)
        for (name, (lo, hi)) in slow {
            XCTAssertEqual(fast[name]!.0, lo, accuracy: 1e-12, name)
            XCTAssertEqual(fast[name]!.1, hi, accuracy: 1e-12, name)
            XCTAssertLessThan(lo, hi, "\(name): a real interval")
        }
    }

    func testBootstrapIsTheSameOnAnyNumberOfThreadsAndChangesWithTheSeed() {
        let (scores, labels) = cohort(1500, seed: 9, grid: 1e6)
        let e = BinaryEvaluation(scores: scores, labels: labels)
        let one = Bootstrap(replicates: 101, seed: 7, threads: 1).replicateValues(e.ranked, threshold: 0.4, bins: 10)
        for threads in [2, 3, 8] {
            let many = Bootstrap(replicates: 101, seed: 7, threads: threads).replicateValues(e.ranked, threshold: 0.4, bins: 10)
            for (a, b) in zip(one, many) { XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(threads) threads") }
        }
        let other = Bootstrap(replicates: 101, seed: 8).intervals(e, threshold: 0.4, bins: 10)["auroc"]!
        let first = Bootstrap(replicates: 101, seed: 7).intervals(e, threshold: 0.4, bins: 10)["auroc"]!
        XCTAssertNotEqual(first.0, other.0)
    }

    func testStreamJumpsLandWhereSerialStepsDo() {
        var serial = ResamplingStream(seed: 123)
        for _ in 0..<1000 { serial.state = serial.state &* ResamplingStream.multiplier &+ ResamplingStream.increment }
        var jumped = ResamplingStream(seed: 123)
        jumped.skip(1000)
        XCTAssertEqual(jumped.state, serial.state)
        // Scattering 37 draws leaves the state 37 steps on, whatever the lane split.
        var counts = [Int32](repeating: 0, count: 5), targets: [Int32] = [0, 1, 2, 3, 4]
        var s = ResamplingStream(seed: 123)
        s.scatter(count: 37, bound: 5, targets: &targets, into: &counts)
        var t = ResamplingStream(seed: 123)
        t.skip(37)
        XCTAssertEqual(s.state, t.state)
        XCTAssertEqual(counts.reduce(0, +), 37)
        // And each draw is (state >> 33) mod bound of the serial stream.
        var expected = [Int32](repeating: 0, count: 5), u = ResamplingStream(seed: 123)
        for _ in 0..<37 {
            u.state = u.state &* ResamplingStream.multiplier &+ ResamplingStream.increment
            expected[Int((u.state >> 33) % 5)] += 1
        }
        XCTAssertEqual(counts, expected)
    }

    func testDeLongEqualsThePairwiseDefinition() {
        for grid in [10.0, 1e6] {
            let (scores, labels) = cohort(400, seed: 3, grid: grid)
            let e = BinaryEvaluation(scores: scores, labels: labels)
            let pos = scores.indices.filter { labels[$0] == 1 }.map { scores[$0] }
            let neg = scores.indices.filter { labels[$0] == 0 }.map { scores[$0] }
            func psi(_ p: Double, _ q: Double) -> Double { p > q ? 1 : p == q ? 0.5 : 0 }
            let v10 = pos.map { p in neg.map { psi(p, $0) }.reduce(0, +) / Double(neg.count) }
            let v01 = neg.map { q in pos.map { psi($0, q) }.reduce(0, +) / Double(pos.count) }
            func variance(_ v: [Double]) -> Double {
                let m = v.reduce(0, +) / Double(v.count)
                return v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)
            }
            let auc = v10.reduce(0, +) / Double(v10.count)
            let se = (variance(v10) / Double(pos.count) + variance(v01) / Double(neg.count)).squareRoot()
            XCTAssertEqual(e.auroc!, auc, accuracy: 1e-12)
            XCTAssertEqual(e.aurocDeLong!.0, auc - 1.959963984540054 * se, accuracy: 1e-12, "grid \(grid)")
            XCTAssertEqual(e.aurocDeLong!.1, auc + 1.959963984540054 * se, accuracy: 1e-12, "grid \(grid)")
        }
    }

    func testOperatingPointsEqualAScanOfEveryThreshold() {
        let (scores, labels) = cohort(300, seed: 11, grid: 50)
        let e = BinaryEvaluation(scores: scores, labels: labels)
        var best = 0.5, bestJ = -Double.infinity
        for t in Set(scores).sorted(by: >) {
            let at = e.at(t)
            let j = at.sensitivity! + at.specificity! - 1
            if j > bestJ + 1e-15 { bestJ = j; best = t }
        }
        XCTAssertEqual(OperatingPoint.youden(scores: scores, labels: labels), best)
        for target in [0.5, 0.9, 0.99] {
            let want = Set(scores).sorted(by: >).first { e.at($0).sensitivity! >= target }!
            XCTAssertEqual(OperatingPoint.forSensitivity(target, scores: scores, labels: labels), want)
        }
    }

    func testTemperatureIsTheMinimumOrTheNearestBound() {
        let (scores, labels) = cohort(2000, seed: 21, grid: 1e6)
        let z = scores.map(TemperatureScaling.logit)
        func nll(_ t: Double, _ ys: [Int]) -> Double {
            zip(z, ys).map { z, y in let u = z / t; return (u > 0 ? u + log1p(exp(-u)) : log1p(exp(u))) - (y == 1 ? u : 0) }
                .reduce(0, +) / Double(z.count)
        }
        let t = TemperatureScaling.fit(logits: z, labels: labels)
        XCTAssertLessThan(nll(t, labels), nll(t * 1.001, labels))
        XCTAssertLessThan(nll(t, labels), nll(t / 1.001, labels))
        XCTAssertGreaterThan(t, 0.01)
        XCTAssertLessThan(t, 100)
        // Scores that rank the wrong way round: the best temperature in range is the largest.
        XCTAssertEqual(TemperatureScaling.fit(logits: z, labels: labels.map { 1 - $0 }), 100, accuracy: 1e-9)
    }
}

/// The textbook bootstrap, as dxkit computed it before issue 17: a serial stream of draws,
/// resampled arrays, and every metric from its definition on a fresh sort.
enum NaiveBootstrap {
    static func intervals(_ scores: [Double], _ labels: [Int], replicates: Int, seed: UInt64, threshold: Double,
                          bins: Int) -> [String: (Double, Double)] {
        let pos = labels.indices.filter { labels[$0] == 1 }, neg = labels.indices.filter { labels[$0] == 0 }
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var samples: [String: [Double]] = [:]
        for _ in 0..<replicates {
            let idx = pos.map { _ in pos[next(pos.count)] } + neg.map { _ in neg[next(neg.count)] }
            let s = idx.map { scores[$0] }, y = idx.map { labels[$0] }
            let p = Double(y.filter { $0 == 1 }.count), q = Double(y.count) - p
            // AUROC by midranks.
            let order = s.indices.sorted { s[$0] < s[$1] }
            var ranks = [Double](repeating: 0, count: s.count), i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && s[order[j + 1]] == s[order[i]] { j += 1 }
                for k in i...j { ranks[order[k]] = Double(i + j) / 2 + 1 }
                i = j + 1
            }
            let auroc = (zip(ranks, y).filter { $0.1 == 1 }.map(\.0).reduce(0, +) - p * (p + 1) / 2) / (p * q)
            // Average precision over distinct thresholds, highest first.
            let desc = s.indices.sorted { s[$0] > s[$1] }
            var tp = 0.0, fp = 0.0, ap = 0.0, previous = 0.0, a = 0
            while a < desc.count {
                var b = a
                while b < desc.count && s[desc[b]] == s[desc[a]] { if y[desc[b]] == 1 { tp += 1 } else { fp += 1 }; b += 1 }
                ap += (tp / p - previous) * (tp / (tp + fp))
                previous = tp / p
                a = b
            }
            let n = Double(s.count)
            let brier = zip(s, y).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) / n
            let logLoss = zip(s, y).map { v, t in
                let c = min(max(v, Double.ulpOfOne), 1 - Double.ulpOfOne)
                return t == 1 ? -log(c) : -log(1 - c)
            }.reduce(0, +) / n
            var binS = [Double](repeating: 0, count: bins), binY = binS, binN = binS
            for (v, t) in zip(s, y) {
                let b = min(max(Int(v * Double(bins)), 0), bins - 1)
                binS[b] += v; binY[b] += Double(t); binN[b] += 1
            }
            let ece = (0..<bins).filter { binN[$0] > 0 }.map { abs(binY[$0] / binN[$0] - binS[$0] / binN[$0]) * binN[$0] / n }.reduce(0, +)
            let ctp = Double(zip(s, y).filter { $0.0 >= threshold && $0.1 == 1 }.count)
            let cfp = Double(zip(s, y).filter { $0.0 >= threshold && $0.1 == 0 }.count)
            let fn = p - ctp, tn = q - cfp
            var values: [String: Double] = ["auroc": auroc, "auprc": ap, "brier": brier, "log_loss": logLoss, "ece": ece,
                                            "sensitivity": ctp / p, "specificity": tn / q, "npv": tn / (tn + fn),
                                            "f1": 2 * ctp / (2 * ctp + cfp + fn), "accuracy": (ctp + tn) / n, "selection_rate": (ctp + cfp) / n]
            if ctp + cfp > 0 { values["ppv"] = ctp / (ctp + cfp) }
            for (k, v) in values { samples[k, default: []].append(v) }
        }
        return samples.mapValues { values in
            let s = values.sorted()
            func q(_ p: Double) -> Double {
                let x = p * Double(s.count - 1)
                let lo = Int(x), hi = min(lo + 1, s.count - 1)
                return s[lo] + (s[hi] - s[lo]) * (x - Double(lo))
            }
            return (q(0.025), q(0.975))
        }
    }
}
