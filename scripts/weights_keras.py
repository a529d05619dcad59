"""Reads the Keras 3 .keras Xception + pneumonia head with h5py, renaming weights to dxkit's layout (OIHW, (C,1,k,k), (out,in))."""
import collections
import io
import json
import re
import zipfile

import numpy as np

from weights_common import ConversionError


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
