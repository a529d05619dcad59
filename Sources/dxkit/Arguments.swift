import ArgumentParser

/// The SQLite index a command works on (shared by every command that takes `--db`).
struct IndexOption: ParsableArguments {
    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
}

/// `train --backbone`.
enum BackboneName: String, ExpressibleByArgument, CaseIterable {
    case xception, efficientnetLite0 = "efficientnet-lite0", mobilenetV2 = "mobilenet-v2"
}

/// `train --head-type`.
enum HeadKind: String, ExpressibleByArgument, CaseIterable { case linear, mlp, prototype }

/// `train --schedule`.
enum LearningRateSchedule: String, ExpressibleByArgument, CaseIterable { case cosine, step }

/// `train --routing`: which images the head takes when scoring.
enum RoutingPreset: String, ExpressibleByArgument, CaseIterable { case chest, mammography }

/// `train --aggregation`: how a study's images combine.
enum StudyRule: String, ExpressibleByArgument, CaseIterable { case max, lateralityMeanMax = "laterality-mean-max" }

/// `calibrate --method`.
enum CalibrationMethod: String, ExpressibleByArgument, CaseIterable { case temperature, platt, isotonic }
