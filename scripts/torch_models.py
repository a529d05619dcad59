"""PyTorch definitions of dxkit's networks with Keras/TensorFlow semantics, built on the converted
weights (models/*/model.safetensors): Xception + pneumonia head (TF "same" padding, BN eps 1e-3) and
EfficientNet-Lite0. Used by scripts/export_onnx.py (benchmarks) and checked against the golden logits."""
import json
import math

import numpy as np

def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for k, v in header.items():
        s, e = v["data_offsets"]
        if v["dtype"] != "F32":
            raise SystemExit(f"{path}: {k} has dtype {v['dtype']}, expected F32")
        out[k] = np.frombuffer(data[s:e], dtype="<f4").reshape(v["shape"]).copy()
    return out


def tf_same_pads(size, k, s):
    """TF/Keras SAME: (before, after) for one axis."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


# ----------------------------------------------------------------------------------------------
# Models

def build_xception_pneumonia(size=150):
    """Keras Applications Xception (include_top=False) + the pneumonia head, in PyTorch.

    Attribute names are the Keras layer names, so the state_dict keys are the safetensors names
    except that a separable conv's "NAME.depthwise" / "NAME.pointwise" are NAME.depthwise.weight
    / NAME.pointwise.weight here. Padding is computed statically for `size`.
    """
    import torch
    from torch import nn
    import torch.nn.functional as F

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3)

    class SepConv(nn.Module):
        """Keras SeparableConv2D 3x3, stride 1, SAME (symmetric pad 1), no bias."""

        def __init__(self, cin, cout):
            super().__init__()
            self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
            self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

        def forward(self, x):
            return self.pointwise(self.depthwise(x))

    class SamePool(nn.Module):
        """Keras MaxPooling2D 3x3 stride 2 SAME (padded cells ignored) for input side `n`."""

        def __init__(self, n):
            super().__init__()
            lo, hi = tf_same_pads(n, 3, 2)
            if lo == hi:
                self.pool = nn.MaxPool2d(3, 2, padding=lo)
            elif hi == lo + 1:  # the extra cell at bottom/right: ceil_mode adds that last window
                self.pool = nn.MaxPool2d(3, 2, padding=lo, ceil_mode=True)
            else:
                raise ValueError(f"unsupported SAME padding {lo},{hi}")
            out = math.floor((n + 2 * lo - 3) / 2) + 1 if lo == hi else math.ceil((n + 2 * lo - 3) / 2) + 1
            if out != math.ceil(n / 2):
                raise ValueError(f"pool output {out} != SAME {math.ceil(n / 2)} for {n}")
            self.out = out

        def forward(self, x):
            return self.pool(x)

    class XceptionPneumonia(nn.Module):
        def __init__(self):
            super().__init__()
            self.block1_conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)   # VALID
            self.block1_conv1_bn = bn(32)
            self.block1_conv2 = nn.Conv2d(32, 64, 3, 1, 0, bias=False)  # VALID
            self.block1_conv2_bn = bn(64)
            n = (size - 3) // 2 + 1 - 2
            self.pools = {}
            for block, cin, cout in [(2, 64, 128), (3, 128, 256), (4, 256, 728)]:
                self._sep(f"block{block}_sepconv1", cin, cout)
                self._sep(f"block{block}_sepconv2", cout, cout)
                self._shortcut(block, cin, cout)
                pool = SamePool(n)
                setattr(self, f"block{block}_pool", pool)
                n = pool.out
            for block in range(5, 13):
                for j in (1, 2, 3):
                    self._sep(f"block{block}_sepconv{j}", 728, 728)
            self._sep("block13_sepconv1", 728, 728)
            self._sep("block13_sepconv2", 728, 1024)
            self._shortcut(13, 728, 1024)
            self.block13_pool = SamePool(n)
            self._sep("block14_sepconv1", 1024, 1536)
            self._sep("block14_sepconv2", 1536, 2048)
            self.head_dense1 = nn.Linear(2048, 128)
            self.head_dense2 = nn.Linear(128, 2)

        def _sep(self, name, cin, cout):
            setattr(self, name, SepConv(cin, cout))
            setattr(self, f"{name}_bn", bn(cout))

        def _shortcut(self, block, cin, cout):
            # 1x1 stride 2 SAME: the SAME padding of a 1x1 kernel is always 0
            setattr(self, f"block{block}_shortcut", nn.Conv2d(cin, cout, 1, 2, 0, bias=False))
            setattr(self, f"block{block}_shortcut_bn", bn(cout))

        def sep(self, name, x):
            return getattr(self, f"{name}_bn")(getattr(self, name)(x))

        def shortcut(self, block, x):
            return getattr(self, f"block{block}_shortcut_bn")(getattr(self, f"block{block}_shortcut")(x))

        def forward(self, x):
            x = F.relu(self.block1_conv1_bn(self.block1_conv1(x)))
            x = F.relu(self.block1_conv2_bn(self.block1_conv2(x)))
            # block 2: no ReLU before the first separable conv (x is already activated)
            r = self.shortcut(2, x)
            x = self.sep("block2_sepconv1", x)
            x = self.sep("block2_sepconv2", F.relu(x))
            x = self.block2_pool(x) + r
            for block in (3, 4):
                r = self.shortcut(block, x)
                x = self.sep(f"block{block}_sepconv1", F.relu(x))
                x = self.sep(f"block{block}_sepconv2", F.relu(x))
                x = getattr(self, f"block{block}_pool")(x) + r
            for block in range(5, 13):
                r = x
                for j in (1, 2, 3):
                    x = self.sep(f"block{block}_sepconv{j}", F.relu(x))
                x = x + r
            r = self.shortcut(13, x)
            x = self.sep("block13_sepconv1", F.relu(x))
            x = self.sep("block13_sepconv2", F.relu(x))
            x = self.block13_pool(x) + r
            x = F.relu(self.sep("block14_sepconv1", x))
            x = F.relu(self.sep("block14_sepconv2", x))
            x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            x = F.relu(self.head_dense1(x))  # Dropout 0.3: identity at inference
            return self.head_dense2(x)

    return XceptionPneumonia()


def xception_key(name):
    if name.endswith(".depthwise") or name.endswith(".pointwise"):
        return name + ".weight"
    return name


# EfficientNet-Lite0 (efficientnet_lite_pytorch / lukemelas layout): (repeats, k, s, expand, in, out)
EFFNET_LITE0_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                       (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                       (1, 3, 1, 6, 192, 320)]


def build_efficientnet_lite0(size=224):
    """EfficientNet-Lite0 with the reference package's module names (_conv_stem, _bn0, _blocks.i.
    _expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2, _conv_head, _bn1, _fc): ReLU6, no
    SE, BN eps 1e-3, TF SAME padding computed statically for `size` (ZeroPad2d, as its
    Conv2dStaticSamePadding), residual when stride 1 and in == out."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class SameConv(nn.Conv2d):
        def __init__(self, cin, cout, k, s, n, groups=1):
            lo, hi = tf_same_pads(n, k, s)
            # symmetric SAME padding goes into the conv itself; only the asymmetric cases (the
            # stride-2 convs) need an explicit zero pad (left/top lo, right/bottom hi)
            super().__init__(cin, cout, k, s, lo if lo == hi else 0, groups=groups, bias=False)
            self.pads = (0, 0, 0, 0) if lo == hi else (lo, hi, lo, hi)

        def forward(self, x):
            if any(self.pads):
                x = F.pad(x, self.pads)
            return super().forward(x)

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3)

    class MBConv(nn.Module):
        def __init__(self, k, s, e, cin, cout, n):
            super().__init__()
            hid = cin * e
            self.expand = e != 1
            if self.expand:
                self._expand_conv = SameConv(cin, hid, 1, 1, n)
                self._bn0 = bn(hid)
            self._depthwise_conv = SameConv(hid, hid, k, s, n, groups=hid)
            self._bn1 = bn(hid)
            self._project_conv = SameConv(hid, cout, 1, 1, math.ceil(n / s))
            self._bn2 = bn(cout)
            self.residual = s == 1 and cin == cout

        def forward(self, inputs):
            x = inputs
            if self.expand:
                x = F.relu6(self._bn0(self._expand_conv(x)))
            x = F.relu6(self._bn1(self._depthwise_conv(x)))
            x = self._bn2(self._project_conv(x))
            return x + inputs if self.residual else x

    class EfficientNetLite0(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, 2, size)
            self._bn0 = bn(32)
            n = math.ceil(size / 2)
            blocks = []
            for reps, k, s, e, cin, cout in EFFNET_LITE0_STAGES:
                for j in range(reps):
                    stride = s if j == 0 else 1
                    blocks.append(MBConv(k, stride, e, cin if j == 0 else cout, cout, n))
                    n = math.ceil(n / stride)
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(320, 1280, 1, 1, n)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for b in self._blocks:
                x = b(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            return self._fc(x)  # Dropout 0.2: identity at inference

    return EfficientNetLite0()


def mobilenet_v2():
    """torchvision.models.MobileNetV2 (width 1.0), same module tree and state_dict keys."""
    import torch
    from torch import nn

    class ConvBNReLU(nn.Sequential):
        def __init__(self, cin, cout, k=3, s=1, groups=1):
            super().__init__(nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, s, t):
            super().__init__()
            hid = int(round(cin * t))
            self.use_res = s == 1 and cin == cout
            layers = [] if t == 1 else [ConvBNReLU(cin, hid, k=1)]
            layers += [ConvBNReLU(hid, hid, s=s, groups=hid), nn.Conv2d(hid, cout, 1, 1, 0, bias=False),
                       nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            feats, cin = [ConvBNReLU(3, 32, s=2)], 32
            for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
                for i in range(n):
                    feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            feats.append(ConvBNReLU(cin, 1280, k=1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
            return self.classifier(torch.flatten(x, 1))

    return MobileNetV2()
