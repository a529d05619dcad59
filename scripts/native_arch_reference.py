#!/usr/bin/env python3
"""Oracles for dxkit's native DenseNet-121 and ResNet-50 and for its reference-exact resizing
(issue 18, parts 2 and 4). Run at setup/test time in .venv-ref (CPU torch, pillow, numpy); uses
the pinned torchvision wheel unpacked by setup in .cache/data/torchvision (put on sys.path, not
installed: its wheel is a CUDA build whose compiled ops do not load, and its models need none).
Idempotent: does nothing when OUT/stamp says this script, torch and the inputs are unchanged.

Writes into OUT (default .cache/native-archs):
  densenet-121/, resnet-50/   model folders (model.safetensors + model.json) made by
                              scripts/convert_torchvision.py from OUT/NAME.pth, the state_dict of
                              torchvision's densenet121 / resnet50 with seeded random weights
                              (seeds 121, 50): BatchNorm gamma and beta random, running statistics
                              measured on the calibration images (train-mode passes) then perturbed,
                              Linear bias random — every BatchNorm does real work.
  inputs.f32                  float32 NCHW [8, 3, 224, 224]: 4 chest X-rays and 2 photos
                              preprocessed as torchvision's ImageNet evaluation transform does
                              (Resize(256) on the PIL image, CenterCrop(224), ToTensor, Normalize),
                              then 2 images of N(0, 1) noise (generator seed 7)
  logits-NAME.f32             PyTorch's float32 logits [8, 1000] for them (eval mode)
  resize.u8 + manifest.json   PIL's 8-bit HWC pixels of resize cases (16 chest X-rays and the 5
                              scikit-image photos): "shorter-256-crop-224" (RGB, as torchvision's
                              Resize(256) + CenterCrop(224): PIL BILINEAR with its antialiasing),
                              "shorter-224-crop-224-grey" (PIL convert("L") first: the single-channel
                              convention) and "letterbox-224" (RGB; scale = min(224/w, 224/h),
                              size round(w·scale) × round(h·scale) at least 1, PIL BILINEAR, pasted on
                              black at ((224-w')//2, (224-h')//2)); the manifest lists every case's
                              image, mode, shape and byte offset.
Usage: .venv-ref/bin/python scripts/native_arch_reference.py [--out .cache/native-archs] [--force]
"""
import argparse
import hashlib
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
from seeded_torch import randomise_batchnorm, shorter_crop  # noqa: E402
DATA = REPO / ".cache/data"
sys.path.insert(0, str(DATA / "torchvision"))
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

CHEST_DIR = DATA / "pneumonia-model-package/pneumonia_model_package/datasets/pneumonia-data/val"
PHOTO_DIR = DATA / "scikit-image/skimage/data"
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png"]
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
MODELS = {"densenet-121": ("densenet121", 121), "resnet-50": ("resnet50", 50)}


def chest_files():
    files = sorted(CHEST_DIR.glob("*.jpeg"))
    if len(files) != 16:
        raise SystemExit(f"expected 16 chest JPEGs under {CHEST_DIR} (make setup), found {len(files)}")
    return files


def photo_files():
    files = [PHOTO_DIR / p for p in PHOTOS]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise SystemExit(f"missing {missing} (make setup unpacks the scikit-image wheel)")
    return files


def letterbox(im, size):
    w, h = im.size
    s = min(size / w, size / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    canvas = Image.new(im.mode, (size, size))
    canvas.paste(im.resize((nw, nh), Image.BILINEAR), ((size - nw) // 2, (size - nh) // 2))
    return canvas


def resize_cases(out):
    cases, blobs, offset = [], [], 0
    for path in chest_files() + photo_files():
        with Image.open(path) as im:
            rgb, grey = im.convert("RGB"), im.convert("L")
            for kind, made in (("shorter-256-crop-224", shorter_crop(rgb, 256, 224)),
                               ("shorter-224-crop-224-grey", shorter_crop(grey, 224, 224)),
                               ("letterbox-224", letterbox(rgb, 224))):
                a = np.asarray(made, dtype=np.uint8)
                a = a[:, :, None] if a.ndim == 2 else a
                cases.append({"image": path.name, "source": str(path.relative_to(REPO)), "case": kind,
                              "shape": list(a.shape), "offset": offset})
                blobs.append(a.tobytes())
                offset += a.nbytes
    (out / "resize.u8").write_bytes(b"".join(blobs))
    return cases


def model_inputs():
    from torchvision import transforms
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize(MEAN.tolist(), STD.tolist())])
    chosen = chest_files()[::4] + photo_files()[:2]
    xs = []
    for p in chosen:
        with Image.open(p) as im:
            xs.append(t(im.convert("RGB")).numpy())
    noise = np.random.default_rng(7).standard_normal((2, 3, 224, 224)).astype(np.float32)
    return np.concatenate([np.stack(xs).astype(np.float32), noise]), [p.name for p in chosen] + ["noise-0", "noise-1"]


def calibration_batch():
    from torchvision import transforms
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize(MEAN.tolist(), STD.tolist())])
    xs = []
    for p in chest_files() + photo_files():
        with Image.open(p) as im:
            xs.append(t(im.convert("RGB")).numpy())
    return np.stack(xs).astype(np.float32)


def seeded(arch, seed, calibration):
    import torch
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    return randomise_batchnorm(model, seed, calibration, perturb_statistics=True)


def stamp():
    import torch
    h = hashlib.sha256(Path(__file__).read_bytes())
    for s in ("convert_torchvision.py", "weights_pth.py", "weights_common.py", "seeded_torch.py"):
        h.update((REPO / "scripts" / s).read_bytes())
    for p in chest_files() + photo_files():
        h.update(f"{p.name} {p.stat().st_size}".encode())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / ".cache/native-archs"))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    s = stamp()
    if not a.force and (out / "stamp").exists() and (out / "stamp").read_text() == s:
        print(f"native_arch_reference: {out} up to date")
        return
    (out / "stamp").unlink(missing_ok=True)
    import torch
    import convert_torchvision as ct
    torch.set_num_threads(2)
    manifest = {"resize": resize_cases(out)}
    x, names = model_inputs()
    x.tofile(out / "inputs.f32")
    manifest["inputs"] = {"file": "inputs.f32", "shape": list(x.shape), "images": names}
    calibration = calibration_batch()
    for name, (arch, seed) in MODELS.items():
        model = seeded(arch, seed, calibration)
        pth = out / f"{name}.pth"
        torch.save(model.state_dict(), pth)
        ct.convert(pth, arch, out / name, name=name)
        with torch.inference_mode():
            logits = model(torch.from_numpy(x)).numpy().astype(np.float32)
        logits.tofile(out / f"logits-{name}.f32")
        manifest[name] = {"logits": f"logits-{name}.f32", "shape": list(logits.shape), "seed": seed,
                          "scale": float(np.abs(logits).max())}
        print(f"native_arch_reference: {name}: logits |max| {np.abs(logits).max():.3f}")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "stamp").write_text(s)


if __name__ == "__main__":
    main()
