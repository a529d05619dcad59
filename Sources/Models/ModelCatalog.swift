/// The names users give models on the command line and the folders they live in, and the routing
/// presets a trained head's card can take. One place, so `classify`, `train` and the docs agree.
public enum ModelCatalog {
    /// Models `classify` runs, by name → model folder.
    /// DenseNet-121 and ResNet-50 ship no weights: a user converts theirs into models/densenet-121
    /// or models/resnet-50 (scripts/convert_torchvision.py).
    public static let classifiers = ["pneumonia": "xception-pneumonia", "mobilenet-v2": "mobilenet-v2",
                                     "efficientnet-lite0": "efficientnet-lite0", "densenet-121": "densenet-121",
                                     "resnet-50": "resnet-50"]

    /// Backbones `train` fine-tunes on, by name → model folder.
    public static let backbones = ["xception": "xception-pneumonia", "efficientnet-lite0": "efficientnet-lite0",
                                   "mobilenet-v2": "mobilenet-v2", "densenet-121": "densenet-121", "resnet-50": "resnet-50"]

    static let secondaryCapture = "1.2.840.10008.5.1.4.1.1.7"

    /// Routing presets (`train --routing`): clauses of attribute → accepted values (nil: may be missing).
    public static let routings: [String: [[String: [String?]]]] = [
        "chest": [["modality": ["CR", "DX"], "body_part": ["CHEST"], "view_position": ["PA", "AP", nil]],
                  ["sop_class_uid": [secondaryCapture], "body_part": ["CHEST"], "view_position": ["PA", "AP", nil]]],
        "mammography": [["modality": ["MG"]],
                        ["sop_class_uid": [secondaryCapture], "body_part": ["BREAST"]]],
    ]
}
