#!/usr/bin/env python3
"""Converts a user's torchvision DenseNet-121 or ResNet-50 state_dict into a dxkit model folder.

torchvision's wheel ships no pretrained weights and dxkit downloads nothing, so these two native
architectures serve users who bring their own file (a CheXNet-style DenseNet-121, a RadImageNet
ResNet-50, a network fine-tuned in PyTorch). Setup time only; numpy, no torch: the .pth is read by
scripts/weights_pth.py's restricted unpickler (torch.save's zip or legacy format), a .safetensors
file as it is. Every tensor's name and shape is checked against the architecture before anything
is written; the old DenseNet key spelling (`denselayer1.norm.1.weight`, as torchvision's own
loader remaps) is accepted. The classifier may have any number of outputs.

  convert_torchvision.py STATE_DICT(.pth|.safetensors) --arch densenet121|resnet50 --out models/NAME
      [--name NAME] [--classes a,b,c | --classes-file F (one per line)] [--resize shorter-256-crop-224]
      [--license TEXT] [--intended-use TEXT]

Writes OUT/model.safetensors (F32) and OUT/model.json in the shipped cards' format (architecture
"densenet-121" / "resnet-50", ImageNet normalisation, BatchNorm epsilon 1e-5, symmetric padding),
with the source file's sha256 as provenance. Class names default to the ILSVRC-2012 names
(torchvision's _meta.py from the pinned wheel in .cache/data) for 1000 outputs, else class-0, ….
"""
import argparse
import collections
import json
import os
import re
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(SCRIPT.parent))

from weights_common import ConversionError, sha256_file, write_safetensors  # noqa: E402
from weights_pth import torch_state_dict_tensors  # noqa: E402

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
ARCHS = {"densenet121": "densenet-121", "resnet50": "resnet-50"}


def _bn(prefix, c):
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)),
            (f"{prefix}.running_mean", (c,)), (f"{prefix}.running_var", (c,))]


def expected_densenet121(classes):
    t = [("features.conv0.weight", (64, 3, 7, 7))] + _bn("features.norm0", 64)
    c = 64
    for b, n in enumerate([6, 12, 24, 16]):
        for i in range(n):
            p = f"features.denseblock{b + 1}.denselayer{i + 1}"
            t += _bn(f"{p}.norm1", c) + [(f"{p}.conv1.weight", (128, c, 1, 1))]
            t += _bn(f"{p}.norm2", 128) + [(f"{p}.conv2.weight", (32, 128, 3, 3))]
            c += 32
        if b < 3:
            p = f"features.transition{b + 1}"
            t += _bn(f"{p}.norm", c) + [(f"{p}.conv.weight", (c // 2, c, 1, 1))]
            c //= 2
    t += _bn("features.norm5", c) + [("classifier.weight", (classes, 1024)), ("classifier.bias", (classes,))]
    return t


def expected_resnet50(classes):
    t = [("conv1.weight", (64, 3, 7, 7))] + _bn("bn1", 64)
    cin = 64
    for s, (width, n) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for i in range(n):
            p = f"layer{s + 1}.{i}"
            t += [(f"{p}.conv1.weight", (width, cin, 1, 1))] + _bn(f"{p}.bn1", width)
            t += [(f"{p}.conv2.weight", (width, width, 3, 3))] + _bn(f"{p}.bn2", width)
            t += [(f"{p}.conv3.weight", (width * 4, width, 1, 1))] + _bn(f"{p}.bn3", width * 4)
            if i == 0:
                t += [(f"{p}.downsample.0.weight", (width * 4, cin, 1, 1))] + _bn(f"{p}.downsample.1", width * 4)
            cin = width * 4
    return t + [("fc.weight", (classes, 2048)), ("fc.bias", (classes,))]


def read_tensors(path):
    path = Path(path)
    if path.suffix == ".safetensors":
        import numpy as np
        from weights_common import read_safetensors_header
        header = read_safetensors_header(path)
        header.pop("__metadata__", None)
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            base = 8 + n
            out = collections.OrderedDict()
            for name, e in header.items():
                if e["dtype"] != "F32":
                    raise ConversionError(f"{path}: {name} is {e['dtype']}, expected F32")
                lo, hi = e["data_offsets"]
                f.seek(base + lo)
                out[name] = np.frombuffer(f.read(hi - lo), dtype="<f4").reshape(e["shape"])
            return out
    return torch_state_dict_tensors(path)


OLD_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def normalise_keys(tensors):
    """`module.` prefixes (DataParallel) dropped; torchvision's old DenseNet spelling remapped."""
    out = collections.OrderedDict()
    for name, a in tensors.items():
        if name.startswith("module."):
            name = name[len("module."):]
        m = OLD_DENSENET_KEY.match(name)
        if m:
            name = m.group(1) + m.group(2)
        out[name] = a
    return out


def checked(arch, tensors, source):
    head = "classifier.weight" if arch == "densenet121" else "fc.weight"
    if head not in tensors or len(tensors[head].shape) != 2:
        raise ConversionError(f"{source}: no {head} [classes, features]: not a torchvision {arch} state_dict")
    classes = int(tensors[head].shape[0])
    want = (expected_densenet121 if arch == "densenet121" else expected_resnet50)(classes)
    names = {n for n, _ in want}
    missing = [n for n, _ in want if n not in tensors]
    extra = [n for n in tensors if n not in names]
    if missing or extra:
        raise ConversionError(f"{source}: not a torchvision {arch} state_dict: missing {missing[:5]} "
                              f"({len(missing)}), unexpected {extra[:5]} ({len(extra)})")
    out = collections.OrderedDict()
    for n, shape in want:
        if tuple(tensors[n].shape) != shape:
            raise ConversionError(f"{source}: {n} has shape {tuple(tensors[n].shape)}, expected {shape}")
        out[n] = tensors[n]
    return out, classes


def imagenet_names():
    sys.path.insert(0, str(SCRIPT.parent))
    from convert_weights import imagenet_names as names
    return names(REPO / ".cache/data")


def convert(src, arch, out, name=None, classes=None, resize="shorter-256-crop-224", license_text=None,
            intended_use=None):
    src, out = Path(src), Path(out)
    if arch not in ARCHS:
        raise ConversionError(f"--arch {arch}: one of {', '.join(ARCHS)}")
    if not src.is_file():
        raise ConversionError(f"{src}: no such file")
    tensors, count = checked(arch, normalise_keys(read_tensors(src)), src)
    tensors = collections.OrderedDict((k, v.astype("<f4")) for k, v in tensors.items())
    if classes is None:
        classes = imagenet_names() if count == 1000 else [f"class-{i}" for i in range(count)]
    if len(classes) != count:
        raise ConversionError(f"{len(classes)} class names for a classifier with {count} outputs")
    name = name or out.name
    out.mkdir(parents=True, exist_ok=True)
    st = out / "model.safetensors"
    file_sha = sha256_file(src)
    write_safetensors(st, tensors, {"format": "pt", "model": name, "source": src.name})
    card = collections.OrderedDict([
        ("name", name),
        ("architecture", ARCHS[arch]),
        ("input", {"height": 224, "width": 224, "channels": 3, "color": "rgb", "resize": resize,
                   "normalization": {"scale": [1 / (255 * s) for s in IMAGENET_STD],
                                     "offset": [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]}}),
        ("batchnorm_epsilon", 1e-5),
        ("padding", "symmetric"),
        ("classes", classes),
        ("output", "softmax"),
        ("provenance", {"package": "user-supplied torchvision state_dict", "version": "unknown",
                        "file": src.name, "file_sha256": file_sha,
                        "converter": "scripts/convert_torchvision.py"}),
        ("license", license_text or "as the source file's; not stated to dxkit (sha256 above identifies it)"),
        ("metrics", None),
        ("intended_use", intended_use or "As its provider states; converted by the user. Not for clinical use unless validated."),
        ("notes", f"torchvision {arch} state_dict converted by scripts/convert_torchvision.py; {count} outputs."),
        ("parameters", int(sum(t.size for t in tensors.values()))),
        ("weights_sha256", sha256_file(st)),
    ])
    tmp = out / "model.json.tmp"
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, out / "model.json")
    return card


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("state_dict")
    ap.add_argument("--arch", required=True, choices=sorted(ARCHS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--name")
    ap.add_argument("--classes", help="comma-separated class names")
    ap.add_argument("--classes-file", help="class names, one per line")
    ap.add_argument("--resize", default="shorter-256-crop-224")
    ap.add_argument("--license")
    ap.add_argument("--intended-use")
    a = ap.parse_args(argv)
    classes = None
    if a.classes:
        classes = a.classes.split(",")
    elif a.classes_file:
        classes = [l.strip() for l in Path(a.classes_file).read_text().splitlines() if l.strip()]
    try:
        card = convert(a.state_dict, a.arch, a.out, a.name, classes, a.resize, a.license, a.intended_use)
    except (ConversionError, OSError, ValueError) as e:
        print(f"convert_torchvision: error: {e}", file=sys.stderr)
        return 1
    print(f"convert_torchvision: {a.out}: {card['architecture']}, {card['parameters']:,} parameters, "
          f"{len(card['classes'])} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
