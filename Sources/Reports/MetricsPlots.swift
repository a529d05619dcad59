import DICOM
import Evaluation
import Foundation
import Imaging

/// The ROC, precision–recall and reliability charts of a metrics result (`dxkit metrics --plots
/// DIR`): `roc`, `pr` and `reliability` of all scores, and with group columns one of each per
/// column with a curve per group (`roc-<column>` …), each as PNG and SVG.
public enum MetricsPlots {
    /// The charts by file stem.
    public static func charts(_ result: MetricsResult) -> [(String, Chart)] {
        var named: [(String, [(String, MetricsSummary)])] = [("", [("all", result.summary)])]
        switch result.groups {
        case let .single(groups)?:
            named.append(("-" + SafeName.file(result.groupColumn ?? "group"),
                          [("all", result.summary)] + groups.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        case let .byColumn(columns)?:
            for (column, c) in columns.sorted(by: { $0.key < $1.key }) {
                named.append(("-" + SafeName.file(column), [("all", result.summary)] + c.groups.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
            }
        case nil: break
        }
        var out: [(String, Chart)] = []
        for (suffix, summaries) in named {
            let of = suffix.isEmpty ? "" : " by \(suffix.dropFirst())"
            func label(_ name: String, _ s: MetricsSummary, _ metric: String, _ value: Double?) -> String {
                "\(name) (n \(s.n)\(value.map { String(format: ", \(metric) %.3f", $0) } ?? ""))"
            }
            out.append(("roc" + suffix, Chart(
                title: "ROC" + of, xLabel: "false positive rate (1 - specificity)", yLabel: "true positive rate (sensitivity)",
                series: summaries.compactMap { name, s in
                    s.roc.map { Chart.Series(name: label(name, s, "AUROC", s.auroc), points: Array(zip($0.fpr, $0.tpr))) }
                }, diagonal: "chance")))
            out.append(("pr" + suffix, Chart(
                title: "precision-recall" + of, xLabel: "recall (sensitivity)", yLabel: "precision (PPV)",
                series: summaries.compactMap { name, s in
                    s.pr.map { Chart.Series(name: label(name, s, "AP", s.auprc), points: Array(zip($0.recall, $0.precision))) }
                }, legendCorner: .bottomLeft)))
            out.append(("reliability" + suffix, Chart(
                title: "reliability" + of, xLabel: "mean predicted probability", yLabel: "observed rate",
                series: summaries.map { name, s in
                    Chart.Series(name: label(name, s, "ECE", s.ece), points: s.reliability.map { ($0.meanScore, $0.observed) }, markers: true)
                }, diagonal: "perfect calibration", legendCorner: .topLeft)))
        }
        return out
    }

    /// Writes every chart as `<stem>.png` and `<stem>.svg` into `directory`; returns the PNG paths.
    public static func write(_ result: MetricsResult, to directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try charts(result).map { stem, chart in
            let png = "\(directory)/\(stem).png"
            try chart.png(to: png)
            try chart.svg().write(toFile: "\(directory)/\(stem).svg", atomically: true, encoding: .utf8)
            return png
        }
    }
}
