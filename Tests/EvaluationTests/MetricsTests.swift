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
        let got = report.json()
        compare(got, want, "all")
        let groupsWant = want["groups"] as! [String: [String: Any]]
        let groupsGot = got["groups"] as! [String: [String: Any]]
        XCTAssertEqual(Set(groupsGot.keys), Set(groupsWant.keys))
        for (g, w) in groupsWant { compare(groupsGot[g]!, w, "group \(g)") }
    }

    func testTiesAndSmallSamples() throws {
        let want = try oracle()["ties_csv"] as! [String: Any]
        let got = try MetricsReport.load(csv: fixtures.appendingPathComponent("ties.csv").path, scoreColumn: "score",
                                         labelColumn: "label", groupColumns: [], threshold: 0.5, bins: 15).json()
        compare(got, want, "ties")
        XCTAssertEqual(got["small_sample"] as? Bool, false)
        // One class: AUROC and its interval are undefined, the rest still computed.
        let one = MetricsReport(evaluation: BinaryEvaluation(scores: [0.1, 0.7, 0.4], labels: [1, 1, 1])).json()
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
