#!/usr/bin/env python3
"""Builds PyTorch versions of dxkit's three networks from models/*/model.safetensors, checks them
against the golden logits, and exports them to ONNX for scripts/bench_models.py.

Run in .venv-ref (scripts/bench-models.sh does it): torch (CPU wheel), onnx, onnxruntime, numpy,
pillow, pydicom, pylibjpeg-rle (scripts/bench-requirements.txt).

  pneumonia           Xception (Keras Applications semantics) + GAP -> Dense 128 ReLU -> Dense 2,
                      150x150; weights models/xception-pneumonia/
  mobilenet-v2        torchvision MobileNetV2 (reference_outputs.mobilenet_v2), 224x224
  efficientnet-lite0  efficientnet_lite_pytorch's EfficientNet-Lite0 (same state_dict keys), static
                      TF SAME padding for 224x224, 224x224
  densenet-121,       torchvision's densenet121 / resnet50 (the pinned wheel unpacked in .cache/data),
  resnet-50           224x224, with the seeded random weights of scripts/native_arch_reference.py
                      (.cache/native-archs/NAME/model.safetensors; checked against its PyTorch logits)

Each module must reproduce Tests/ModelsTests/Fixtures/reference-outputs.json (max |logit diff|
<= 1e-3, same inputs as scripts/reference_outputs.py builds them, input sha256s checked), and so
must the exported ONNX model under ONNX Runtime. Writes .cache/bench/onnx/NAME.onnx (opset 17,
dynamic batch axis, input "input" NCHW float32, output "logits") and .cache/bench/onnx/flops.json
(per image: FLOPs = 2 x multiply-adds of every Conv2d / Linear, counted by forward hooks as
2*Cout*Cin/groups*kh*kw*OH*OW and 2*in*out).

Usage: export_onnx.py [--force] [--out .cache/bench/onnx] [--models NAME ...]
Skips everything when .cache/bench/onnx/stamp.json says the weights, this script, the golden file
and the torch/onnx versions are unchanged.
"""
import argparse
import functools
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))

GOLDEN = REPO / "Tests/ModelsTests/Fixtures/reference-outputs.json"
OUT = REPO / ".cache/bench/onnx"
OPSET = 17
TOLERANCE = 1e-3

# dxkit name -> (models/ folder, input size, key in reference-outputs.json)
MODELS = {
    "pneumonia": ("xception-pneumonia", 150, "pneumonia"),
    "mobilenet-v2": ("mobilenet-v2", 224, "mobilenet-v2"),
    "efficientnet-lite0": ("efficientnet-lite0", 224, "efficientnet-lite0"),
    "densenet-121": ("densenet-121", 224, None),
    "resnet-50": ("resnet-50", 224, None),
}
# Models without shipped weights: seeded random ones made by scripts/native_arch_reference.py.
NATIVE = REPO / ".cache/native-archs"
TORCHVISION = {"densenet-121": "densenet121", "resnet-50": "resnet50"}


def models_dir(name):
    """The folder holding the model's folder (what `dxkit --models-dir` takes)."""
    return NATIVE if name in TORCHVISION else REPO / "models"


def weights_path(name):
    return models_dir(name) / MODELS[name][0] / "model.safetensors"


# ----------------------------------------------------------------------------------------------
# Models (definitions and the safetensors reader in scripts/torch_models.py)

from torch_models import build_efficientnet_lite0, build_xception_pneumonia, read_safetensors, xception_key  # noqa: E402


def build_model(name):
    """The PyTorch module for a dxkit model name, eval(), weights from models/*/model.safetensors."""
    import torch

    folder, size, _ = MODELS[name]
    if name == "pneumonia":
        model, rename = build_xception_pneumonia(size), xception_key
    elif name == "mobilenet-v2":
        from torch_models import mobilenet_v2
        model, rename = mobilenet_v2(), (lambda k: k)
    elif name == "efficientnet-lite0":
        model, rename = build_efficientnet_lite0(size), (lambda k: k)
    elif name in TORCHVISION:
        import types
        sys.path.insert(0, str(REPO / ".cache/data/torchvision"))
        sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
        import torchvision
        model, rename = getattr(torchvision.models, TORCHVISION[name])(weights=None), (lambda k: k)
    else:
        raise KeyError(name)
    path = weights_path(name)
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make setup` (scripts/convert_weights.py, scripts/native-arch-reference.sh) first")
    tensors = read_safetensors(path)
    sd = {rename(k): torch.from_numpy(v) for k, v in tensors.items()}
    own = model.state_dict()
    expected = {k for k in own if not k.endswith("num_batches_tracked")}
    if set(sd) != expected:
        diff = sorted(set(sd) ^ expected)
        raise SystemExit(f"{name}: safetensors names differ from the module's: {diff[:10]}")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise SystemExit(f"{name}: {k} has shape {tuple(v.shape)}, module wants {tuple(own[k].shape)}")
    model.load_state_dict(sd, strict=False)
    model.eval()
    return model


def input_shape(name):
    size = MODELS[name][1]
    return (3, size, size)


# ----------------------------------------------------------------------------------------------
# FLOPs

def count_flops(model, name):
    """Per image: 2 x multiply-adds of Conv2d and Linear layers (batch-1 forward with hooks)."""
    import torch
    from torch import nn

    totals = {"conv": 0, "linear": 0}
    hooks = []

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        oh, ow = out.shape[-2:]
        totals["conv"] += 2 * m.out_channels * (m.in_channels // m.groups) * kh * kw * oh * ow

    def linear_hook(m, inp, out):
        totals["linear"] += 2 * m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.inference_mode():
        model(torch.zeros((1,) + input_shape(name)))
    for h in hooks:
        h.remove()
    params = sum(int(p.numel()) for p in model.parameters())
    flops = totals["conv"] + totals["linear"]
    return {"flops": flops, "gflops": round(flops / 1e9, 4), "conv_flops": totals["conv"],
            "linear_flops": totals["linear"], "macs": flops // 2, "parameters": params,
            "input": [1, *input_shape(name)],
            "counted": "2*Cout*Cin/groups*kh*kw*OH*OW per Conv2d + 2*in*out per Linear (no BN, "
                       "activations, pooling or adds)"}


# ----------------------------------------------------------------------------------------------
# Golden inputs (as scripts/reference_outputs.py builds them)

@functools.lru_cache(maxsize=None)
def mammogram_inputs():
    import reference_outputs as ro
    return ro.mammogram_inputs()[0]


def golden_inputs(name, golden):
    if name in TORCHVISION:
        manifest = json.loads((NATIVE / "manifest.json").read_text())
        x = np.fromfile(NATIVE / "inputs.f32", dtype=np.float32).reshape(manifest["inputs"]["shape"])
        want = np.fromfile(NATIVE / manifest[name]["logits"], dtype=np.float32).reshape(manifest[name]["shape"])
        return x, want.astype(np.float64)
    import reference_outputs as ro

    key = MODELS[name][2]
    ref = golden[key]
    if name == "pneumonia":
        u8 = [(f.stem, ro.load_rgb_nearest(f, 150)[0]) for f in ro.chest_files()]
        norm = lambda a: a.astype(np.float32) / np.float32(127.5) - np.float32(1.0)  # noqa: E731
    else:
        u8 = [(f.stem, ro.load_rgb_nearest(f, 224)[0]) for f in ro.chest_files()]
        u8 += mammogram_inputs()
        if name == "efficientnet-lite0":
            norm = lambda a: (a.astype(np.float32) - np.float32(127)) / np.float32(128)  # noqa: E731
        else:
            scale, offset = 1 / (255 * ro.IMAGENET_STD), -ro.IMAGENET_MEAN / ro.IMAGENET_STD
            norm = lambda a: (a.astype(np.float64) * scale + offset).astype(np.float32)  # noqa: E731
    images = ref["images"]
    if [i["image"] for i in images] != [n for n, _ in u8]:
        raise SystemExit(f"{name}: golden images {[i['image'] for i in images]} != inputs {[n for n, _ in u8]}")
    for (img, a), rec in zip(u8, images):
        if ro.sha256(a) != rec["input_sha256"]:
            raise SystemExit(f"{name}: input {img} differs from the one the golden file was made from")
    x = np.stack([norm(a) for _, a in u8]).transpose(0, 3, 1, 2)
    want = np.array([r["logits"] for r in images], dtype=np.float64)
    return np.ascontiguousarray(x, dtype=np.float32), want


# ----------------------------------------------------------------------------------------------

def fold_pads_into_convs(path, pads):
    """The exporter writes F.pad + Conv as a Pad node (its pads computed by a small subgraph)
    feeding the Conv, and ONNX Runtime 1.32 does not fuse them here (its NCHWc convs then need
    layout reorders around each Pad). ONNX Conv takes asymmetric pads itself, so the Pad nodes
    are removed and each Conv gets pads = [top, left, bottom, right]. `pads` lists the modules'
    (left, right, top, bottom) in forward order, which is the graph's order of the Pad nodes."""
    import onnx
    from onnx import helper

    m = onnx.load(path)
    g = m.graph
    nodes = list(g.node)
    pad_nodes = [n for n in nodes if n.op_type == "Pad"]
    if len(pad_nodes) != len(pads):
        raise SystemExit(f"{path}: {len(pad_nodes)} Pad nodes, expected {len(pads)}")
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for pad, (left, right, top, bottom) in zip(pad_nodes, pads):
        mode = [a.s for a in pad.attribute if a.name == "mode"]
        users = consumers.get(pad.output[0], [])
        if (mode and mode[0] != b"constant") or len(users) != 1 or users[0].op_type != "Conv":
            raise SystemExit(f"{path}: Pad {pad.name} is not a zero pad feeding one Conv")
        conv = users[0]
        if any(a.name == "pads" and any(a.ints) for a in conv.attribute):
            raise SystemExit(f"{path}: Conv {conv.name} already pads")
        kept = [a for a in conv.attribute if a.name not in ("pads", "auto_pad")]
        del conv.attribute[:]
        conv.attribute.extend(kept + [helper.make_attribute("pads", [top, left, bottom, right])])
        conv.input[0] = pad.input[0]
        g.node.remove(pad)
    # drop the now unused pad-size subgraphs
    outputs = {o.name for o in g.output}
    while True:
        used = {i for n in g.node for i in n.input} | outputs
        dead = [n for n in g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            g.node.remove(n)
    used = {i for n in g.node for i in n.input}
    for init in [t for t in g.initializer if t.name not in used]:
        g.initializer.remove(init)
    onnx.save(m, path)


def file_digests(names, known):
    """sha256 of each model's safetensors; reuses `known` (from the last stamp) while a file's size
    and mtime are unchanged, so a rewrite with identical bytes (convert_weights) costs one hash."""
    out = {}
    for n in sorted(names):
        p = weights_path(n)
        if not p.exists():
            raise SystemExit(f"{p} is missing: run `make setup` (scripts/convert_weights.py) first")
        st = p.stat()
        k = known.get(n)
        if k and k[0] == st.st_size and k[1] == st.st_mtime_ns:
            out[n] = k
        else:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            out[n] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
    return out


def stamp_of(digests):
    import onnx
    import torch
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(GOLDEN.read_bytes())
    for script in ("reference_outputs.py", "torch_models.py"):  # golden inputs, model definitions
        h.update((REPO / "scripts" / script).read_bytes())
    for n in sorted(digests):
        h.update(f"{n}:{digests[n][2]}".encode())
    h.update(f"torch {torch.__version__} onnx {onnx.__version__} opset {OPSET}".encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = ap.parse_args()

    import torch
    import onnx
    import onnxruntime as ort

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp_path = out / "stamp.json"
    try:
        old = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        old = {}
    digests = file_digests(args.models, old.get("weights", {}))
    stamp = stamp_of(digests)
    if not args.force and old.get("stamp") == stamp and all((out / f"{n}.onnx").exists() for n in args.models) \
            and (out / "flops.json").exists():
        if old.get("weights") != digests:  # same bytes, new mtimes: remember them
            stamp_path.write_text(json.dumps(dict(old, weights=digests), indent=2) + "\n")
        print(f"export_onnx: up to date ({out})")
        return

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    golden = json.loads(GOLDEN.read_text())
    flops_path = out / "flops.json"
    flops = json.loads(flops_path.read_text()) if flops_path.exists() else {}
    verification = {}
    t0 = time.time()
    for name in args.models:
        model = build_model(name)
        x, want = golden_inputs(name, golden)
        with torch.inference_mode():
            got = model(torch.from_numpy(x)).double().numpy()
        torch_diff = float(np.abs(got - want).max())
        if not torch_diff <= TOLERANCE:
            raise SystemExit(f"{name}: PyTorch logits differ from the golden file by {torch_diff:.3g} "
                             f"(> {TOLERANCE})")

        path = out / f"{name}.onnx"
        tmp = out / f"{name}.onnx.tmp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.zeros((1,) + input_shape(name)),), str(tmp), dynamo=False,
                              opset_version=OPSET, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                              do_constant_folding=True)
        explicit_pads = [m.pads for m in model.modules() if any(getattr(m, "pads", (0, 0, 0, 0)))]
        if explicit_pads:
            fold_pads_into_convs(str(tmp), explicit_pads)
        onnx.checker.check_model(str(tmp))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(tmp), opts, providers=["CPUExecutionProvider"])
        ort_got = sess.run(None, {"input": x})[0].astype(np.float64)
        ort_diff = float(np.abs(ort_got - want).max())
        if not ort_diff <= TOLERANCE:
            raise SystemExit(f"{name}: ONNX Runtime logits differ from the golden file by {ort_diff:.3g}")
        del sess
        os.replace(tmp, path)

        flops[name] = count_flops(model, name)
        verification[name] = {"images": int(x.shape[0]), "torch_max_abs_diff": torch_diff,
                              "onnxruntime_max_abs_diff": ort_diff, "tolerance": TOLERANCE}
        print(f"export_onnx: {name:<18} {x.shape[0]} golden images: max |logit diff| torch {torch_diff:.2e}, "
              f"onnxruntime {ort_diff:.2e}; {flops[name]['gflops']:.3f} GFLOP/image; "
              f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} "
              f"({path.stat().st_size / 1e6:.1f} MB)")

    flops_path.write_text(json.dumps(flops, indent=2) + "\n")
    stamp_path.write_text(json.dumps({"stamp": stamp, "models": args.models, "weights": digests,
                                      "verification": verification,
                                      "versions": {"torch": torch.__version__, "onnx": onnx.__version__,
                                                   "onnxruntime": ort.__version__, "opset": OPSET},
                                      "seconds": round(time.time() - t0, 1)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
