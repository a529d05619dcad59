"""ONNX-imported models for scripts/bench_models.py: torchvision's DenseNet-121 and ResNet-50 as
exported by scripts/onnx_test_models.py (.cache/onnx-tests/NAME-opset17.onnx, seeded weights),
imported with `dxkit import-model` into .cache/bench/imported/NAME (redone when the ONNX file or
dxkit changed), ONNX Runtime on the same file, and PyTorch on the torchvision module (random
weights: the same network and arithmetic; the weights do not change its speed)."""
import hashlib
import json
import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ONNX_TESTS = REPO / ".cache/onnx-tests"
IMPORTED = REPO / ".cache/bench/imported"
# name -> ONNX file in .cache/onnx-tests
MODELS = {"densenet121": "densenet121-opset17.onnx", "resnet50": "resnet50-opset17.onnx"}
SHAPE = (3, 224, 224)


def onnx_path(name):
    path = ONNX_TESTS / MODELS[name]
    if not path.exists():
        raise SystemExit(f"bench_models: {path} missing: run `make setup` (scripts/onnx-test-models.sh)")
    return path


def build_model(name):
    """The torchvision module, eval()."""
    # torchvision's PyPI wheel is a CUDA build whose compiled ops do not load against the CPU torch;
    # its models are plain Python and need none of them.
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torchvision
    model = getattr(torchvision.models, name)(weights=None)
    model.eval()
    return model


def flops(model):
    """2 x multiply-adds of Conv2d and Linear per image (as scripts/export_onnx.py counts them)."""
    import torch
    from torch import nn
    total = {"conv": 0, "linear": 0}
    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda m, i, o: total.__setitem__(
                "conv", total["conv"] + 2 * m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                * o.shape[-2] * o.shape[-1])))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lambda m, i, o: total.__setitem__("linear", total["linear"] + 2 * m.in_features * m.out_features)))
    with torch.inference_mode():
        model(torch.zeros((1,) + SHAPE))
    for h in hooks:
        h.remove()
    f = total["conv"] + total["linear"]
    return {"flops": f, "gflops": round(f / 1e9, 4), "conv_flops": total["conv"], "linear_flops": total["linear"],
            "input": [1, *SHAPE], "source": "torchvision module (ONNX-imported into dxkit)"}


def ensure_imported(dxkit, name):
    """Imports the ONNX file with `dxkit import-model` unless the folder is from this file and binary."""
    src = onnx_path(name)
    h = hashlib.sha256(src.read_bytes())
    h.update(Path(dxkit).read_bytes())
    stamp = h.hexdigest()
    folder = IMPORTED / name
    if (folder / "model.json").exists() and (folder / ".stamp").exists() and (folder / ".stamp").read_text() == stamp:
        return
    IMPORTED.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([str(dxkit), "import-model", str(src), "--name", name, "--resize", "shorter-256-crop-224",
                        "--out", str(IMPORTED)], cwd=REPO, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench_models: dxkit import-model {src} failed: {(p.stderr or p.stdout).strip()[-400:]}")
    (folder / ".stamp").write_text(stamp)
    print(f"bench-models: {p.stdout.strip()}", flush=True)


def card(name):
    return json.loads((IMPORTED / name / "model.json").read_text())
