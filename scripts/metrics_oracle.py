#!/usr/bin/env python3
"""Golden values for dxkit's metrics, computed with scikit-learn, Fairlearn and SciPy.

Writes Tests/EvaluationTests/Fixtures/{scores.csv, ties.csv, metrics-oracle.json}. Run by hand in .venv-ref
(pip install scikit-learn==1.9.1 fairlearn==0.15.0 scipy==1.17.1 netcal==1.4.0):
  .venv-ref/bin/python scripts/metrics_oracle.py
ECE and MCE come from netcal, asserted equal to the definition dxkit documents (15 equal-width bins on the
positive-class probability, a score of 1 in the last bin; sum of |mean label - mean score| x bin share); DeLong's
interval is computed here independently of dxkit from the structural components.
"""
import csv
import json
import os

import fairlearn.metrics as fm
import numpy as np
import scipy.optimize
import scipy.special
import sklearn
from sklearn import metrics as sk

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EvaluationTests", "Fixtures")


def cohort(seed, n):
    rng = np.random.default_rng(seed)
    group = rng.choice(["F", "M", "U"], size=n, p=[0.45, 0.45, 0.10])
    site = rng.choice(["site-a", "site-b"], size=n)
    label = (rng.random(n) < np.where(group == "F", 0.3, 0.4)).astype(int)
    logit = 1.8 * (label - 0.5) + rng.normal(0, 1.2, n) + np.where(site == "site-b", 0.4, 0.0)
    score = scipy.special.expit(logit / 1.7)  # over-confident by a known temperature-like factor
    return score, label, group, site


def delong(score, label):
    pos, neg = score[label == 1], score[label == 0]
    m, n = len(pos), len(neg)
    v10 = np.array([(np.sum(p > neg) + 0.5 * np.sum(p == neg)) / n for p in pos])
    v01 = np.array([(np.sum(pos > q) + 0.5 * np.sum(pos == q)) / m for q in neg])
    auc = v10.mean()
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    z = 1.959963984540054
    return [max(0.0, auc - z * se), min(1.0, auc + z * se)]


def ece_mce(score, label, bins=15):
    """netcal's ECE and MCE (15 equal-width bins on the positive-class probability), checked against
    the definition dxkit documents, computed here with numpy."""
    from netcal.metrics import ECE, MCE
    ece, mce = definition_ece_mce(score, label, bins)
    n_ece, n_mce = float(ECE(bins=bins).measure(score, label)), float(MCE(bins=bins).measure(score, label))
    assert abs(n_ece - ece) < 1e-12 and abs(n_mce - mce) < 1e-12, (n_ece, ece, n_mce, mce)
    return n_ece, n_mce


def definition_ece_mce(score, label, bins=15):
    idx = np.minimum((score * bins).astype(int), bins - 1)
    ece, mce = 0.0, 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            gap = abs(label[sel].mean() - score[sel].mean())
            ece += gap * sel.sum() / len(score)
            mce = max(mce, gap)
    return ece, mce


def temperature(score, label):
    z = np.log(np.clip(score, 1e-12, 1 - 1e-12) / (1 - np.clip(score, 1e-12, 1 - 1e-12)))

    def nll(log_t):
        u = z / np.exp(log_t)
        return np.mean(np.logaddexp(0, u) - label * u)

    r = scipy.optimize.minimize_scalar(nll, bounds=(np.log(0.01), np.log(100)), method="bounded",
                                       options={"xatol": 1e-12})
    return float(np.exp(r.x))


def summary(score, label, threshold=0.5):
    pred = (score >= threshold).astype(int)
    tn, fp, fn, tp = sk.confusion_matrix(label, pred, labels=[0, 1]).ravel()
    out = {"n": int(len(score)), "prevalence": float(label.mean())}
    both = 0 < label.sum() < len(label)
    out["auroc"] = float(sk.roc_auc_score(label, score)) if both else None
    out["auroc_ci"] = delong(score, label) if both else None
    out["auprc"] = float(sk.average_precision_score(label, score)) if label.sum() > 0 else None
    out["brier"] = float(sk.brier_score_loss(label, score))
    out["log_loss"] = float(sk.log_loss(label, score, labels=[0, 1]))
    out["ece"], out["mce"] = ece_mce(score, label)
    out["sensitivity"] = float(tp / (tp + fn)) if tp + fn else None
    out["specificity"] = float(tn / (tn + fp)) if tn + fp else None
    out["ppv"] = float(tp / (tp + fp)) if tp + fp else None
    out["npv"] = float(tn / (tn + fn)) if tn + fn else None
    out["f1"] = float(sk.f1_score(label, pred, zero_division=0)) if 2 * tp + fp + fn else None
    out["accuracy"] = float(sk.accuracy_score(label, pred))
    out["selection_rate"] = float(pred.mean())
    out["temperature"] = temperature(score, label)
    return out


def write_csv(path, rows, header):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0.0, centre - half), min(1.0, centre + half)]


def manifest_oracle():
    """A metadata-only manifest (no images) and what a dataset audit must find in it (scipy chi2_contingency)."""
    from scipy.stats import chi2_contingency
    rng = np.random.default_rng(11)
    n = 240
    gender = rng.choice(["F", "M", ""], size=n, p=[0.5, 0.42, 0.08])
    scanner = rng.choice(["Acme", "Globex"], size=n, p=[0.6, 0.4])
    split = np.where(rng.random(n) < 0.75, "train", "val")
    scanner = np.where((split == "val") & (rng.random(n) < 0.3), "Globex", scanner)  # a shift between splits
    finding = (rng.random(n) < np.where(scanner == "Globex", 0.45, 0.25)).astype(int)
    write_csv(os.path.join(OUT, "manifest.csv"), zip(gender, scanner, finding, split), ["Gender", "Scanner", "Finding", "Split"])
    out = {}
    for name, values in (("sex", np.where(gender == "", "(missing)", gender)), ("manufacturer", scanner)):
        groups = sorted(set(values))
        table = [[int(np.sum((values == g) & (finding == 0))), int(np.sum((values == g) & (finding == 1)))] for g in groups]
        chi2, p, dof, _ = chi2_contingency(table)
        split_table = [[int(np.sum((values == g) & (split == s))) for s in ("train", "val")] for g in groups]
        s_chi2, s_p, s_dof, _ = chi2_contingency(split_table)
        out[name] = {"counts": {g: int(np.sum(values == g)) for g in groups},
                     "missing": float(np.mean(values == "(missing)")),
                     "prevalence": {g: float(finding[values == g].mean()) for g in groups},
                     "wilson": {g: wilson(int(finding[values == g].sum()), int(np.sum(values == g))) for g in groups},
                     "chi2": [float(chi2), int(dof), float(p)], "split_chi2": [float(s_chi2), int(s_dof), float(s_p)]}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    score, label, group, site = cohort(20261126, 400)
    score = np.round(score, 6)
    write_csv(os.path.join(OUT, "scores.csv"), zip(score, label, group, site), ["score", "label", "sex", "site"])
    main_summary = summary(score, label)
    pred = (score >= 0.5).astype(int)
    main_summary["groups"] = {g: summary(score[group == g], label[group == g]) for g in sorted(set(group))}
    main_summary["demographic_parity_difference"] = float(fm.demographic_parity_difference(label, pred, sensitive_features=group))
    main_summary["equalized_odds_difference"] = float(fm.equalized_odds_difference(label, pred, sensitive_features=group))

    # Ties and a tiny sample: scores on a coarse grid.
    rng = np.random.default_rng(3)
    t_label = (rng.random(40) < 0.5).astype(int)
    t_score = np.round(np.clip(0.5 + 0.3 * (t_label - 0.5) + rng.normal(0, 0.25, 40), 0, 1), 1)
    write_csv(os.path.join(OUT, "ties.csv"), zip(t_score, t_label), ["score", "label"])
    # Calibrators fitted on the same scores: isotonic predictions and Platt coefficients.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression
    iso = IsotonicRegression(out_of_bounds="clip").fit(score, label)
    probe = np.round(np.linspace(0, 1, 41), 6)
    z = np.log(np.clip(score, 1e-12, 1 - 1e-12) / (1 - np.clip(score, 1e-12, 1 - 1e-12)))
    platt = LogisticRegression(penalty=None, tol=1e-12, max_iter=10000).fit(z.reshape(-1, 1), label)
    calibration = {"probe": probe.tolist(), "isotonic": iso.predict(probe).tolist(),
                   "platt_a": float(platt.coef_[0][0]), "platt_b": float(platt.intercept_[0])}
    manifest = manifest_oracle()
    import netcal
    json.dump({"generator": "scripts/metrics_oracle.py", "scikit_learn": sklearn.__version__, "netcal": netcal.__version__,
               "calibration": calibration,
               "manifest": manifest,
               "fairlearn": fm.__name__ and __import__("fairlearn").__version__,
               "scores_csv": main_summary, "ties_csv": summary(t_score, t_label)},
              open(os.path.join(OUT, "metrics-oracle.json"), "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
