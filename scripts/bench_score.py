#!/usr/bin/env python3
"""End-to-end scoring benchmark: a folder of DICOM files -> SQLite result rows, studies/s and peak
RSS of dxkit against the Python pipeline a practitioner would write, in one run, on the same files.
Run as scripts/bench-score.sh (it prepares .venv-ref and .cache/bench/onnx/pneumonia.onnx first).

Inputs: .cache/bench/score64/ (gitignored), 64 chest studies: the 16 files of studies/chest/*.dcm
(JPEG baseline 8-bit CR, one study each) x 4, every copy given new SOP Instance / Study / Series
UIDs by DCMTK's `dcmodify -nb -gin -gst -gse` (pixel data untouched), so they are 64 distinct
studies. Built once; rebuilt only when the sources or --copies change (.cache/bench/score64.json,
kept outside the folder so that ingest sees only DICOM files).

Pipelines, each a separate process timed from launch to exit (interpreter start, imports and
model loading included: what a user pays), peak RSS from `/usr/bin/time -v`, a fresh database
each trial, best of --trials (interleaved):
  dxkit run      `dxkit run DIR --out .cache/bench/score-out --jobs 2`: ingest + score (with
                 heatmap overlays and 512 px thumbnails) + HTML/JSON reports
  dxkit ingest   `dxkit ingest DIR --db X --jobs 2`
  dxkit score    `dxkit score --db X --jobs 2 --heatmaps TMP` (heatmaps cannot be turned off)
  python         this file with --python-worker, in .venv-ref: per file pydicom.dcmread ->
                 ds.pixel_array -> 8-bit RGB (grey replicated) -> PIL Image.resize((150, 150),
                 NEAREST) -> x/127.5-1; batches of 16 -> onnxruntime (pneumonia.onnx of
                 scripts/export_onnx.py, intra_op_num_threads=2) -> softmax -> sqlite3 rows
                 (sop_instance_uid, path, probability), one transaction per batch. No heatmaps,
                 thumbnails or reports: it does less than `dxkit run`.
The Python worker also reports its own breakdown (startup+imports, session load, decode+prep
ms/image, inference ms/image, sqlite ms). Both pipelines decode JPEG baseline with their own
decoder (pydicom 3 uses Pillow's libjpeg(-turbo) here; no pylibjpeg-libjpeg needed or installed).

Agreement: the Python probabilities against dxkit's results.probability (head pneumonia) joined on
SOP Instance UID, max |diff| and decision (>= 0.5) agreement, from the last trial's databases.

Usage: bench_score.py [--dxkit PATH | --skip-dxkit] [--trials 2] [--copies 4] [--jobs 2]
                      [--threads 2] [--json OUT]
"""
import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
SOURCES = REPO / "studies/chest"
BENCH = REPO / ".cache/bench"
ONNX = BENCH / "onnx/pneumonia.onnx"
WORK = BENCH / "score-work"
RUN_OUT = BENCH / "score-out"
HEAD = "pneumonia"


# ---------------------------------------------------------------------------------------------
# The Python baseline (run as a subprocess: `bench_score.py --python-worker DIR --db X`).
# Written the way a practitioner would; only the timers are extra.
# ---------------------------------------------------------------------------------------------

def python_worker(args):
    t_launch = args.t0  # the parent's time.time() just before it started this process
    import numpy as np
    import onnxruntime as ort
    import pydicom
    from PIL import Image
    t_imports = time.time()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.onnx, opts, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    t_session = time.time()

    db = sqlite3.connect(args.db)
    db.execute("CREATE TABLE IF NOT EXISTS results (sop_instance_uid TEXT PRIMARY KEY, path TEXT, "
               "probability REAL)")
    db.commit()

    files = sorted(str(p) for p in Path(args.folder).rglob("*.dcm"))
    prep_s = infer_s = db_s = 0.0

    def to_rgb8(ds):
        a = ds.pixel_array
        if a.ndim == 3 and a.shape[-1] == 3:          # colour: use as is
            rgb = a.astype(np.uint8)
        else:
            if a.dtype != np.uint8:                    # deeper data: stretch to 8 bits
                a = a.astype(np.float32)
                a = (a - a.min()) / max(float(a.max() - a.min()), 1.0) * 255.0
                a = a.round().astype(np.uint8)
            if ds.PhotometricInterpretation == "MONOCHROME1":
                a = 255 - a
            rgb = np.stack([a, a, a], axis=-1)         # grey replicated to RGB
        return rgb

    def flush(batch):
        nonlocal infer_s, db_s
        t = time.perf_counter()
        x = np.stack([b[2] for b in batch]).transpose(0, 3, 1, 2).copy()   # NHWC -> NCHW
        logits = session.run(None, {input_name: x})[0]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        infer_s += time.perf_counter() - t
        t = time.perf_counter()
        with db:  # one transaction per batch
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                           [(uid, path, float(p[1])) for (uid, path, _), p in zip(batch, probs)])
        db_s += time.perf_counter() - t

    batch = []
    for path in files:
        t = time.perf_counter()
        ds = pydicom.dcmread(path)
        rgb = to_rgb8(ds)
        img = Image.fromarray(rgb).resize((150, 150), Image.Resampling.NEAREST)
        x = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
        batch.append((str(ds.SOPInstanceUID), path, x))
        prep_s += time.perf_counter() - t
        if len(batch) == args.batch:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    db.close()
    n = max(len(files), 1)
    stats = {
        "files": len(files),
        "startup_imports_s": t_imports - t_launch if t_launch else None,
        "session_load_s": t_session - t_imports,
        "decode_prep_ms_per_image": prep_s / n * 1e3,
        "inference_ms_per_image": infer_s / n * 1e3,
        "sqlite_ms_total": db_s * 1e3,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "onnxruntime": ort.__version__, "pydicom": pydicom.__version__,
                     "pillow": Image.__version__},
    }
    Path(args.stats).write_text(json.dumps(stats))


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_inputs(copies):
    """.cache/bench/score{N}/: each source file x `copies`, every copy with new UIDs. Skipped when
    .cache/bench/score{N}.json matches the sources and the copy count."""
    sources = sorted(SOURCES.glob("*.dcm"))
    if not sources:
        raise SystemExit(f"bench-score: no {SOURCES}/*.dcm (run `make setup`)")
    folder = BENCH / f"score{len(sources) * copies}"
    want = {"copies": copies, "sources": {p.name: sha256(p) for p in sources}}
    manifest = BENCH / f"{folder.name}.json"
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text())
        except ValueError:
            have = {}
        if have.get("copies") == want["copies"] and have.get("sources") == want["sources"] \
                and all((folder / f).exists() for f in have.get("files", [])):
            return folder, have["files"]
    if not shutil.which("dcmodify"):
        raise SystemExit("bench-score: dcmodify (DCMTK) not found; apt-get install dcmtk")
    print(f"bench-score: building {folder.relative_to(REPO)} ({len(sources)} files x {copies}, new UIDs)")
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=BENCH))
    files = []
    for k in range(copies):
        for src in sources:
            name = f"{src.stem}-c{k}.dcm"
            shutil.copyfile(src, tmp / name)
            files.append(name)
    # One dcmodify call per chunk of files (each file gets its own new UIDs).
    for i in range(0, len(files), 32):
        subprocess.run(["dcmodify", "-nb", "-gin", "-gst", "-gse"] + [str(tmp / f) for f in files[i:i + 32]],
                       check=True, stdout=subprocess.DEVNULL)
    want["files"] = files
    manifest.unlink(missing_ok=True)
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    manifest.write_text(json.dumps(want, indent=1))
    return folder, files


def check_uids(folder, files):
    """The copies must be distinct instances and studies (what dcmodify -gin -gst was for)."""
    import pydicom  # .venv-ref has it
    sops, studies = set(), set()
    for f in files:
        ds = pydicom.dcmread(folder / f, stop_before_pixels=True)
        sops.add(str(ds.SOPInstanceUID))
        studies.add(str(ds.StudyInstanceUID))
        if str(ds.file_meta.MediaStorageSOPInstanceUID) != str(ds.SOPInstanceUID):
            raise SystemExit(f"bench-score: {f}: meta header SOP Instance UID not updated")
    if len(sops) != len(files) or len(studies) != len(files):
        raise SystemExit(f"bench-score: {folder}: {len(sops)} SOP Instance UIDs, {len(studies)} Study "
                         f"UIDs for {len(files)} files; delete the folder and rerun")
    return len(studies)


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

def measured(cmd, what):
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, peak RSS MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name] + cmd, cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        dt = time.perf_counter() - t0
        report = Path(tf.name).read_text()
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"bench-score: {what} exited {p.returncode}: {' '.join(cmd)}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    return dt, rss, p.stdout


def fresh(path):
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def trial_dxkit_run(dxkit, folder, jobs):
    fresh(RUN_OUT)
    dt, rss, out = measured([dxkit, "run", str(folder), "--out", str(RUN_OUT), "--jobs", str(jobs)], "dxkit run")
    return {"seconds": dt, "rss_mib": rss, "db": str(RUN_OUT / "dxkit.sqlite"), "stdout": out.strip()[-600:]}


def trial_dxkit_split(dxkit, folder, jobs):
    db = WORK / "dxkit.sqlite"
    heat = Path(tempfile.mkdtemp(prefix="dxkit-bench-heatmaps."))
    fresh(db)
    try:
        ti, ri, oi = measured([dxkit, "ingest", str(folder), "--db", str(db), "--jobs", str(jobs)], "dxkit ingest")
        ts, rs, os_ = measured([dxkit, "score", "--db", str(db), "--jobs", str(jobs), "--heatmaps", str(heat)],
                               "dxkit score")
    finally:
        shutil.rmtree(heat, ignore_errors=True)
    return {"ingest": {"seconds": ti, "rss_mib": ri, "stdout": oi.strip()[-400:]},
            "score": {"seconds": ts, "rss_mib": rs, "stdout": os_.strip()[-400:]}}


def trial_python(folder, threads):
    db = WORK / "python.sqlite"
    stats = WORK / "python-stats.json"
    fresh(db)
    stats.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--python-worker", str(folder), "--db", str(db),
           "--onnx", str(ONNX), "--threads", str(threads), "--stats", str(stats), "--t0", repr(time.time())]
    dt, rss, _ = measured(cmd, "python pipeline")
    return {"seconds": dt, "rss_mib": rss, "db": str(db), "breakdown": json.loads(stats.read_text())}


def agreement(dxkit_db, python_db):
    with sqlite3.connect(python_db) as con:
        py = dict(con.execute("SELECT sop_instance_uid, probability FROM results"))
    with sqlite3.connect(dxkit_db) as con:
        dx = dict(con.execute("""SELECT i.sop_instance_uid, r.probability FROM results r
                                 JOIN instances i ON i.id = r.instance_ref
                                 WHERE r.head = ? AND r.status = 'scored'""", (HEAD,)))
        statuses = dict(con.execute("SELECT status, COUNT(*) FROM results GROUP BY status"))
    common = sorted(set(py) & set(dx))
    diffs = [abs(py[u] - dx[u]) for u in common]
    worst = max(common, key=lambda u: abs(py[u] - dx[u])) if common else None
    return {
        "python_rows": len(py), "dxkit_scored_rows": len(dx), "dxkit_rows_by_status": statuses,
        "matched": len(common),
        "max_abs_diff": max(diffs) if diffs else None,
        "mean_abs_diff": sum(diffs) / len(diffs) if diffs else None,
        "decisions_agree": sum((py[u] >= 0.5) == (dx[u] >= 0.5) for u in common),
        "worst": {"sop_instance_uid": worst, "python": py[worst], "dxkit": dx[worst]} if worst else None,
        "probability_range": [min(py.values()), max(py.values())] if py else None,
    }


def best(trials, key=lambda t: t["seconds"]):
    return min(trials, key=key)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dxkit", default=str(REPO / ".build/release/dxkit"))
    ap.add_argument("--skip-dxkit", action="store_true")
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2, help="dxkit --jobs")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra_op_num_threads")
    ap.add_argument("--json", help="write the numbers here")
    # the worker (internal)
    ap.add_argument("--python-worker", dest="folder", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", default=str(ONNX), help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    ap.add_argument("--t0", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=16, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.folder:
        return python_worker(args)

    if not ONNX.exists():
        raise SystemExit(f"bench-score: {ONNX} missing (scripts/export_onnx.py builds it; bench-score.sh runs it)")
    dxkit = None
    if not args.skip_dxkit:
        dxkit = str(Path(args.dxkit).resolve())
        if not os.access(dxkit, os.X_OK):
            raise SystemExit(f"bench-score: no dxkit at {args.dxkit} (make release, or --skip-dxkit)")
        helptext = subprocess.run([dxkit, "--help"], capture_output=True, text=True).stdout
        if not re.search(r"^\s+score\s", helptext, re.M) or not re.search(r"^\s+run\s", helptext, re.M):
            raise SystemExit(f"bench-score: {args.dxkit} has no `run`/`score` subcommands: rebuild it (make release)")
        if not (REPO / "models/xception-pneumonia/model.safetensors").exists():
            raise SystemExit("bench-score: models/xception-pneumonia missing (make setup)")

    folder, files = build_inputs(args.copies)
    studies = check_uids(folder, files)
    WORK.mkdir(parents=True, exist_ok=True)
    for f in files:  # same page-cache state for everyone: read every file once first
        (folder / f).read_bytes()
    rel = folder.relative_to(REPO)
    print(f"bench-score: {len(files)} files, {studies} studies in {rel}; best of {args.trials} trials; "
          f"{os.cpu_count()} CPUs; dxkit --jobs {args.jobs}, ORT intra_op_num_threads {args.threads}")

    runs, splits, pys = [], [], []
    for t in range(args.trials):
        if dxkit:
            runs.append(trial_dxkit_run(dxkit, rel, args.jobs))
            print(f"  trial {t + 1}: dxkit run     {runs[-1]['seconds']:7.2f} s  {runs[-1]['rss_mib']:7.1f} MiB", flush=True)
            splits.append(trial_dxkit_split(dxkit, rel, args.jobs))
            s = splits[-1]
            print(f"  trial {t + 1}: dxkit ingest  {s['ingest']['seconds']:7.2f} s  {s['ingest']['rss_mib']:7.1f} MiB"
                  f" | score {s['score']['seconds']:7.2f} s  {s['score']['rss_mib']:7.1f} MiB", flush=True)
        pys.append(trial_python(rel, args.threads))
        print(f"  trial {t + 1}: python        {pys[-1]['seconds']:7.2f} s  {pys[-1]['rss_mib']:7.1f} MiB", flush=True)

    n = len(files)
    rows = []

    def row(name, seconds, rss, note=""):
        rows.append({"pipeline": name, "files": n, "seconds": seconds, "studies_per_s": studies / seconds,
                     "peak_rss_mib": rss, "note": note})

    if dxkit:
        b = best(runs)
        row("dxkit run", b["seconds"], b["rss_mib"], "ingest + score + heatmaps + reports")
        bi = best([s["ingest"] for s in splits])
        bs = best([s["score"] for s in splits])
        bsum = best(splits, key=lambda s: s["ingest"]["seconds"] + s["score"]["seconds"])
        row("dxkit ingest", bi["seconds"], bi["rss_mib"], "index only")
        row("dxkit score", bs["seconds"], bs["rss_mib"], "score-only, heatmaps on")
        row("dxkit ingest+score", bsum["ingest"]["seconds"] + bsum["score"]["seconds"],
            max(bsum["ingest"]["rss_mib"], bsum["score"]["rss_mib"]), "two processes; RSS = max")
    bp = best(pys)
    row("python", bp["seconds"], bp["rss_mib"], "pydicom + PIL + ORT + sqlite3, no heatmaps/reports")

    print()
    print(f"{'pipeline':<20} {'files':>5} {'seconds':>8} {'studies/s':>10} {'peak RSS MiB':>13}  note")
    for r in rows:
        print(f"{r['pipeline']:<20} {r['files']:>5} {r['seconds']:>8.2f} {r['studies_per_s']:>10.2f} "
              f"{r['peak_rss_mib']:>13.1f}  {r['note']}")
    bd = bp["breakdown"]
    print(f"\npython breakdown (best trial): startup+imports {bd['startup_imports_s']:.2f} s, ORT session load "
          f"{bd['session_load_s']:.2f} s, decode+prep {bd['decode_prep_ms_per_image']:.1f} ms/image, inference "
          f"{bd['inference_ms_per_image']:.1f} ms/image, sqlite {bd['sqlite_ms_total']:.1f} ms total")

    result = {"files": n, "studies": studies, "folder": str(rel), "trials": args.trials, "cpus": os.cpu_count(),
              "cpu": platform.processor() or platform.machine(), "jobs": args.jobs, "ort_threads": args.threads,
              "rows": rows, "python_breakdown": bd,
              "all_trials": {"dxkit_run": runs, "dxkit_split": splits, "python": pys}}
    if dxkit:
        by = {r["pipeline"]: r for r in rows}
        result["speed_ratio_dxkit_run_over_python"] = by["dxkit run"]["studies_per_s"] / by["python"]["studies_per_s"]
        result["speed_ratio_dxkit_ingest_score_over_python"] = \
            by["dxkit ingest+score"]["studies_per_s"] / by["python"]["studies_per_s"]
        result["memory_ratio_dxkit_run_over_python"] = by["dxkit run"]["peak_rss_mib"] / by["python"]["peak_rss_mib"]
        print(f"\ndxkit run / python: {result['speed_ratio_dxkit_run_over_python']:.2f}x studies/s, "
              f"{result['memory_ratio_dxkit_run_over_python']:.2f}x peak RSS "
              f"(dxkit ingest+score / python: {result['speed_ratio_dxkit_ingest_score_over_python']:.2f}x studies/s)")
        ag = agreement(runs[-1]["db"], pys[-1]["db"])
        result["agreement"] = ag
        fmt = (lambda v: f"{v:.3g}" if v is not None else "n/a")
        print(f"agreement (dxkit run vs python, {ag['matched']} of {ag['python_rows']} SOP Instance UIDs matched; "
              f"dxkit rows {ag['dxkit_rows_by_status']}): max |p diff| {fmt(ag['max_abs_diff'])}, mean "
              f"{fmt(ag['mean_abs_diff'])}, decisions agree {ag['decisions_agree']}/{ag['matched']}")
        if ag["matched"] != n:
            print(f"bench-score: WARNING: only {ag['matched']} of {n} instances scored by both", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
