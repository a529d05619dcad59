#!/usr/bin/env python3
"""Builds the ONNX models and reference outputs that dxkit's import tests check against (issue 18).
Run at setup time in .venv-ref (scripts/onnx-test-models.sh creates it: CPU torch, torchvision,
torchxrayvision, onnx, onnxruntime, pillow); never at dxkit's run time.

Models (all from code that ships in registry packages):
  densenet121      torchvision.models.densenet121, seeded random weights (seed 121)
  resnet50         torchvision.models.resnet50, seeded random weights (seed 50)
  xrv-densenet121  TorchXRayVision's DenseNet (its wheel ships code, not weights): 1-channel input,
                   18 pathology outputs (logits), seeded random weights (seed 18)
  mobilenet-v2, efficientnet-lite0, pneumonia
                   dxkit's three shipped networks as PyTorch modules (scripts/torch_models.py via
                   scripts/export_onnx.py), with the shipped weights from models/ (registry wheels)
Seeded models get random BatchNorm scales/shifts and BatchNorm statistics measured on the test
images (train-mode passes, then eval), so every BatchNorm does real work and the logits have a
sensible scale. Each is exported with torch.onnx.export (TorchScript exporter, dynamic batch axis)
at opset 13 and 17 to OUT/NAME-opsetN.onnx.

Inputs: the 16 chest X-ray JPEGs (the files studies/chest/*.dcm wrap) and five photos of
scikit-image's data folder (chelsea, coffee, astronaut, rocket, motorcycle_left), preprocessed the
way dxkit's cards say, with PIL:
  imagenet   RGB, resize the shorter side to 256 (BILINEAR, PIL's antialiasing; torchvision's size
             rule int(256 * long / short)), centre crop 224 (torchvision's round()), x*scale+offset
             with the card's float32 scale = 1/(255 std), offset = -mean/std
  lite0      the same crop, x*0.0078125 - 0.9921875
  pneumonia  RGB, NEAREST to 150x150, x*(1/127.5) - 1
  xrv        grey (PIL convert("L") for colour photos), shorter side to 224, crop 224,
             x*(2048/255) - 1024 (TorchXRayVision's [-1024, 1024] range), one channel
OUT/inputs-VARIANT.f32 holds the float32 NCHW batch, OUT/inputs-VARIANT.u8 the 8-bit HWC pixels
after resizing (what dxkit's preprocessing must equal byte for byte), OUT/NAME-opsetN.ort.f32 ONNX
Runtime's outputs (ORT_DISABLE_ALL: the graph as written) and OUT/manifest.json says what is where.
The torch module's outputs must agree with ONNX Runtime's (max |diff| <= 1e-4 x the logit scale).

Also writes Tests/ModelsTests/Fixtures/imagenet-photos.json with --golden: torchvision's own
evaluation transform (transforms.Resize(256), CenterCrop(224), ToTensor, Normalize) and PyTorch's
top-5 classes for each photo on the shipped ImageNet models (mobilenet-v2, efficientnet-lite0).

Usage: onnx_test_models.py [--out .cache/onnx-tests] [--force] [--golden]
"""
import argparse
import hashlib
import json
import os
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
from seeded_torch import randomise_batchnorm, shorter_crop  # noqa: E402
# torchvision's PyPI wheel is a CUDA build whose compiled ops (nms, roi_align) do not load against the
# CPU torch; its models are plain Python and need none of them. Skip the fake-kernel registrations
# that would fail on the missing ops.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

OUT = REPO / ".cache/onnx-tests"
DATA = REPO / ".cache/data"
CHEST_DIR = DATA / "pneumonia-model-package/pneumonia_model_package/datasets/pneumonia-data/val"
PHOTO_DIR = DATA / "scikit-image/skimage/data"
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png"]
GOLDEN = REPO / "Tests/ModelsTests/Fixtures/imagenet-photos.json"
OPSETS = [13, 17]
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])

# name -> (preprocessing variant, seed or None for the shipped weights)
MODELS = {
    "densenet121": ("imagenet", 121),
    "resnet50": ("imagenet", 50),
    "xrv-densenet121": ("xrv", 18),
    "mobilenet-v2": ("imagenet", None),
    "efficientnet-lite0": ("lite0", None),
    "pneumonia": ("pneumonia", None),
}


def images():
    chest = sorted(CHEST_DIR.glob("*.jpeg"))
    if len(chest) != 16:
        raise SystemExit(f"expected 16 chest JPEGs in {CHEST_DIR} (make setup), found {len(chest)}")
    photos = [PHOTO_DIR / p for p in PHOTOS]
    missing = [str(p) for p in photos if not p.exists()]
    if missing:
        raise SystemExit(f"missing photos {missing} (make setup unpacks scikit-image's wheel)")
    return [(p.stem, p, "chest") for p in chest] + [(p.stem, p, "photo") for p in photos]


def preprocess(variant, path):
    """(u8 HWC after resizing, float32 CHW input) as dxkit's card for `variant` says."""
    with Image.open(path) as im:
        if variant == "xrv":
            im = im.convert("L")
            u8 = np.asarray(shorter_crop(im, 224, 224), dtype=np.uint8)[:, :, None]
            scale, offset = np.float32(2048 / 255), np.float32(-1024)
            x = u8.astype(np.float32) * scale + offset
            return u8, np.ascontiguousarray(x.transpose(2, 0, 1))
        im = im.convert("RGB")
        if variant == "pneumonia":
            u8 = np.asarray(im.resize((150, 150), Image.NEAREST), dtype=np.uint8)
            scale, offset = np.full(3, 1 / 127.5, np.float32), np.full(3, -1, np.float32)
        else:
            u8 = np.asarray(shorter_crop(im, 256, 224), dtype=np.uint8)
            if variant == "lite0":
                scale, offset = np.full(3, 0.0078125, np.float32), np.full(3, -0.9921875, np.float32)
            else:
                scale, offset = (1 / (255 * STD)).astype(np.float32), (-MEAN / STD).astype(np.float32)
    x = u8.astype(np.float32) * scale + offset
    return u8, np.ascontiguousarray(x.transpose(2, 0, 1))


def seeded(name, seed, calibration):
    """A model with seeded random weights, BatchNorm scale/shift random and its statistics measured
    on `calibration` (NCHW float32)."""
    import torch
    torch.manual_seed(seed)
    if name == "densenet121":
        import torchvision
        model = torchvision.models.densenet121(weights=None)
    elif name == "resnet50":
        import torchvision
        model = torchvision.models.resnet50(weights=None)
    elif name == "xrv-densenet121":
        import torchxrayvision as xrv
        model = xrv.models.DenseNet(weights=None)  # 18 outputs, 1 input channel, logits
    else:
        raise KeyError(name)
    return randomise_batchnorm(model, seed, calibration)


def shipped(name):
    import export_onnx as ex
    return ex.build_model(name)


def export(model, shape, path, opset):
    import torch
    tmp = path.with_suffix(".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros((1,) + shape),), str(tmp), dynamo=False, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=True)
    import onnx
    onnx.checker.check_model(str(tmp))
    os.replace(tmp, path)


def ort_outputs(path, x):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"input": x[i:i + 8]})[0] for i in range(0, x.shape[0], 8)])


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def stamp():
    import onnx
    import onnxruntime
    import torch
    import torchvision
    h = hashlib.sha256(Path(__file__).read_bytes())
    for s in ("export_onnx.py", "torch_models.py", "onnx_zoo.py", "seeded_torch.py"):
        h.update((REPO / "scripts" / s).read_bytes())
    for folder in ("mobilenet-v2", "efficientnet-lite0", "xception-pneumonia"):
        p = REPO / "models" / folder / "model.json"
        h.update(p.read_bytes() if p.exists() else b"-")
    h.update(f"{torch.__version__} {torchvision.__version__} {onnx.__version__} {onnxruntime.__version__}".encode())
    return h.hexdigest()


def golden_photos():
    """torchvision's evaluation transform and PyTorch's top-5 for the photos on the shipped models."""
    import torch
    from torchvision import transforms
    import export_onnx as ex
    tf = {"mobilenet-v2": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                              transforms.Normalize(MEAN.tolist(), STD.tolist())]),
          "efficientnet-lite0": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                                    transforms.Normalize([127 / 255] * 3, [128 / 255] * 3)])}
    from torchvision.models._meta import _IMAGENET_CATEGORIES as names
    out = {"source": "scripts/onnx_test_models.py --golden: torchvision 0.28 transforms (Resize(256) bilinear with "
                     "antialias on the PIL image, CenterCrop(224), ToTensor, Normalize) and PyTorch on the shipped "
                     "weights; class names from torchvision.models._meta._IMAGENET_CATEGORIES",
           "photos": PHOTOS, "models": {}}
    for name, t in tf.items():
        model = ex.build_model(name)
        rows = {}
        for p in PHOTOS:
            with Image.open(PHOTO_DIR / p) as im:
                x = t(im.convert("RGB"))[None]
            # the transform's crop must be the one dxkit's card describes, byte for byte
            u8, _ = preprocess("imagenet", PHOTO_DIR / p)
            with Image.open(PHOTO_DIR / p) as im:
                tv = np.asarray(transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(im.convert("RGB")))
            if not np.array_equal(tv, u8):
                raise SystemExit(f"{p}: torchvision's Resize+CenterCrop differs from this script's")
            with torch.inference_mode():
                logits = model(x)[0].double()
            prob = torch.softmax(logits, 0)
            top = torch.topk(prob, 5)
            rows[Path(p).stem] = {"top5": [int(i) for i in top.indices],
                                  "labels": [names[int(i)] for i in top.indices],
                                  "probabilities": [round(float(v), 6) for v in top.values]}
        out["models"][name] = rows
    GOLDEN.write_text(json.dumps(out, indent=1) + "\n")
    print(f"onnx_test_models: wrote {GOLDEN.relative_to(REPO)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--golden", action="store_true", help="also rewrite " + str(GOLDEN.relative_to(REPO)))
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)  # reproducible BatchNorm statistics
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.golden:
        golden_photos()
    manifest_path = out / "manifest.json"
    st = stamp()
    try:
        old = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        old = {}
    if not args.force and old.get("stamp") == st and set(args.models) <= set(old.get("models", {})) and \
            all((out / f["onnx"]).exists() for m in old["models"].values() for f in m["files"]):
        print(f"onnx_test_models: up to date ({out})")
        return
    t0 = time.time()
    imgs = images()
    variants = {}
    for variant in sorted({v for v, _ in MODELS.values()}):
        pairs = [preprocess(variant, p) for _, p, _ in imgs]
        u8 = np.stack([a for a, _ in pairs])
        x = np.stack([b for _, b in pairs]).astype(np.float32)
        (out / f"inputs-{variant}.u8").write_bytes(u8.tobytes())
        (out / f"inputs-{variant}.f32").write_bytes(x.tobytes())
        variants[variant] = {"u8": f"inputs-{variant}.u8", "u8_shape": list(u8.shape), "f32": f"inputs-{variant}.f32",
                             "shape": list(x.shape), "x": x}
    manifest = {"stamp": st, "images": [{"name": n, "source": str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p),
                                        "kind": k} for n, p, k in imgs],
                "variants": {k: {kk: vv for kk, vv in v.items() if kk != "x"} for k, v in variants.items()},
                "models": {}}
    import torch
    for name in args.models:
        variant, seed = MODELS[name]
        x = variants[variant]["x"]
        model = shipped(name) if seed is None else seeded(name, seed, x)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        files = []
        for opset in OPSETS:
            path = out / f"{name}-opset{opset}.onnx"
            export(model, tuple(x.shape[1:]), path, opset)
            got = ort_outputs(path, x)
            scale = float(np.abs(got).max())
            diff = float(np.abs(got - ref).max())
            if not diff <= 1e-4 * max(scale, 1):
                raise SystemExit(f"{name} opset {opset}: ONNX Runtime and PyTorch differ by {diff:.3g} (scale {scale:.3g})")
            (out / f"{name}-opset{opset}.ort.f32").write_bytes(got.astype(np.float32).tobytes())
            files.append({"opset": opset, "onnx": path.name, "onnx_sha256": sha(path), "ort": f"{name}-opset{opset}.ort.f32",
                          "outputs": list(got.shape), "logit_scale": scale, "torch_vs_ort": diff})
            print(f"onnx_test_models: {name} opset {opset}: {got.shape[1]} outputs, scale {scale:.3g}, "
                  f"|torch - ORT| {diff:.2e}; {path.stat().st_size / 1e6:.1f} MB", flush=True)
        manifest["models"][name] = {"variant": variant, "seed": seed, "files": files,
                                    "weights": "seeded random" if seed is not None else "shipped (models/)"}
        del model
    # The operation zoos (onnx_zoo.py; zoo at opset 17: HardSwish needs 14) and the graph that must be refused.
    from onnx_zoo import unsupported, zoo, zoo2
    x = variants["imagenet"]["x"]
    path = out / "zoo-opset17.onnx"
    zoo(path, 17)
    got = ort_outputs(path, x)
    (out / "zoo-opset17.ort.f32").write_bytes(got.astype(np.float32).tobytes())
    manifest["models"]["zoo"] = {"variant": "imagenet", "seed": 7, "weights": "seeded random (onnx.helper graph)",
                                 "files": [{"opset": 17, "onnx": path.name, "onnx_sha256": sha(path), "ort": "zoo-opset17.ort.f32",
                                            "outputs": list(got.shape), "logit_scale": float(np.abs(got).max()),
                                            "torch_vs_ort": 0.0}]}
    path = out / "zoo2-opset13.onnx"
    zoo2(path, 13)
    got = ort_outputs(path, x)
    (out / "zoo2-opset13.ort.f32").write_bytes(got.astype(np.float32).tobytes())
    manifest["models"]["zoo2"] = {"variant": "imagenet", "seed": 8, "weights": "seeded random (onnx.helper graph)",
                                  "files": [{"opset": 13, "onnx": path.name, "onnx_sha256": sha(path), "ort": "zoo2-opset13.ort.f32",
                                             "outputs": list(got.shape), "logit_scale": float(np.abs(got).max()),
                                             "torch_vs_ort": 0.0}]}
    unsupported(out / "unsupported-erf.onnx")
    manifest["unsupported"] = {"onnx": "unsupported-erf.onnx", "node": "gelu_erf", "op": "Erf"}
    manifest["seconds"] = round(time.time() - t0, 1)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"onnx_test_models: wrote {out} in {manifest['seconds']} s")


if __name__ == "__main__":
    main()
