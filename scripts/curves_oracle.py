#!/usr/bin/env python3
"""Golden ROC and precision-recall curves for `metrics --json` (scikit-learn's roc_curve with
drop_intermediate=False and precision_recall_curve), on the oracle's scores.csv and ties.csv.

Writes Tests/EvaluationTests/Fixtures/curves-oracle.json. Run by hand in a venv with
scripts/bench-eval-requirements.txt (scripts/bench-eval.sh makes .venv-bench):
  .venv-bench/bin/python scripts/curves_oracle.py
"""
import csv
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import precision_recall_curve, roc_curve

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Tests", "EvaluationTests", "Fixtures")


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["score"]) for r in rows]), np.array([int(r["label"]) for r in rows])


def curves(score, label):
    fpr, tpr, roc_t = roc_curve(label, score, drop_intermediate=False)
    precision, recall, pr_t = precision_recall_curve(label, score)
    return {"roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
                    "thresholds": [None if not np.isfinite(t) else float(t) for t in roc_t]},
            "pr": {"precision": precision.tolist(), "recall": recall.tolist(), "thresholds": pr_t.tolist()}}


def main():
    out = {"generator": "scripts/curves_oracle.py", "scikit_learn": sklearn.__version__}
    for name in ("scores.csv", "ties.csv"):
        out[name] = curves(*load(name))
    with open(os.path.join(FIXTURES, "curves-oracle.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
