import Evaluation
import Foundation
import XCTest

/// Every metric against scikit-learn / Fairlearn / SciPy on the same inputs (Fixtures, by
/// scripts/metrics_oracle.py), to 1e-9; edge cases; temperature recovery; bootstrap-free DeLong.
final class MetricsTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func oracle() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("metrics-oracle.json"))) as! [String: Any]
    }

    func compare(_ got: [String: Any], _ want: [String: Any], _ context: String, tolerance: Double = 1e-9) {
        for (key, expected) in want where key != "groups" {
            let actual = got[key]
            if expected is NSNull {
                XCTAssertTrue(actual is NSNull, "\(context) \(key): expected null, got \(String(describing: actual))")
            } else if let e = expected as? Double {
                let a = (actual as? Double) ?? (actual as? Int).map(Double.init) ?? .nan
                // The temperature is an optimum found by two different searches: compare to 1e-6.
                let tol = key == "temperature" ? 1e-6 : tolerance
                XCTAssertEqual(a, e, accuracy: tol * max(1, abs(e)), "\(context) \(key)")
            } else if let e = expected as? [Double] {
                let a = actual as? [Double] ?? []
                XCTAssertEqual(a.count, e.count, "\(context) \(key)")
                for (x, y) in zip(a, e) { XCTAssertEqual(x, y, accuracy: tolerance, "\(context) \(key)") }
            } else if let e = expected as? Int {
                XCTAssertEqual(actual as? Int, e, "\(context) \(key)")
            }
        }
    }

    func testMetricsEqualScikitLearnAndFairlearn() throws {
        let want = try oracle()["scores_csv"] as! [String: Any]
        let report = try MetricsReport.load(csv: fixtures.appendingPathComponent("scores.csv").path, scoreColumn: "score",
                                            labelColumn: "label", groupColumns: ["sex"], threshold: 0.5, bins: 15)
        let got = object(report.json())
        compare(got, want, "all")
        let reliability = got["reliability"] as! [[String: Any]]
        XCTAssertEqual(reliability.map { $0["n"] as! Int }.reduce(0, +), 400, "reliability bins cover every score")
        let adaptive = got["ece_adaptive"] as! Double
        XCTAssertGreaterThan(adaptive, 0)
        XCTAssertLessThan(abs(adaptive - (got["ece"] as! Double)), 0.1, "equal-mass and equal-width ECE agree roughly")
        let groupsWant = want["groups"] as! [String: [String: Any]]
        let groupsGot = got["groups"] as! [String: [String: Any]]
        XCTAssertEqual(Set(groupsGot.keys), Set(groupsWant.keys))
        for (g, w) in groupsWant { compare(groupsGot[g]!, w, "group \(g)") }
    }

    func testTiesAndSmallSamples() throws {
        let want = try oracle()["ties_csv"] as! [String: Any]
        let result = try MetricsReport.load(csv: fixtures.appendingPathComponent("ties.csv").path, scoreColumn: "score",
                                         labelColumn: "label", groupColumns: [], threshold: 0.5, bins: 15).json()
        let got = object(result)
        compare(got, want, "ties")
        XCTAssertEqual(got["small_sample"] as? Bool, false)
        // One class: AUROC and its interval are undefined, the rest still computed.
        let one = object(MetricsReport(evaluation: BinaryEvaluation(scores: [0.1, 0.7, 0.4], labels: [1, 1, 1])).json())
        XCTAssertTrue(one["auroc"] is NSNull && one["auroc_ci"] is NSNull)
        XCTAssertTrue(one["specificity"] is NSNull)
        XCTAssertEqual(one["small_sample"] as? Bool, true)
    }

    func testTemperatureScalingRecoversAKnownTemperature() {
        // Labels drawn from sigmoid(z); scores reported as sigmoid(z * 2.5): the fitted T is about 2.5.
        var state: UInt64 = 12345
        func unit() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return Double(state >> 11) / Double(1 << 53) }
        var scores: [Double] = [], labels: [Int] = []
        for _ in 0..<20000 {
            let z = (unit() * 2 - 1) * 4
            labels.append(unit() < 1 / (1 + exp(-z)) ? 1 : 0)
            scores.append(1 / (1 + exp(-z * 2.5)))
        }
        let t = TemperatureScaling.fit(logits: scores.map(TemperatureScaling.logit), labels: labels)
        XCTAssertEqual(t, 2.5, accuracy: 0.1)
        let calibrated = scores.map { TemperatureScaling.apply($0, temperature: t) }
        XCTAssertLessThan(CalibrationBins(BinaryEvaluation(scores: calibrated, labels: labels)).ece,
                          CalibrationBins(BinaryEvaluation(scores: scores, labels: labels)).ece / 3)
    }

    func testBadRowsAreRefusedWithLineNumbers() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-\(UUID().uuidString).csv").path
        try "score,label\n0.2,1\nabc,0\n0.4,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try MetricsReport.load(csv: path, scoreColumn: "score", labelColumn: "label", groupColumns: [],
                                                    threshold: 0.5, bins: 15)) { error in
            XCTAssertTrue("\(error)".contains("line 3: score 'abc'") && "\(error)".contains("line 4: label '2'"), "\(error)")
        }
        XCTAssertThrowsError(try MetricsReport.load(csv: path, scoreColumn: "prob", labelColumn: "label", groupColumns: [],
                                                    threshold: 0.5, bins: 15))
    }
}

/// The stratified bootstrap's 95% intervals cover the true AUROC and sensitivity at about the
/// nominal rate in a simulation with known truth (binormal scores).
final class BootstrapCoverageTests: XCTestCase {
    func testIntervalsCoverTheTruthAtAboutTheNominalRate() {
        var state: UInt64 = 99
        func unit() -> Double { state = state &* 6364136223846793005 &+ 1442695040888963407; return (Double(state >> 11) + 0.5) / Double(1 << 53) }
        func normal() -> Double { (-2 * log(unit())).squareRoot() * cos(2 * .pi * unit()) }
        func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
        // Positives N(1, 1), negatives N(0, 1), score = sigmoid(x); threshold 0.5 ⇔ x ≥ 0.
        let trueAUROC = phi(1 / 2.0.squareRoot()), trueSensitivity = phi(1)
        var coveredAUROC = 0, coveredSensitivity = 0
        let simulations = 120
        for _ in 0..<simulations {
            var scores: [Double] = [], labels: [Int] = []
            for i in 0..<150 {
                let y = i < 60 ? 1 : 0
                labels.append(y)
                scores.append(1 / (1 + exp(-(normal() + Double(y)))))
            }
            let ci = Bootstrap(replicates: 300, seed: state).intervals(BinaryEvaluation(scores: scores, labels: labels), threshold: 0.5, bins: 15)
            if let a = ci["auroc"], a.0 <= trueAUROC, trueAUROC <= a.1 { coveredAUROC += 1 }
            if let s = ci["sensitivity"], s.0 <= trueSensitivity, trueSensitivity <= s.1 { coveredSensitivity += 1 }
        }
        let rateA = Double(coveredAUROC) / Double(simulations), rateS = Double(coveredSensitivity) / Double(simulations)
        print("bootstrap coverage: AUROC \(rateA), sensitivity \(rateS) (nominal 0.95)")
        XCTAssertGreaterThan(rateA, 0.85)
        XCTAssertLessThan(rateA, 0.995)
        XCTAssertGreaterThan(rateS, 0.85)
        XCTAssertLessThan(rateS, 0.995)
    }
}

/// Calibrators against scikit-learn (IsotonicRegression, unpenalised LogisticRegression on the logit).
final class CalibratorTests: XCTestCase {
    func testIsotonicAndPlattEqualScikitLearn() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let oracle = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("metrics-oracle.json"))) as! [String: Any]
        let want = oracle["calibration"] as! [String: Any]
        let report = try MetricsReport.load(csv: fixtures.appendingPathComponent("scores.csv").path, scoreColumn: "score",
                                            labelColumn: "label", groupColumns: [], threshold: 0.5, bins: 15)
        let e = report.evaluation
        let iso = try CalibratorFitting.fit("isotonic", scores: e.scores, labels: e.labels)
        for (x, y) in zip(want["probe"] as! [Double], want["isotonic"] as! [Double]) {
            XCTAssertEqual(iso.apply(x), y, accuracy: 1e-9, "isotonic at \(x)")
        }
        guard case let .platt(a, b) = try CalibratorFitting.fit("platt", scores: e.scores, labels: e.labels) else {
            return XCTFail("not a Platt calibrator")
        }
        XCTAssertEqual(a, want["platt_a"] as! Double, accuracy: 1e-6)
        XCTAssertEqual(b, want["platt_b"] as! Double, accuracy: 1e-6)
        // Youden and target sensitivity pick thresholds with the promised property.
        let youden = OperatingPoint.youden(scores: e.scores, labels: e.labels)
        let j = { (t: Double) -> Double in let at = e.at(t); return at.sensitivity! + at.specificity! - 1 }
        for t in Set(e.scores) { XCTAssertLessThanOrEqual(j(t), j(youden) + 1e-12) }
        let t90 = OperatingPoint.forSensitivity(0.9, scores: e.scores, labels: e.labels)
        XCTAssertGreaterThanOrEqual(e.at(t90).sensitivity!, 0.9)
    }
}

/// A dataset audit of a metadata manifest (no images) against SciPy's chi-square tests and
/// Wilson intervals computed independently in the oracle script.
final class DatasetAuditTests: XCTestCase {
    func testManifestAuditMatchesSciPy() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let oracle = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("metrics-oracle.json"))) as! [String: Any]
        let want = oracle["manifest"] as! [String: [String: Any]]
        let records = try DatasetAudit.manifest(fixtures.appendingPathComponent("manifest.csv").path,
                                                mapping: ["sex": "Gender", "manufacturer": "Scanner", "label": "Finding", "split": "Split"])
        XCTAssertEqual(records.count, 240)
        var audit = DatasetAudit()
        audit.attributes = ["sex", "manufacturer"]
        let got = object(audit.run(records))
        for attribute in ["sex", "manufacturer"] {
            let w = want[attribute]!
            let composition = (got["composition"] as! [String: [String: [String: Any]]])[attribute]!
            for (g, n) in w["counts"] as! [String: Int] { XCTAssertEqual(composition[g]?["n"] as? Int, n, "\(attribute) \(g)") }
            XCTAssertEqual((got["missingness"] as! [String: Double])[attribute]!, w["missing"] as! Double, accuracy: 1e-12)
            let prevalence = (got["label_prevalence"] as! [String: [String: Any]])[attribute]!
            let groups = prevalence["groups"] as! [String: [String: Any]]
            for (g, ci) in w["wilson"] as! [String: [Double]] {
                let mine = groups[g]!["ci"] as! [Double]
                XCTAssertEqual(mine[0], ci[0], accuracy: 1e-12)
                XCTAssertEqual(mine[1], ci[1], accuracy: 1e-12)
            }
            let chi = prevalence["chi_square"] as! [String: Any], expected = w["chi2"] as! [Double]
            XCTAssertEqual(chi["statistic"] as! Double, expected[0], accuracy: 1e-9)
            XCTAssertEqual(Double(chi["dof"] as! Int), expected[1])
            XCTAssertEqual(chi["p_value"] as! Double, expected[2], accuracy: 1e-9)
            let shift = (got["split_shift"] as! [String: [String: Any]])[attribute]!, s = w["split_chi2"] as! [Double]
            XCTAssertEqual(shift["statistic"] as! Double, s[0], accuracy: 1e-9)
            XCTAssertEqual(shift["p_value"] as! Double, s[2], accuracy: 1e-9)
        }
    }
}

/// A result as the JSON object its encoding gives (what `--json` prints and the index stores).
func object<T: Encodable>(_ value: T) -> [String: Any] {
    let data = try! JSONEncoder().encode(value)
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
}
