#!/usr/bin/env bash
# Builds a small consumer package that depends on dxkit by version, as another project would:
# `.package(url: "file://<clone>", from: "0.1.0")` against a clone of this repository's HEAD tagged
# 0.1.0, importing DICOM, Imaging, Engine, Models, Scoring, Store, Training, Evaluation and Reports.
# SwiftPM refuses dependencies with unsafe build flags, so this also proves there are none.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/dxkit-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone --quiet . "$work/dxkit"
git -C "$work/dxkit" tag 0.1.0
mkdir -p "$work/consumer/Sources/consumer"
cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/dxkit", from: "0.1.0")],
    targets: [.executableTarget(name: "consumer", dependencies: [
        .product(name: "DICOM", package: "dxkit"), .product(name: "Imaging", package: "dxkit"),
        .product(name: "Engine", package: "dxkit"), .product(name: "Models", package: "dxkit"),
        .product(name: "Pipeline", package: "dxkit"), .product(name: "Store", package: "dxkit"),
        .product(name: "Training", package: "dxkit"), .product(name: "Evaluation", package: "dxkit"),
        .product(name: "Reports", package: "dxkit"),
    ], swiftSettings: [.swiftLanguageMode(.v5)])]
)
SWIFT
cat > "$work/consumer/Sources/consumer/main.swift" <<'SWIFT'
import DICOM
import Engine
import Evaluation
import Imaging
import Models
import Reports
import Pipeline
import Store
import Training

// A use of each module, so that every product links.
let tags = [Tag.sopInstanceUID.description]
let limits = DecodeLimits.standard
let tensor = Tensor(shape: [1, 1, 1, 1], data: [1])
let search = ModelSearch(folders: [])
print("consumer built against dxkit: \(tags[0]), \(limits.maxPixelsPerFrame) pixels, \(tensor.count) value, \(search.folders.count) folders,",
      String(describing: ScoreJob.self), String(describing: IndexDatabase.self), String(describing: ReportWriter.self),
      String(describing: TrainingRun.self), String(describing: BinaryEvaluation.self))
if let path = CommandLine.arguments.dropFirst().first {
    let inspection = Inspection(path: path)
    print(inspection.decoded ? "decoded \(path)" : "not decoded: \(inspection.error ?? "?")")
}
SWIFT
echo "check-package: building the consumer (dxkit from file://$work/dxkit, from: 0.1.0)"
(cd "$work/consumer" && swift build 2>&1 | tail -3)
"$work/consumer/.build/debug/consumer" "$PWD/studies/rg1/RG1_UNCI.dcm"
echo "check-package: ok"
