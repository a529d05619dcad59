import ArgumentParser
import Pipeline

/// The SQLite index a command works on (shared by every command that takes `--db`).
struct IndexOption: ParsableArguments {
    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
}

/// `train --backbone`.
enum BackboneName: String, ExpressibleByArgument, CaseIterable {
    case xception, efficientnetLite0 = "efficientnet-lite0", mobilenetV2 = "mobilenet-v2", densenet121 = "densenet-121", resnet50 = "resnet-50"
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

/// `--shard I/N` of ingest, score and run: only the studies whose StudyInstanceUID hashes to
/// shard I of N (from 0; a study never splits), for runs split over a cluster and merged after.
struct ShardOption: ParsableArguments {
    @Option(help: ArgumentHelp("Only the studies of shard I of N (I from 0), e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; merge the shards' indexes with dxkit merge.",
                               valueName: "I/N"))
    var shard: Shard?
}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
}
