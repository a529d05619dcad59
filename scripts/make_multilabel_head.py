#!/usr/bin/env python3
"""Writes a small multi-label test head (made here, never downloaded): a linear head with seeded
random weights over mobilenet-v2's 1280 pooled features, saved as `dxkit train` saves a head
(head.safetensors with input_mean, input_scale, dense1.weight, dense1.bias; model.json naming the
backbone and its weights sha256) with a sigmoid card in the multi-label contract: TorchXRayVision-style
classes with an empty placeholder, scoring.findings with per-finding thresholds, one SNOMED CT code.
Routing: chest. For trying multi-label reports and SRs by hand:

    python3 scripts/make_multilabel_head.py /tmp/heads
    DXKIT_MODELS=models dxkit run studies/chest --out /tmp/ml --models-dir /tmp/heads

The weights mean nothing. Standard library only.
"""
import hashlib
import json
import os
import random
import struct
import sys

CLASSES = ["Atelectasis", "", "Effusion", "Pneumonia", "Nodule"]
FINDINGS = [
    {"name": "Pneumonia", "threshold": 0.5, "code": {"value": "233604007", "scheme": "SCT", "meaning": "Pneumonia"}},
    {"name": "Effusion", "threshold": 0.4, "code": {"value": "60046008", "scheme": "SCT", "meaning": "Pleural effusion"}},
    {"name": "Nodule", "threshold": 0.6},
    {"name": "Atelectasis", "threshold": 0.55},
]
FEATURES = 1280


def safetensors(tensors, path):
    header, body, offset = {}, b"", 0
    for name, shape, values in tensors:
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        body += data
        offset += len(data)
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def main(folder, models="models", seed=18):
    backbone = json.load(open(os.path.join(models, "mobilenet-v2", "model.json")))
    directory = os.path.join(folder, "chest-findings")
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    weights = [rng.uniform(-0.08, 0.08) for _ in range(len(CLASSES) * FEATURES)]
    path = os.path.join(directory, "head.safetensors")
    safetensors([("input_mean", [FEATURES], [0.0] * FEATURES), ("input_scale", [FEATURES], [1.0] * FEATURES),
                 ("dense1.weight", [len(CLASSES), FEATURES], weights), ("dense1.bias", [len(CLASSES)], [-0.6, 0.1, -0.3, 0.2, -0.1])],
                path)
    card = {
        "name": "chest-findings (seeded test head)", "head": "chest-findings", "backbone": "mobilenet-v2", "head_type": "linear",
        "architecture": backbone["architecture"], "batchnorm_epsilon": backbone["batchnorm_epsilon"], "input": backbone["input"],
        "classes": CLASSES, "output": "sigmoid", "weights_sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
        "backbone_weights_sha256": backbone["weights_sha256"], "license": "test fixture",
        "intended_use": "Pipeline test only: seeded random weights; its outputs mean nothing.",
        "warning": "Seeded random weights: a test of the multi-label pipeline, not a model.",
        "scoring": {
            "routing": {"accept_any": [{"modality": ["CR", "DX"], "body_part": ["CHEST"], "view_position": ["PA", "AP", None]},
                                       {"sop_class_uid": ["1.2.840.10008.5.1.4.1.1.7"], "body_part": ["CHEST"],
                                        "view_position": ["PA", "AP", None]}]},
            "aggregation": {"rule": "max", "description": "study: the highest probability over its images, per finding"},
            "findings": FINDINGS,
            "procedure_code": {"value": "399208008", "scheme": "SCT", "meaning": "Plain chest X-ray"},
        },
    }
    with open(os.path.join(directory, "model.json"), "w") as f:
        json.dump(card, f, indent=2, sort_keys=True)
    print(directory)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: make_multilabel_head.py OUT_FOLDER [MODELS_DIR]")
    main(sys.argv[1], *(sys.argv[2:3]))
