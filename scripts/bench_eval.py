#!/usr/bin/env python3
"""`make bench-eval`: dxkit's metrics, audit and calibrate at cohort scale beside a vectorised
NumPy / scikit-learn implementation of the same work, measured in one run on the same inputs.

Configurations (each at every --sizes n, --replicates bootstrap replicates):
  metrics         dxkit metrics --csv F --score-col score --label-col label --bootstrap R --json
  metrics-2groups the same with --group-col sex --group-col view
  audit           dxkit audit --by sex,view_position --bootstrap R (on an index holding n scored instances)
  calibrate       dxkit calibrate --method temperature --youden (fit, before/after metrics, threshold)

The cohort is synthetic with NIH ChestX-ray14's size and a 1.3% prevalence (seeded). The reference
does what each command does, per replicate vectorised over the n items: stratified resampling with
NumPy's generator, one argsort, AUROC (ties one half) and average precision from the sorted
cumulative counts, Brier, log loss, ECE (bincount), rates at the threshold; point estimates with
scikit-learn (roc_auc_score, average_precision_score, brier_score_loss, log_loss), DeLong from
scipy.stats.rankdata, the temperature by scipy.optimize.minimize_scalar. It runs single-threaded
(NumPy's sorts are); dxkit uses every core — both wall and CPU seconds are printed.

dxkit is timed as a whole process (start-up, reading the CSV or SQLite index and the labels,
computing, printing the JSON); the reference from after its imports, including reading its inputs.
Each measurement is repeated (--repeats) and the median reported with the spread (min-max), since
the machine is shared.
"""
import argparse
import csv
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy.optimize
import scipy.stats
from sklearn import metrics as sk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
HEAD = "pneumonia"


# ---------------------------------------------------------------- inputs

def cohort(n, seed=17):
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.013).astype(np.int64)
    sex = rng.choice(np.array(["F", "M"]), size=n, p=[0.44, 0.56])
    view = rng.choice(np.array(["PA", "AP"]), size=n, p=[0.6, 0.4])
    z = rng.normal(0, 1, n) + 1.6 * label + np.where(view == "AP", 0.3, 0) - 3.5
    score = np.round(1 / (1 + np.exp(-z)), 6)
    return score, label, sex, view


def write_csv(path, n):
    score, label, sex, view = cohort(n)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["score", "label", "sex", "view"])
        w.writerows(zip([f"{s:.6f}" for s in score], label, sex, view))


def head_sha256():
    card = json.load(open(os.path.join(ROOT, "models", "xception-pneumonia", "model.json")))
    return card["weights_sha256"]


def write_index(dxkit, work, n):
    """An index with n scored chest instances for the pneumonia head, and a labels CSV by SOP UID."""
    db, labels = os.path.join(work, f"index-{n}.sqlite"), os.path.join(work, f"labels-{n}.csv")
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    subprocess.run([dxkit, "ingest", empty, "--db", db], check=True, stdout=subprocess.DEVNULL)
    score, label, sex, view = cohort(n)
    sha = head_sha256()
    con = sqlite3.connect(db)
    con.execute("INSERT INTO runs (dxkit_version, started_at, finished_at, heads, status) VALUES ('bench', '2026', '2026', ?, 'finished')", (HEAD,))
    con.execute("INSERT INTO models (head, name, weights_sha256, card_json, registered_at) VALUES (?, 'xception-pneumonia', ?, ?, '2026')",
                (HEAD, sha, open(os.path.join(ROOT, "models", "xception-pneumonia", "model.json")).read()))
    rows = []
    for i in range(n):
        uid = f"1.2.826.0.1.3680043.8.498.{i + 1}"
        rows.append((i + 1, f"/bench/{i + 1}.dcm", uid, uid + ".1", uid + ".2", f"P{i + 1}", sex[i], view[i]))
    con.executemany("""INSERT INTO instances (id, path, file_size, file_mtime, content_sha256, status, ingested_at, sop_instance_uid,
                       study_instance_uid, series_instance_uid, patient_id, patient_key, sex, view_position, modality, body_part,
                       has_pixel_data) VALUES (?, ?, 1, 0, 'x', 'ok', '2026', ?, ?, ?, ?, ?, ?, ?, 'CR', 'CHEST', 1)""",
                    [(r[0], r[1], r[2], r[3], r[4], r[5], r[5], r[6], r[7]) for r in rows])
    con.executemany("""INSERT INTO results (instance_ref, head, model_sha256, run_ref, status, probability, calibrated_probability,
                       decision, threshold, scored_at) VALUES (?, ?, ?, 1, 'scored', ?, ?, ?, 0.5, '2026')""",
                    [(i + 1, HEAD, sha, float(score[i]), float(score[i]), "PNEUMONIA" if score[i] >= 0.5 else "NORMAL") for i in range(n)])
    con.commit()
    con.close()
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sop_instance_uid", "label"])
        w.writerows((r[2], int(label[r[0] - 1])) for r in rows)
    return db, labels


# ---------------------------------------------------------------- the reference

def point(score, label, threshold=0.5, bins=15):
    """Point estimates as `metrics` reports them (scikit-learn, SciPy)."""
    both = 0 < label.sum() < len(label)
    out = {"auroc": sk.roc_auc_score(label, score) if both else None,
           "auprc": sk.average_precision_score(label, score) if label.sum() else None,
           "brier": sk.brier_score_loss(label, score), "log_loss": sk.log_loss(label, score, labels=[0, 1])}
    if both:  # DeLong from midranks
        pos, neg = score[label == 1], score[label == 0]
        m, k = len(pos), len(neg)
        r_all = scipy.stats.rankdata(np.concatenate([pos, neg]))
        v10 = (r_all[:m] - scipy.stats.rankdata(pos)) / k
        v01 = 1 - (r_all[m:] - scipy.stats.rankdata(neg)) / m
        se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / k)
        out["auroc_ci"] = [out["auroc"] - 1.96 * se, out["auroc"] + 1.96 * se]
    idx = np.minimum((score * bins).astype(int), bins - 1)
    cnt = np.bincount(idx, minlength=bins)
    gaps = np.abs(np.bincount(idx, label, bins) - np.bincount(idx, score, bins))
    out["ece"] = float(gaps.sum() / len(score))
    out["mce"] = float(np.max(gaps[cnt > 0] / cnt[cnt > 0]))
    pred = score >= threshold
    tp, fp = np.sum(pred & (label == 1)), np.sum(pred & (label == 0))
    out["sensitivity"], out["specificity"] = tp / max(label.sum(), 1), 1 - fp / max((label == 0).sum(), 1)
    out["temperature"] = temperature(score, label)
    return out


def temperature(score, label):
    p = np.clip(score, 1e-12, 1 - 1e-12)
    z = np.log(p / (1 - p))
    r = scipy.optimize.minimize_scalar(lambda lt: np.mean(np.logaddexp(0, z / np.exp(lt)) - label * z / np.exp(lt)),
                                       bounds=(np.log(0.01), np.log(100)), method="bounded", options={"xatol": 1e-12})
    return float(np.exp(r.x))


def replicate_metrics(s, y, threshold, bins):
    """One replicate's metrics, vectorised over its n items (one sort)."""
    n = len(s)
    order = np.argsort(-s, kind="stable")
    ss, ys = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), n - 1]  # end of each run of equal scores
    tps = np.cumsum(ys)[last].astype(float)
    fps = (last + 1) - tps
    p, q = tps[-1], fps[-1]
    tp_prev = np.r_[0.0, tps[:-1]]
    auroc = np.sum(np.diff(np.r_[0.0, fps]) * (tp_prev + tps) / 2) / (p * q)
    precision = tps / (tps + fps)
    auprc = np.sum(np.diff(np.r_[0.0, tps / p]) * precision)
    brier = np.mean((s - y) ** 2)
    c = np.clip(s, np.finfo(float).eps, 1 - np.finfo(float).eps)
    log_loss = -np.mean(y * np.log(c) + (1 - y) * np.log(1 - c))
    idx = np.minimum((s * bins).astype(int), bins - 1)
    ece = np.abs(np.bincount(idx, y, bins) - np.bincount(idx, s, bins)).sum() / n
    pred = s >= threshold
    tp, fp = np.sum(pred & (y == 1)), np.sum(pred & (y == 0))
    fn, tn = p - tp, q - fp
    return [auroc, auprc, brier, log_loss, ece, tp / p, tn / q, tp / (tp + fp) if tp + fp else np.nan,
            tn / (tn + fn) if tn + fn else np.nan, 2 * tp / (2 * tp + fp + fn), (tp + tn) / n, (tp + fp) / n]


def bootstrap(score, label, replicates, seed=20261126, threshold=0.5, bins=15):
    rng = np.random.default_rng(seed)
    pos, neg = score[label == 1], score[label == 0]
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    values = np.array([replicate_metrics(np.r_[pos[rng.integers(0, len(pos), len(pos))], neg[rng.integers(0, len(neg), len(neg))]],
                                         y, threshold, bins) for _ in range(replicates)])
    return np.nanpercentile(values, [2.5, 97.5], axis=0)


def summary(score, label, replicates):
    out = point(score, label)
    if 0 < label.sum() < len(label):
        out["ci"] = bootstrap(score, label, replicates)
    return out


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    score = np.array([float(r[0]) for r in rows])
    label = np.array([int(r[1]) for r in rows])
    return score, label, np.array([r[2] for r in rows]), np.array([r[3] for r in rows])


def read_index(db, labels_path):
    con = sqlite3.connect(db)
    rows = con.execute("""SELECT i.sop_instance_uid, r.calibrated_probability, i.sex, i.view_position FROM results r
                          JOIN instances i ON i.id = r.instance_ref WHERE r.head = ? AND r.status = 'scored'""", (HEAD,)).fetchall()
    con.close()
    with open(labels_path, newline="") as f:
        lab = {r[0]: int(r[1]) for r in list(csv.reader(f))[1:]}
    rows = [r for r in rows if r[0] in lab]
    return (np.array([r[1] for r in rows]), np.array([lab[r[0]] for r in rows]),
            np.array([r[2] or "(missing)" for r in rows]), np.array([r[3] or "(missing)" for r in rows]))


def reference(config, csv_path, db, labels, replicates):
    if config in ("metrics", "metrics-2groups"):
        score, label, sex, view = read_csv(csv_path)
        summary(score, label, replicates)
        if config == "metrics-2groups":
            for column in (sex, view):
                for g in np.unique(column):
                    summary(score[column == g], label[column == g], replicates)
    elif config == "audit":
        score, label, sex, view = read_index(db, labels)
        summary(score, label, replicates)
        for column in (sex, view):
            for g in np.unique(column):
                summary(score[column == g], label[column == g], replicates)
    else:  # calibrate: temperature, metrics before and after, Youden's threshold
        score, label, _, _ = read_index(db, labels)
        t = temperature(score, label)
        p = np.clip(score, 1e-12, 1 - 1e-12)
        calibrated = 1 / (1 + np.exp(-np.log(p / (1 - p)) / t))
        for s in (score, calibrated):
            point(s, label)
        fpr, tpr, thresholds = sk.roc_curve(label, calibrated)
        thresholds[np.argmax(tpr - fpr)]


# ---------------------------------------------------------------- timing

def run_dxkit(cmd):
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"bench-eval: {' '.join(cmd)} failed:\n{proc.stderr}")
    rss = int(proc.stderr.strip().splitlines()[-1])
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rss


def run_reference(*args):
    start, cpu = time.perf_counter(), time.process_time()
    reference(*args)
    return time.perf_counter() - start, time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dxkit", default=os.path.join(ROOT, ".build/release/dxkit"))
    ap.add_argument("--sizes", default="5000,112120")
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="dxkit runs per configuration (the reference runs once per size: minutes)")
    ap.add_argument("--reference-repeats", type=int, default=1)
    ap.add_argument("--configs", default="metrics,metrics-2groups,audit,calibrate")
    ap.add_argument("--work", default=os.path.join(ROOT, ".cache", "bench-eval"))
    ap.add_argument("--json", help="write the measurements here")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    dxkit = os.path.abspath(a.dxkit)
    models = os.path.join(ROOT, "models")
    print(f"bench-eval: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {a.replicates} bootstrap replicates; "
          f"dxkit wall = whole process (median of {a.repeats}, min-max), reference = NumPy/scikit-learn (median of {a.reference_repeats})")
    header = f"{'configuration':<18}{'n':>8}  {'dxkit s (min-max)':>22}{'cpu s':>8}{'RSS MiB':>9}  {'reference s':>12}{'cpu s':>8}  {'ratio':>7}"
    print(header)
    print("-" * len(header))
    results = []
    for n in [int(x) for x in a.sizes.split(",")]:
        csv_path = os.path.join(a.work, f"cohort-{n}.csv")
        write_csv(csv_path, n)
        db, labels = write_index(dxkit, a.work, n)
        for config in a.configs.split(","):
            r = str(a.replicates)
            if config == "metrics":
                cmd = [dxkit, "metrics", "--csv", csv_path, "--score-col", "score", "--label-col", "label", "--bootstrap", r, "--json"]
            elif config == "metrics-2groups":
                cmd = [dxkit, "metrics", "--csv", csv_path, "--score-col", "score", "--label-col", "label", "--group-col", "sex",
                       "--group-col", "view", "--bootstrap", r, "--json"]
            elif config == "audit":
                cmd = [dxkit, "audit", "--db", db, "--labels", labels, "--head", HEAD, "--by", "sex,view_position", "--bootstrap", r,
                       "--models-dir", models, "--json"]
            else:
                cmd = [dxkit, "calibrate", "--db", db, "--labels", labels, "--head", HEAD, "--method", "temperature", "--youden",
                       "--models-dir", models]
            runs = [run_dxkit(cmd) for _ in range(a.repeats)]
            walls = [w for w, _, _ in runs]
            refs = [run_reference(config, csv_path, db, labels, a.replicates) for _ in range(a.reference_repeats)]
            ref_wall = statistics.median(w for w, _ in refs)
            wall = statistics.median(walls)
            row = {"config": config, "n": n, "replicates": a.replicates if config != "calibrate" else 0,
                   "dxkit_wall_s": walls, "dxkit_cpu_s": [c for _, c, _ in runs], "dxkit_max_rss_kib": max(m for _, _, m in runs),
                   "reference_wall_s": [w for w, _ in refs], "reference_cpu_s": [c for _, c in refs], "ratio": ref_wall / wall}
            results.append(row)
            print(f"{config:<18}{n:>8}  {wall:>8.2f} ({min(walls):.2f}-{max(walls):.2f}){'':>3}{statistics.median(row['dxkit_cpu_s']):>8.2f}"
                  f"{row['dxkit_max_rss_kib'] / 1024:>9.0f}  {ref_wall:>12.2f}{statistics.median(row['reference_cpu_s']):>8.2f}  {row['ratio']:>6.1f}x",
                  flush=True)
    target = [r for r in results if r["config"] == "metrics-2groups" and r["n"] == 112120]
    for r in target:
        wall = statistics.median(r["dxkit_wall_s"])
        print(f"target (n = 112,120, {a.replicates} replicates, two group columns): {wall:.2f} s (<= 10 s: "
              f"{'met' if wall <= 10 else 'NOT met'}), {r['ratio']:.1f}x the reference (>= 10x: {'met' if r['ratio'] >= 10 else 'NOT met'})")
    if a.json:
        json.dump({"replicates": a.replicates, "cores": os.cpu_count(), "results": results}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
