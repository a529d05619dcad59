import DICOM
import Evaluation
import Foundation
import Imaging
import Store

/// A calibration run as HTML: the reliability diagram before and after, the bins, and ECE, Brier
/// and log loss before and after, with the chosen operating threshold.
public enum CalibrationPage {
    public static func write(head: String, method: String, threshold: Double, rule: String, n: Int,
                             before: [String: Double], after: [String: Double],
                             reliabilityBefore: CalibrationBins, reliabilityAfter: CalibrationBins, to directory: String) throws -> String {
        let e = HTML.escape
        func points(_ b: CalibrationBins) -> [(Double, Double)] {
            b.bins.compactMap { bin in bin.meanScore.flatMap { s in bin.meanLabel.map { (s, $0) } } }
        }
        var body = "<h1>dxkit calibration: \(e(head))</h1><p class=\"muted\">\(e(method)) on \(n) labelled results; operating threshold \(String(format: "%.4f", threshold)) (\(e(rule)))</p>"
        body += "<table><tr><th>metric</th><th>before</th><th>after</th></tr>"
        for key in ["ece", "brier", "log_loss"] {
            body += "<tr><td>\(key)</td><td>\(String(format: "%.4f", before[key] ?? .nan))</td><td>\(String(format: "%.4f", after[key] ?? .nan))</td></tr>"
        }
        body += "</table><div class=\"card\">"
        body += Chart(title: "reliability diagram", xLabel: "mean predicted probability", yLabel: "observed rate",
                      series: [Chart.Series(name: "before", points: points(reliabilityBefore), markers: true),
                               Chart.Series(name: "after (\(method))", points: points(reliabilityAfter), markers: true)],
                      diagonal: "perfect calibration", legendCorner: .topLeft).svg(width: 320, height: 280) + "</div>"
        body += "<table><tr><th>bin</th><th>n before</th><th>observed before</th><th>n after</th><th>observed after</th></tr>"
        for (b, a) in zip(reliabilityBefore.bins, reliabilityAfter.bins) where b.count > 0 || a.count > 0 {
            func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
            body += "<tr><td>\(String(format: "%.2f–%.2f", b.lower, b.upper))</td><td>\(b.count)</td><td>\(f(b.meanLabel))</td><td>\(a.count)</td><td>\(f(a.meanLabel))</td></tr>"
        }
        body += "</table>"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/calibration-\(SafeName.file(head)).html"
        try HTML.page(title: "dxkit calibration \(head)", body: body).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
