#!/usr/bin/env python3
"""Training throughput benchmark: dxkit against PyTorch CPU doing the same fine-tuning, FP32.
Run as scripts/bench-train.sh (it prepares .venv-ref first).

For mobilenet-v2 and efficientnet-lite0 (224x224) and pneumonia's Xception backbone (150x150), batch 16, --threads T (default 2), images/s of
  frozen   the frozen-feature pass: backbone features + global average pooling on an image batch
           (dxkit: `dxkit bench-train --unfreeze 0`; torch: eval(), inference_mode);
  K=1, K=2 fine-tuning the backbone's last K top-level blocks plus a linear head (2 classes) on
           cached freeze-point maps: forward, pooling, weighted cross-entropy, backward, AdamW
           (blocks at 0.1x the head's rate), BatchNorm statistics frozen (torch: the blocks in eval()
           with trainable weights; dxkit folds BatchNorm into the convolutions). --items maps per
           epoch, --epochs epochs; the first epoch is a warm-up and is not timed.
Blocks: MobileNetV2 `features[-K:]` (features.18 is the 1x1 conv to 1280, features.17 the last
inverted residual); EfficientNet-Lite0 `_conv_head`+`_bn1`, then `_blocks.15`; Xception block14 (two
separable convolutions), then block13 (entry-style block with its strided shortcut and max pool).
dxkit's blocks are the same (the top-level layers of its feature extractor).

Usage: bench_train.py [--dxkit PATH | --skip-dxkit] [--models M ...] [--threads T] [--json OUT]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
import export_onnx as ex  # noqa: E402


def xception_blocks(model):
    """Xception's features as Keras' blocks: block1 (two convolutions, as two blocks like dxkit's
    layers), entry blocks 2-4, middle blocks 5-12, block13, block14; each a module holding the
    submodules it uses, computing what XceptionPneumonia.forward computes."""
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Module):
        def __init__(self, fn, names):
            super().__init__()
            self.parts = nn.ModuleList([getattr(model, n) for n in names])
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    def entry(b, relu_first):
        def fn(x):
            r = model.shortcut(b, x)
            y = model.sep(f"block{b}_sepconv1", F.relu(x) if relu_first else x)
            y = model.sep(f"block{b}_sepconv2", F.relu(y))
            return getattr(model, f"block{b}_pool")(y) + r
        names = [f"block{b}_sepconv1", f"block{b}_sepconv1_bn", f"block{b}_sepconv2", f"block{b}_sepconv2_bn",
                 f"block{b}_shortcut", f"block{b}_shortcut_bn"]
        return Block(fn, names)

    def middle(b):
        def fn(x):
            r = x
            for j in (1, 2, 3):
                x = model.sep(f"block{b}_sepconv{j}", F.relu(x))
            return x + r
        return Block(fn, [f"block{b}_sepconv{j}{s}" for j in (1, 2, 3) for s in ("", "_bn")])

    def exit14(x):
        x = F.relu(model.sep("block14_sepconv1", x))
        return F.relu(model.sep("block14_sepconv2", x))

    return ([Block(lambda x: F.relu(model.block1_conv1_bn(model.block1_conv1(x))), ["block1_conv1", "block1_conv1_bn"]),
             Block(lambda x: F.relu(model.block1_conv2_bn(model.block1_conv2(x))), ["block1_conv2", "block1_conv2_bn"]),
             entry(2, False), entry(3, True), entry(4, True)]
            + [middle(b) for b in range(5, 13)]
            + [entry(13, True),
               Block(exit14, ["block14_sepconv1", "block14_sepconv1_bn", "block14_sepconv2", "block14_sepconv2_bn"])])


def blocks(name, model):
    """The model's feature extractor as a list of top-level blocks (dxkit's order)."""
    import torch.nn.functional as F
    from torch import nn

    if name == "mobilenet-v2":
        return list(model.features)
    if name == "pneumonia":
        return xception_blocks(model)

    class Stem(nn.Module):
        def forward(self, x):
            return F.relu6(model._bn0(model._conv_stem(x)))

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = model._conv_head, model._bn1

        def forward(self, x):
            return F.relu6(self.bn(self.conv(x)))

    return [Stem()] + list(model._blocks) + [Head()]


def torch_frozen(name, batch, seconds):
    import torch
    from torch import nn
    model = ex.build_model(name)
    seq = nn.Sequential(*blocks(name, model)).eval()
    x = torch.rand(batch, *ex.input_shape(name)) * 2 - 1
    with torch.inference_mode():
        seq(x).mean((2, 3))
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            seq(x).mean((2, 3))
            images += batch
    return images / (time.perf_counter() - start)


def torch_finetune(name, k, batch, items, epochs):
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = ex.build_model(name)
    bs = blocks(name, model)
    frozen, tail = nn.Sequential(*bs[:-k]).eval(), nn.Sequential(*bs[-k:]).eval()
    with torch.inference_mode():
        shape = frozen(torch.rand(1, *ex.input_shape(name)) * 2 - 1).shape[1:]
    maps = torch.relu(torch.rand(items, *shape) * 2 - 1)
    labels = torch.arange(items) % 2
    for p in tail.parameters():
        p.requires_grad_(True)
    channels = tail(maps[:1]).shape[1]
    head = nn.Linear(channels, 2)
    lr = 1e-3
    opt = torch.optim.AdamW([{"params": head.parameters(), "lr": lr},
                             {"params": tail.parameters(), "lr": lr * 0.1}], lr=lr, weight_decay=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    marks = []
    for _ in range(epochs):
        order = torch.randperm(items)
        for i in range(0, items, batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(head(tail(maps[idx]).mean((2, 3))), labels[idx])
            loss.backward()
            opt.step()
        marks.append(time.perf_counter())
    return items * (len(marks) - 1) / (marks[-1] - marks[0])


def dxkit(binary, name, k, args):
    cmd = [binary, "bench-train", "--model", name, "--unfreeze", str(k), "--batch", str(args.batch),
           "--threads", str(args.threads), "--items", str(args.items), "--epochs", str(args.epochs),
           "--seconds", str(args.seconds), "--models-dir", str(REPO / "models")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_second"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dxkit", default=str(REPO / ".build/release/dxkit"))
    ap.add_argument("--skip-dxkit", action="store_true")
    ap.add_argument("--models", nargs="+", default=["mobilenet-v2", "efficientnet-lite0", "pneumonia"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    rows = []
    print(f"training throughput, images/s, batch {args.batch}, {args.threads} threads "
          f"(torch {torch.__version__})")
    print(f"{'model':20} {'pass':8} {'dxkit':>9} {'torch':>9} {'ratio':>7}")
    for name in args.models:
        for k in (0, 1, 2):
            t = torch_frozen(name, args.batch, args.seconds) if k == 0 else \
                torch_finetune(name, k, args.batch, args.items, args.epochs)
            d = None if args.skip_dxkit else dxkit(args.dxkit, name, k, args)
            label = "frozen" if k == 0 else f"K={k}"
            ratio = f"{d / t:6.2f}x" if d else "     -"
            print(f"{name:20} {label:8} {d or 0:9.1f} {t:9.1f} {ratio:>7}", flush=True)
            rows.append({"model": name, "pass": label, "dxkit": d, "torch": t, "ratio": d / t if d else None})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
