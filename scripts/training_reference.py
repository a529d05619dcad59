#!/usr/bin/env python3
"""Regenerates Tests/TrainingTests/Fixtures/training-reference.json: the reference for dxkit's
training on the 16 labelled chest X-rays, computed with the source frameworks and scikit-learn.
Run by hand in .venv-ref (see scripts/reference_outputs.py for the environment; this script also
needs scikit-learn, listed in scripts/reference-requirements.txt):

    .venv-ref/bin/python scripts/training_reference.py      # or: make training-reference

What it computes
  1. Each chest JPEG decoded by PIL (RGB); the sha256 of the decoded pixels is stored so the test
     first checks that dxkit decodes the DICOM-wrapped JPEG to the same bytes.
  2. Pooled embeddings with the ORIGINAL frameworks, from dxkit's preprocessing rule for each card:
     MobileNetV2 and EfficientNet-Lite0 in PyTorch (torchvision's MobileNetV2 module tree and the
     efficientnet_lite_pytorch package with the .pth state_dicts; global average pooling of the last
     feature maps), Xception in Keras 3 (the pneumonia package's .keras model, its inner "xception"
     model; global average pooling). Resizing: MobileNetV2/EfficientNet-Lite0 224x224 with PIL's
     antialiased BILINEAR on float ("F") channels (what dxkit's Resize.bilinear implements), Xception
     150x150 with PIL NEAREST; normalisation as the cards say.
  3. The patient split dxkit makes with --validation 0.2 --seed 3 (a port of Cohort.splitByPatient and
     SplitMix64; the test checks dxkit makes the same), patients as in the labels the test writes:
     NORMAL2-IM-1427-0001 -> IM-1427, person1946_bacteria_4874 -> person1946 (two images of one child).
  4. scikit-learn's LogisticRegression on the training images, inputs standardised by StandardScaler
     with dxkit's deviation floor (scale_ = 1 / max(sd, 0.1 x RMS of all sds); see
     Sources/Training/HeadModel.swift, `Standardisation`), class_weight='balanced' (dxkit's inverse
     class frequency), and the L2 penalty matched to dxkit's weight decay lambda: dxkit minimises
     (1/n) sum_i s_i CE_i + (lambda/2)(|w_0|^2 + |w_1|^2) over a two-row softmax head, whose optimum has
     w_1 = -w_0 = w/2, i.e. (1/n) sum_i s_i CE_i + (lambda/4)|w|^2 for the binary logit w, which is
     scikit-learn's 0.5|w|^2 + C sum_i s_i CE_i with C = 2 / (lambda n). The script checks that the
     fitted coefficients satisfy the optimality condition of that objective.
  5. For the README's table: leave-one-patient-out predictions pooled into one AUROC with a 95%
     stratified percentile bootstrap interval, for LogisticRegression (as in 4; and once more with
     StandardScaler's own rule, scale 1 only for constant features, to show why dxkit floors), MLPClassifier
     (hidden 128, alpha = lambda n, adam; no dropout and no class weights: scikit-learn has neither)
     and the prototype rule (cosine to class means of L2-normalised embeddings, temperature 10:
     numpy, the same algorithm as dxkit's prototype head).

Why the golden file holds samples of the embeddings, not all of them: 16 x (1280 + 1280 + 2048)
floats would make a file of about 600 KB. The test needs equality to 1e-4, so the file holds, per
image and backbone, 128 features at evenly spaced indices (full float32 precision) and three
statistics over ALL features, each implied by element-wise equality to 1e-4 and each sensitive to a
different kind of error: the mean, the root mean square, and a mean weighted by sin(j + 1) (which
a permutation of channels changes). About 90 KB in all.
"""
import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"
warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
from reference_outputs import (CHEST_DIR, EFFNET_CODE, EFFNET_PTH, IMAGENET_MEAN, IMAGENET_STD,  # noqa: E402
                               KERAS_FILE, MOBILENET_PTH, dump, f9)
from torch_models import mobilenet_v2  # noqa: E402

OUT = REPO / "Tests/TrainingTests/Fixtures/training-reference.json"
WEIGHT_DECAY = 1e-2          # dxkit's default --weight-decay
FLOOR_FRACTION = 0.1         # Standardisation.floorFraction
VALIDATION, SEED = 0.2, 3    # --validation 0.2 --seed 3
TEMPERATURE = 10.0           # prototype heads
SAMPLES = 128
BOOTSTRAP = 2000
MASK = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# dxkit's seeded split, ported

class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.next() % (i + 1)
            a[i], a[j] = a[j], a[i]


def split_by_patient(labels, patients, validation, seed):
    """Cohort.splitByPatient: per class (by each patient's majority label, ties to the lower
    class), patients sorted then shuffled by one generator; round(n * validation) held out, at
    least one patient of each class kept for training."""
    by_patient = {}
    for y, p in zip(labels, patients):
        by_patient.setdefault(p, []).append(y)

    def majority(ys):
        counts = {c: ys.count(c) for c in set(ys)}
        return min(counts, key=lambda c: (-counts[c], c))

    rng = SplitMix64(seed)
    assignment = {}
    for label in (0, 1):
        ps = sorted(p for p, ys in by_patient.items() if majority(ys) == label)
        rng.shuffle(ps)
        held = min(int(math.floor(len(ps) * validation + 0.5)), max(len(ps) - 1, 0))
        for i, p in enumerate(ps):
            assignment[p] = "val" if i < held else "train"
    return [assignment[p] for p in patients]


# ---------------------------------------------------------------------------------------------
# Images and embeddings

def chest_images():
    files = sorted(CHEST_DIR.glob("*.jpeg"))
    if len(files) != 16:
        raise SystemExit(f"expected 16 chest JPEGs in {CHEST_DIR}")
    out = []
    for f in files:
        stem = f.stem
        if stem.startswith("NORMAL"):
            label, patient = 0, stem[len("NORMAL2-"):].rsplit("-", 1)[0]
        else:
            label, patient = 1, stem.split("_")[0]
        with Image.open(f) as im:
            rgb = np.asarray(im.convert("RGB"))
        out.append({"image": stem, "label": label, "patient": patient, "rgb": rgb})
    return out


def bilinear_f(rgb, size):
    """PIL's antialiased BILINEAR on float channels (mode F): the float result dxkit's
    Resize.bilinear computes (no rounding to 8 bits)."""
    chans = [np.asarray(Image.fromarray(rgb[:, :, c].astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
             for c in range(3)]
    return np.stack(chans, axis=2).astype(np.float32)


def nearest(rgb, size):
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.NEAREST)).astype(np.float32)


def torch_embeddings(model_features, inputs):
    import torch
    x = torch.from_numpy(np.ascontiguousarray(np.stack(inputs).transpose(0, 3, 1, 2)))
    with torch.no_grad():
        maps = model_features(x)
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(maps, 1), 1).numpy().astype(np.float64)


def embeddings_all(images):
    import keras
    import torch
    torch.set_num_threads(2)
    out = {}

    # MobileNetV2 (torchvision tree): features -> global average pool.
    mob = mobilenet_v2()
    mob.load_state_dict(torch.load(MOBILENET_PTH, map_location="cpu", weights_only=True), strict=True)
    mob.eval()
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    xs = [((bilinear_f(i["rgb"], 224).astype(np.float64) / 255 - mean) / std).astype(np.float32) for i in images]
    out["mobilenet-v2"] = torch_embeddings(mob.features, xs)

    # EfficientNet-Lite0 (efficientnet_lite_pytorch, ReLU6): extract_features -> global average pool.
    sys.path.insert(0, str(EFFNET_CODE))
    from efficientnet_lite_pytorch import EfficientNet
    eff = EfficientNet.from_name("efficientnet-lite0")
    eff.load_state_dict(torch.load(EFFNET_PTH, map_location="cpu", weights_only=True), strict=True)
    eff.eval()
    xs = [(bilinear_f(i["rgb"], 224) - np.float32(127)) / np.float32(128) for i in images]
    out["efficientnet-lite0"] = torch_embeddings(eff.extract_features, xs)

    # Xception (Keras 3, the pneumonia package's inner ImageNet Xception): GAP of its output.
    model = keras.saving.load_model(KERAS_FILE, compile=False)
    xception = model.get_layer("xception")
    x = np.stack([nearest(i["rgb"], 150) / np.float32(127.5) - np.float32(1) for i in images]).astype(np.float32)
    maps = np.asarray(keras.ops.convert_to_numpy(xception(x, training=False)), dtype=np.float64)
    out["xception"] = maps.mean(axis=(1, 2))
    return out, {"keras": keras.__version__, "torch": torch.__version__}


# ---------------------------------------------------------------------------------------------
# Heads

def standardise(train, floor=True):
    """StandardScaler; with `floor`, dxkit's deviation floor replaces its scale-1 rule."""
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(train)
    sd = np.sqrt(scaler.var_)
    rms = math.sqrt(float((sd ** 2).mean()))
    if floor:
        scaler.scale_ = np.maximum(sd, FLOOR_FRACTION * rms) if rms > 0 else np.ones_like(sd)
    return scaler, int((sd < FLOOR_FRACTION * rms).sum())


def logistic(train_x, train_y):
    from sklearn.linear_model import LogisticRegression
    n = len(train_y)
    c = 2.0 / (WEIGHT_DECAY * n)
    model = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", tol=1e-12, max_iter=100000)
    model.fit(train_x, train_y)
    # Optimality of 0.5|w|^2 + C sum s_i CE_i: w = C sum s_i (y_i - p_i) x_i, sum s_i (y_i - p_i) = 0.
    s = np.where(train_y == 1, n / (2 * train_y.sum()), n / (2 * (n - train_y.sum())))
    r = s * (train_y - model.predict_proba(train_x)[:, 1])
    grad_w = model.coef_[0] - c * (r[:, None] * train_x).sum(0)
    kkt = float(max(np.abs(grad_w).max() / max(np.abs(model.coef_).max(), 1e-12), abs(r.sum())))
    if kkt > 1e-4:
        raise SystemExit(f"LogisticRegression did not reach the stated optimum (relative gradient {kkt})")
    return model, c, kkt


def mlp(train_x, train_y, seed):
    from sklearn.neural_network import MLPClassifier
    n = len(train_y)
    model = MLPClassifier(hidden_layer_sizes=(128,), alpha=WEIGHT_DECAY * n, solver="adam", learning_rate_init=3e-3,
                          batch_size=min(32, n), max_iter=100, shuffle=True, random_state=seed, tol=0, n_iter_no_change=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train_x, train_y)
    return model


def prototype_probabilities(train_x, train_y, test_x):
    def unit(a):
        return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    protos = np.stack([unit(unit(train_x[train_y == c]).sum(0)) for c in (0, 1)])
    z = TEMPERATURE * unit(test_x) @ protos.T
    e = np.exp(z - z.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True))[:, 1]


def auroc(y, p):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p))


def bootstrap_interval(y, p, seed):
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    values = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        values.append(auroc(y[idx], p[idx]))
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def lopo(x, y, patients):
    """Leave one patient out, each fold standardised on its own training images."""
    out = {}
    for kind in ("logistic", "mlp", "prototype", "logistic_standardscaler_rule"):
        p = np.zeros(len(y))
        for patient in sorted(set(patients)):
            test = np.array([q == patient for q in patients])
            scaler, _ = standardise(x[~test], floor=kind != "logistic_standardscaler_rule")
            if kind.startswith("logistic"):
                p[test] = logistic(scaler.transform(x[~test]), y[~test])[0].predict_proba(scaler.transform(x[test]))[:, 1]
            elif kind == "mlp":
                p[test] = mlp(scaler.transform(x[~test]), y[~test], SEED).predict_proba(scaler.transform(x[test]))[:, 1]
            else:
                p[test] = prototype_probabilities(x[~test], y[~test], x[test])
        clipped = np.clip(np.where(y == 1, p, 1 - p), 1e-15, 1)
        out[kind] = {"auroc": round(auroc(y, p), 6), "auroc_95ci": [round(v, 6) for v in bootstrap_interval(y, p, SEED)],
                     "log_loss": round(float(-np.log(clipped).mean()), 6), "probabilities": [round(float(v), 6) for v in p]}
    return out


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="regenerate the training reference")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--embeddings-cache", help="an .npz to reuse the embeddings from (written when missing)")
    args = ap.parse_args()
    import sklearn
    t0 = time.time()
    images = chest_images()
    labels = [i["label"] for i in images]
    patients = [i["patient"] for i in images]
    split = split_by_patient(labels, patients, VALIDATION, SEED)
    y = np.array(labels)
    train, val = np.array([s == "train" for s in split]), np.array([s == "val" for s in split])

    if args.embeddings_cache and Path(args.embeddings_cache).exists():
        cached = np.load(args.embeddings_cache, allow_pickle=False)
        embeddings = {k: cached[k] for k in ("mobilenet-v2", "efficientnet-lite0", "xception")}
        versions = json.loads(str(cached["versions"]))
    else:
        embeddings, versions = embeddings_all(images)
        if args.embeddings_cache:
            np.savez(args.embeddings_cache, versions=json.dumps(versions), **embeddings)
    result = {
        "generated_by": "scripts/training_reference.py (run by hand in .venv-ref)",
        "versions": dict(versions, python=platform.python_version(), numpy=np.__version__, sklearn=sklearn.__version__),
        "classes": ["NORMAL", "PNEUMONIA"],
        "weight_decay": WEIGHT_DECAY,
        "standardisation": f"StandardScaler, scale_ = max(sd, {FLOOR_FRACTION} x RMS of all sds)",
        "split": {"validation": VALIDATION, "seed": SEED, "rule": "dxkit Cohort.splitByPatient, ported (SplitMix64)"},
        "images": [{"image": i["image"], "label": i["label"], "patient": i["patient"], "split": s,
                    "decoded_size": [int(i["rgb"].shape[1]), int(i["rgb"].shape[0])],
                    "decoded_sha256": hashlib.sha256(np.ascontiguousarray(i["rgb"]).tobytes()).hexdigest()}
                   for i, s in zip(images, split)],
        "backbones": {},
    }
    for name, x in embeddings.items():
        d = x.shape[1]
        idx = [int(round(k * (d - 1) / (SAMPLES - 1))) for k in range(SAMPLES)]
        weights = np.sin(np.arange(d) + 1.0)
        scaler, floored = standardise(x[train])
        model, c, kkt = logistic(scaler.transform(x[train]), y[train])
        proba = model.predict_proba(scaler.transform(x))[:, 1]
        entry = {
            "dimension": d,
            "sample_indices": idx,
            "embeddings": {i["image"]: {"samples": [f9(v) for v in x[k, idx]], "mean": f9(x[k].mean()),
                                        "rms": f9(np.sqrt((x[k] ** 2).mean())), "sin_weighted_mean": f9((weights * x[k]).mean())}
                           for k, i in enumerate(images)},
            "logistic": {"C": c, "train_images": int(train.sum()), "floored_features": floored,
                         "relative_gradient_at_optimum": kkt,
                         "probabilities": {i["image"]: round(float(p), 6) for i, p in zip(images, proba)}},
            "leave_one_patient_out": lopo(x, y, patients),
        }
        result["backbones"][name] = entry
        lo = entry["leave_one_patient_out"]
        print(f"{name}: {floored} floored features; validation p = "
              f"{[round(float(p), 3) for p in proba[val]]}; LOPO AUROC logistic {lo['logistic']['auroc']:.3f} "
              f"(log loss {lo['logistic']['log_loss']:.3f}; StandardScaler's rule {lo['logistic_standardscaler_rule']['log_loss']:.3f}), mlp {lo['mlp']['auroc']:.3f}, prototype {lo['prototype']['auroc']:.3f}")
    result["seconds"] = round(time.time() - t0, 1)
    text = dump(result) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"training_reference: wrote {out} ({len(text) / 1024:.0f} KiB) in {result['seconds']} s")


if __name__ == "__main__":
    main()
