// swift-tools-version:6.1
import PackageDescription

/// dxkit: DICOM ingestion, pixel decoding and (later) scoring, calibration, audits and reports.
/// Data flows one way: DICOM → Imaging → Models (over Engine) → Training / Evaluation → Store → Reports,
/// with Pipeline's jobs above them all and the CLI above Pipeline (see README, "Layout").
let package = Package(
    name: "dxkit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dxkit", targets: ["dxkit"]),
        .library(name: "Common", targets: ["Common"]),
        .library(name: "DICOM", targets: ["DICOM"]),
        .library(name: "DICOMNetwork", targets: ["DICOMNetwork"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Reports", targets: ["Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // ONNX import: the runtime library only; Sources/Models/ONNX/onnx.pb.swift is generated once
        // (scripts/generate-onnx-proto.sh) and committed, the protoc plugin never runs in the build.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C shims: plain C headers only, nothing C++ leaks into Swift.
        .target(
            name: "CDCMTK",
            linkerSettings: [
                .linkedLibrary("dcmsr"), .linkedLibrary("dcmjpls"), .linkedLibrary("dcmjpeg"), .linkedLibrary("ijg8"),
                .linkedLibrary("ijg12"), .linkedLibrary("ijg16"), .linkedLibrary("dcmimage"),
                .linkedLibrary("dcmimgle"), .linkedLibrary("dcmdata"), .linkedLibrary("oflog"),
                .linkedLibrary("ofstd"), .linkedLibrary("z"), .linkedLibrary("stdc++"),
            ]),
        // dcmnet (DICOM upper layer, DIMSE) behind its own plain C header, apart from dcmdata's shim.
        .target(name: "CDCMTKNet", dependencies: ["CDCMTK"],
                linkerSettings: [.linkedLibrary("dcmnet"), .linkedLibrary("dcmdata"), .linkedLibrary("oflog"),
                                 .linkedLibrary("ofstd"), .linkedLibrary("stdc++")]),
        .target(name: "CCrashGuard"),
        .systemLibrary(name: "COpenJPEG", pkgConfig: "libopenjp2"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CCrypto"),
        .systemLibrary(name: "CCharLS", pkgConfig: "charls"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate"),

        // The pipe: DICOM → Imaging → Models (over Engine) → Training / Evaluation → Store → Reports,
        // and Pipeline, the jobs that run them, above all; the CLI only parses and calls Pipeline.
        .target(name: "Common", swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "DICOM", dependencies: ["Common", "CDCMTK", "CCrashGuard", "COpenJPEG", "CCharLS", "CCrypto", "CTurboJPEG"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        // DICOM networking: DIMSE (Storage SCP, C-ECHO/STORE/FIND/MOVE SCU) and DICOMweb (QIDO/WADO/STOW-RS).
        .target(name: "DICOMNetwork", dependencies: ["Common", "DICOM", "CDCMTKNet"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Imaging", dependencies: ["Common", "DICOM", "CPNG", "CTurboJPEG", "CDeflate"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "CKernels", exclude: ["check"]),
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Models", dependencies: ["Common", "DICOM", "Imaging", "Engine",
                                        .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Evaluation", dependencies: ["Common"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Training", dependencies: ["Common", "DICOM", "Imaging", "Engine", "Models", "Evaluation"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Store", dependencies: ["Common", "DICOM", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Reports", dependencies: ["DICOM", "Imaging", "Models", "Evaluation", "Store"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Pipeline", dependencies: ["DICOM", "DICOMNetwork", "Imaging", "Engine", "Models", "Evaluation", "Training", "Store", "Reports"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(
            name: "dxkit",
            dependencies: ["Pipeline", "DICOM", "DICOMNetwork", "Imaging", "Engine", "Models", "Evaluation", "Training", "Store", "Reports",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.swiftLanguageMode(.v5)]),

        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "Imaging"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "DICOM"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "Imaging", "DICOM"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Store", "Reports", "Models", "Evaluation", "DICOM",
                                                         .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Pipeline", "Store", "Models", "DICOM", "Engine",
                                                         .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Pipeline", "DICOM"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "NetworkTests", dependencies: ["Store", "DICOM", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "CLITests", dependencies: ["Store", "Imaging", "DICOM", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ],
    cxxLanguageStandard: .cxx17
)
