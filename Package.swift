// swift-tools-version:6.1
import PackageDescription

/// dxkit: DICOM ingestion, pixel decoding and (later) scoring, calibration, audits and reports.
/// Data flows one way: DICOM → Imaging → Engine → Models → Scoring → Store → Evaluation → Reports.
let package = Package(
    name: "dxkit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dxkit", targets: ["dxkit"]),
        .library(name: "DICOM", targets: ["DICOM"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Store", targets: ["Store"]),
        .library(name: "Engine", targets: ["Engine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C shims: plain C headers only, nothing C++ leaks into Swift.
        .target(
            name: "CDCMTK",
            cxxSettings: [.unsafeFlags(["-std=c++17", "-I/usr/include/dcmtk"])],
            linkerSettings: [
                .linkedLibrary("dcmsr"), .linkedLibrary("dcmjpls"), .linkedLibrary("dcmjpeg"), .linkedLibrary("ijg8"),
                .linkedLibrary("ijg12"), .linkedLibrary("ijg16"), .linkedLibrary("dcmimage"),
                .linkedLibrary("dcmimgle"), .linkedLibrary("dcmdata"), .linkedLibrary("oflog"),
                .linkedLibrary("ofstd"), .linkedLibrary("stdc++"),
            ]),
        .systemLibrary(name: "COpenJPEG", pkgConfig: "libopenjp2"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CCrypto"),
        .systemLibrary(name: "CCharLS", pkgConfig: "charls"),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg"),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate"),

        .target(name: "DICOM", dependencies: ["CDCMTK", "COpenJPEG", "CCharLS", "CCrypto", "CTurboJPEG"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Imaging", dependencies: ["DICOM", "Engine", "CPNG", "CTurboJPEG", "CDeflate"],
                swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-O"])]),
        .target(name: "CKernels", exclude: ["check"]),
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Models", dependencies: ["Engine"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Scoring", dependencies: ["DICOM", "Imaging", "Engine", "Models", "Store"],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Training", dependencies: ["DICOM", "Imaging", "Engine", "Models", "Store", "Scoring", "Evaluation", "CPNG"],
                swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-O"])]),
        .target(name: "Evaluation", dependencies: ["Store", "Models"],
                swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-O"])]),
        .target(name: "Reports", dependencies: ["Store", "DICOM", "Evaluation", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .target(name: "Store", dependencies: ["DICOM", .product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .executableTarget(
            name: "dxkit",
            dependencies: ["DICOM", "Imaging", "Store",
                           "Engine", "Models", "Scoring", "Reports", "Training", "Evaluation",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.swiftLanguageMode(.v5)]),

        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "Imaging"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "DICOM"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine", "Imaging", "DICOM", "Scoring"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "Store", "Reports", "Models", "DICOM",
                                                        .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Store", "Models", "DICOM",
                                                         .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Models"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "DICOM"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "CLITests", dependencies: ["Store", "Imaging", "DICOM", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
    ],
    cxxLanguageStandard: .cxx17
)
