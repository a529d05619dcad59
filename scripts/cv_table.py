#!/usr/bin/env python3
"""Writes the cross-validated transfer-learning table into README.md (between the cv-table
markers) from the cards scripts/cv-table.sh collected and scikit-learn's numbers in
Tests/TrainingTests/Fixtures/training-reference.json. Standard library only."""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START, END = "<!-- cv-table:start -->", "<!-- cv-table:end -->"
BACKBONES = [("mobilenet-v2", "MobileNetV2"), ("efficientnet-lite0", "EfficientNet-Lite0"), ("xception", "Xception")]
ROWS = [("linear", 0), ("mlp", 0), ("prototype", 0), ("linear", 1), ("mlp", 1), ("linear", 2), ("mlp", 2)]
REFERENCE = {"linear": ("logistic", "LogisticRegression"), "mlp": ("mlp", "MLPClassifier"), "prototype": ("prototype", "numpy prototypes")}


def cell(auroc, ci):
    return f"{auroc:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"


def main():
    cards, readme = Path(sys.argv[1]), Path(sys.argv[2])
    ref = json.loads((REPO / "Tests/TrainingTests/Fixtures/training-reference.json").read_text())
    lines = ["| backbone | head | unfrozen blocks | dxkit options | dxkit AUROC (95% CI) | dxkit log loss | scikit-learn on the reference embeddings: AUROC (95% CI) | log loss | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, label in BACKBONES:
        for head, k in ROWS:
            card = json.loads((cards / f"{key}-{head}-{k}.json").read_text())
            cv = card["training"]["cross_validation"]
            options = card["cv_table"]["options"] or "defaults"
            if k == 0 and head in REFERENCE:
                kind, name = REFERENCE[head]
                r = ref["backbones"][key]["leave_one_patient_out"][kind]
                reference, reference_loss = f"{cell(r['auroc'], r['auroc_95ci'])} ({name})", f"{r['log_loss']:.3f}"
            else:
                reference, reference_loss = "— (no fine-tuning reference)", "—"
            lines.append(f"| {label} | {head} | {k} | `{options}` | {cell(cv['auroc'], cv['auroc_95ci'])} | {cv['log_loss']:.3f} | "
                         f"{reference} | {reference_loss} | {card['cv_table']['seconds']:.0f} |")
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(before + START + "\n" + "\n".join(lines) + "\n" + END + after)
    print(f"cv_table: wrote {len(lines) - 2} rows into {readme}")


if __name__ == "__main__":
    main()
