#!/usr/bin/env python3
"""Compares two dxkit indexes — e.g. an unsharded run's and the merge of its shards — row for row:

    python3 scripts/compare_indexes.py UNSHARDED.sqlite MERGED.sqlite

Equal when both hold the same instances (path, SOP/study/series UIDs, patient, content, status), the
same results (instance, head, model, status, reason, logits, probabilities, decision, threshold) and
the same study results, with nothing twice: run ids, times, seconds and where heatmaps were written
legitimately differ (each result's heatmap files must exist). Exit status 0 when equal, 1 with the
differences listed. Standard library only.
"""
import os
import sqlite3
import sys

INSTANCES = "SELECT path, sop_instance_uid, study_instance_uid, series_instance_uid, patient_key, content_sha256, status, duplicate_of IS NOT NULL FROM instances"
RESULTS = """SELECT i.path, i.sop_instance_uid, r.head, r.model_sha256, r.status, r.reason, r.logits, r.probability,
                    r.calibrated_probability, r.decision, r.threshold FROM results r JOIN instances i ON i.id = r.instance_ref"""
STUDIES = """SELECT study_instance_uid, patient_key, head, model_sha256, probability, calibrated_probability, decision, rule, instances
             FROM study_results"""


def rows(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def heatmaps_missing(db):
    folder = os.path.dirname(os.path.abspath(db))
    missing = []
    for path, heat, positive in rows(db, "SELECT i.path, r.heatmap_path, r.positive_heatmap_path FROM results r JOIN instances i ON i.id = r.instance_ref"):
        for h in (heat, positive):
            if h and not os.path.isfile(h if os.path.isabs(h) else os.path.join(folder, h)):
                missing.append(f"{path}: heatmap {h} missing")
    return missing


def compare(a, b):
    problems = []
    for label, sql in (("instances", INSTANCES), ("results", RESULTS), ("study results", STUDIES)):
        ra, rb = rows(a, sql), rows(b, sql)
        for name, r in ((a, ra), (b, rb)):
            if len(set(r)) != len(r):
                problems.append(f"{label}: {len(r) - len(set(r))} duplicated row(s) in {name}")
        sa, sb = set(ra), set(rb)
        for row in sorted(sa - sb, key=str)[:10]:
            problems.append(f"{label}: only in {a}: {row}")
        for row in sorted(sb - sa, key=str)[:10]:
            problems.append(f"{label}: only in {b}: {row}")
        print(f"  {label}: {len(ra)} and {len(rb)} rows, {len(sa & sb)} equal")
    twice = rows(b, "SELECT count(*) FROM (SELECT instance_ref, head FROM results GROUP BY 1, 2 HAVING count(*) > 1)")[0][0]
    if twice:
        problems.append(f"{b}: {twice} (instance, head) pairs with more than one result")
    for db in (a, b):
        problems += heatmaps_missing(db)[:10]
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    problems = compare(sys.argv[1], sys.argv[2])
    for p in problems:
        print("DIFF", p)
    print("compare_indexes: " + ("equal" if not problems else f"{len(problems)} differences"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
