#!/usr/bin/env python3
"""Compares two `dxkit run` output folders (reports + dxkit.sqlite): the same results and study
results rows and the same result.json files, apart from what legitimately changes between runs (row
ids, run ids, timestamps, seconds). Used to show a refactoring changed no behaviour:

    python3 scripts/compare_runs.py BEFORE_DIR AFTER_DIR

Exit status 0 when equal, 1 with the differences listed otherwise. Standard library only.
"""
import json
import os
import sqlite3
import sys

RESULT_COLUMNS = ["i.path", "i.sop_instance_uid", "i.study_instance_uid", "i.patient_key", "r.head", "r.model_sha256",
                  "r.status", "r.reason", "r.logits", "r.probability", "r.calibrated_probability", "r.decision",
                  "r.threshold", "r.heatmap_path", "r.positive_heatmap_path"]
STUDY_COLUMNS = ["study_instance_uid", "patient_key", "head", "model_sha256", "probability", "calibrated_probability",
                 "decision", "rule", "instances"]


def rows(folder, sql):
    con = sqlite3.connect(os.path.join(folder, "dxkit.sqlite"))
    try:
        return sorted(tuple(r) for r in con.execute(sql).fetchall())
    finally:
        con.close()


def results(folder):
    return rows(folder, f"SELECT {', '.join(RESULT_COLUMNS)} FROM results r JOIN instances i ON i.id = r.instance_ref")


def study_results(folder):
    return rows(folder, f"SELECT {', '.join(STUDY_COLUMNS)} FROM study_results")


def result_files(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name, "result.json")
        if os.path.isfile(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


def compare(label, before, after, problems):
    if before == after:
        print(f"  {label}: {len(before)} equal")
        return
    b, a = set(before), set(after)
    for row in sorted(b - a, key=str)[:10]:
        problems.append(f"{label}: only before: {row}")
    for row in sorted(a - b, key=str)[:10]:
        problems.append(f"{label}: only after: {row}")
    if b == a:
        problems.append(f"{label}: same rows, different multiplicity or order")


def main(before, after):
    problems = []
    compare("results rows", results(before), results(after), problems)
    compare("study_results rows", study_results(before), study_results(after), problems)
    fb, fa = result_files(before), result_files(after)
    compare("report folders", list(fb), list(fa), problems)
    for name in sorted(set(fb) & set(fa)):
        if fb[name] != fa[name]:
            problems.append(f"{name}/result.json differs")
    print(f"  result.json: {len(set(fb) & set(fa))} compared")
    for p in problems:
        print("DIFF", p)
    print("compare_runs: " + ("equal" if not problems else f"{len(problems)} differences"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
