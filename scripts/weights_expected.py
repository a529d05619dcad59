"""The tensor names and shapes each architecture must have, checked before anything is written."""
import collections

import numpy as np

from weights_common import ConversionError


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
