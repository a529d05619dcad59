#!/usr/bin/env python3
"""Decoding and ingest benchmark: dxkit against pydicom and DCMTK. Run as scripts/bench-ingest.sh.

Groups (work files in the gitignored .cache/bench/): RG1, a 1955x1841 16-bit CR from pydicom-data,
as explicit VR LE, RLE, JPEG lossless SV1, JPEG-LS lossless (DCMTK-encoded, checked lossless) and
JPEG 2000 lossless / lossy (pydicom-data's); studies/chest (JPEG baseline 8-bit); studies/mammograms
(RLE); every file of pydicom's test_files that pydicom decodes. Per group, MB/s of stored pixel data
(MB = 1e6 bytes, rows*cols*samples*bitsAllocated/8 per frame) for
  pydicom  dcmread + ds.pixel_array (all frames), in this process;
  dcmtk    one dcm2pnm / dcmj2pnm / dcml2pnm process per file with `-o +Fa`: it reads, decodes all
           frames and applies the modality transform, writing nothing (n/a for JPEG 2000);
  dxkit    `dxkit bench-decode --jobs 1|2 --repeat R`, timed by dxkit itself (decoding only).
Each figure is the best of --trials trials; a trial repeats the group until it lasts --min-time.
Then `dxkit ingest` of 2,000 hard-linked files: files/s and peak RSS.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".cache" / "data"
BENCH = ROOT / ".cache" / "bench"
TEST_FILES = DATA / "pydicom" / "pydicom" / "data" / "test_files"
PYDICOM_DATA = DATA / "pydicom-data" / "data_store" / "data"
RG1_UNCR = PYDICOM_DATA / "RG1_UNCR.dcm"
MB = 1e6
INGEST_FILES = 2000

# RG1 encodings made from RG1_UNCR with a DCMTK encoder: (group name, output file, encoder command).
RG1_ENCODINGS = [
    ("RG1 uncompressed", "RG1_EXPL.dcm", ["dcmconv", "+te"]),
    ("RG1 RLE", "RG1_RLE.dcm", ["dcmcrle"]),
    ("RG1 JPEG lossless", "RG1_JPLL_SV1.dcm", ["dcmcjpeg", "+e1"]),
    ("RG1 JPEG-LS lossless", "RG1_JLS.dcm", ["dcmcjpls", "+el"]),
]
# The DCMTK tool that decodes each transfer syntax; anything else (JPEG 2000, HTJ2K, video) is n/a.
DCMTK_TOOL = {**{ts: "dcm2pnm" for ts in uid.UncompressedTransferSyntaxes + uid.RLETransferSyntaxes},
              **{ts: "dcmj2pnm" for ts in uid.JPEGTransferSyntaxes},
              **{ts: "dcml2pnm" for ts in uid.JPEGLSTransferSyntaxes}}


class Group:
    """A named set of files, their transfer syntaxes and their total stored pixel bytes."""

    def __init__(self, name, files):
        self.name, self.files = name, [Path(f) for f in files]
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in self.files]
        self.syntaxes = [str(h.file_meta.get("TransferSyntaxUID", "")) for h in headers]
        self.nbytes = sum(stored_bytes(h) for h in headers)
        names = sorted({uid.UID(ts).keyword or ts or "?" for ts in self.syntaxes})
        self.syntax_label = names[0] if len(names) == 1 else f"mixed ({len(names)})"


def stored_bytes(ds):
    """Uncompressed stored pixel bytes of all frames: rows*cols*samples*bitsAllocated/8 per frame."""
    frames = int(ds.get("NumberOfFrames") or 1)
    per_frame = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * ds.BitsAllocated // 8
    return frames * per_frame


# ---------------------------------------------------------------- building the groups

def build_rg1_encodings():
    """Encodes RG1 with DCMTK into BENCH (once) and checks each encoding is lossless."""
    reference, paths = None, {}
    for name, out_name, encoder in RG1_ENCODINGS:
        out = BENCH / out_name
        if not out.exists():
            tmp = out.with_suffix(".tmp")
            subprocess.run([*encoder, str(RG1_UNCR), str(tmp)], check=True)
            if reference is None:
                reference = pydicom.dcmread(RG1_UNCR).pixel_array
            if not np.array_equal(pydicom.dcmread(tmp).pixel_array, reference):
                sys.exit(f"bench: {out_name} made by {encoder[0]} is not lossless")
            tmp.rename(out)
        paths[name] = out
    paths["RG1 JPEG 2000 lossless"] = PYDICOM_DATA / "RG1_J2KR.dcm"
    paths["RG1 JPEG 2000 lossy"] = PYDICOM_DATA / "RG1_J2KI.dcm"
    return paths


def pydicom_decodable(path):
    """True when plain pydicom (dcmread + pixel_array) decodes the file."""
    try:
        pydicom.dcmread(path).pixel_array
        return True
    except Exception:
        return False


def pydicom_test_set():
    """Files of pydicom's test_files that pydicom decodes; decided once, cached in BENCH."""
    cache = BENCH / "pydicom-testset.json"
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if cached.get("pydicom") == pydicom.__version__:
        return [TEST_FILES / f for f in cached["files"]]
    saved_stderr, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the C decoders print their complaints about broken files on fd 2
    try:
        files = [f for f in sorted(TEST_FILES.rglob("*")) if f.is_file() and pydicom_decodable(f)]
    finally:
        os.dup2(saved_stderr, 2)
        os.close(devnull), os.close(saved_stderr)
    cache.write_text(json.dumps({"pydicom": pydicom.__version__,
                                 "files": [str(f.relative_to(TEST_FILES)) for f in files]}, indent=1))
    return files


def chest_files():
    return sorted((ROOT / "studies" / "chest").glob("*.dcm"))


def build_groups(only):
    """All benchmark groups, in table order, keeping (and building) those whose name contains `only`."""
    named = [(name, lambda p=path: [p]) for name, path in build_rg1_encodings().items()]
    named += [("chest JPEG baseline", chest_files),
              ("mammograms RLE", lambda: sorted((ROOT / "studies" / "mammograms").glob("*/*.dcm"))),
              ("pydicom test set", pydicom_test_set)]
    return [Group(name, files()) for name, files in named if only.lower() in name.lower()]


def build_ingest_folder(sources, count):
    """Hard-links `count` distinct names into BENCH/ingest2000, cycling over `sources`."""
    folder = BENCH / "ingest2000"
    cycled = [sources[i % len(sources)] for i in range(count)]
    wanted = [(folder / f"{i:04d}_{src.stem}.dcm", src) for i, src in enumerate(cycled)]
    if not folder.exists() or sorted(os.listdir(folder)) != sorted(p.name for p, _ in wanted):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for dst, src in wanted:
            try:
                os.link(src, dst)
            except OSError:  # another file system: copy instead
                shutil.copy2(src, dst)
    return [p for p, _ in wanted]


# ---------------------------------------------------------------- measuring

def measure(timed_passes, min_time, trials):
    """Best of `trials` trials. timed_passes(R) runs R passes over a group and returns (seconds,
    bytes decoded, files decoded, failures); a warm-up pass sizes R so a trial lasts min_time."""
    warm = timed_passes(1)[0]
    reps = min(10_000, max(1, math.ceil(min_time / max(warm, 1e-9))))
    trial_results = [timed_passes(reps) for _ in range(trials)]
    seconds, nbytes, nfiles, failures = max(trial_results, key=lambda t: t[1] / t[0])
    result = {"seconds_per_pass": seconds / reps, "repeat": reps,
              "mb_s": nbytes / MB / seconds, "files_s": nfiles / seconds}
    if failures:
        result["failures"] = sorted(set(failures))
    return result


def whole_group(group, one_pass):
    """Timer for a function that decodes every file of the group once (or raises)."""
    def timed(reps):
        start = time.perf_counter()
        for _ in range(reps):
            one_pass()
        return time.perf_counter() - start, group.nbytes * reps, len(group.files) * reps, []
    return timed


def pydicom_passes(group):
    """Timer for dcmread + pixel_array of every file, in this process."""
    def one_pass():
        for f in group.files:
            pydicom.dcmread(f).pixel_array
    return whole_group(group, one_pass)


def dcmtk_passes(group):
    """Timer for one DCMTK process per file, or the reason DCMTK cannot decode the group."""
    tools = [DCMTK_TOOL.get(ts) for ts in group.syntaxes]
    if None in tools:
        return "no DCMTK decoder for " + group.syntaxes[tools.index(None)]
    commands = [[tool, "-q", "-o", "+Fa", str(f)] for tool, f in zip(tools, group.files)]
    for cmd in commands:  # fail early, with the reason, where DCMTK rejects a file
        if subprocess.run(cmd, capture_output=True).returncode != 0:
            return f"{cmd[0]} failed on {Path(cmd[-1]).name}"

    def one_pass():
        for cmd in commands:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return whole_group(group, one_pass)


def dxkit_passes(dxkit, jobs, group):
    """Timer running `dxkit bench-decode`, whose JSON gives the decoding seconds (no start-up), and
    bytes and files decoded over all repeats; files it fails on count neither bytes nor time."""
    def timed(reps):
        cmd = [dxkit, "bench-decode", "--jobs", str(jobs), "--repeat", str(reps), *map(str, group.files)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        failures = result.get("failures", [])
        if result["decoded_bytes"] == 0:
            raise RuntimeError("decoded nothing" + (f": {failures[0][:200]}" if failures else ""))
        if not failures and result["decoded_bytes"] != group.nbytes * reps:
            print(f"bench: warning: dxkit decoded {result['decoded_bytes']} bytes of {group.name} x{reps}, "
                  f"expected {group.nbytes * reps}", file=sys.stderr)
        return result["seconds"], result["decoded_bytes"], result["files"], failures
    return timed


def pinned_to_one_core(timer):
    """The same timer run with this process pinned to one CPU: some pydicom handlers (OpenJPEG in
    pylibjpeg-openjpeg) decode with several threads, so one-job comparisons need one core each."""
    def timed(reps):
        everything = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(everything)})
        try:
            return timer(reps)
        finally:
            os.sched_setaffinity(0, everything)
    return timed


def bench_group(group, args):
    """All columns for one group; an unavailable column holds the reason as a string."""
    row = {"group": group.name, "syntax": group.syntax_label, "files": len(group.files),
           "mb": group.nbytes / MB}
    timers = {"pydicom": pydicom_passes(group), "pydicom_1core": pinned_to_one_core(pydicom_passes(group)),
              "dcmtk": dcmtk_passes(group)}
    for jobs in (1, 2):
        timers[f"dxkit_j{jobs}"] = "skipped" if args.skip_dxkit else dxkit_passes(args.dxkit, jobs, group)
    for column, timer in timers.items():
        try:
            row[column] = timer if isinstance(timer, str) else measure(timer, args.min_time, args.trials)
        except (RuntimeError, OSError, subprocess.CalledProcessError, ValueError, KeyError) as err:
            row[column] = f"error: {err}"  # explained under the table
    return row


# Fallback for a missing /usr/bin/time: a fresh Python whose only child is the command, so that
# RUSAGE_CHILDREN holds the command's own peak RSS; prints it as `time -v` does.
PEAK_RSS_WRAPPER = """import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("Maximum resident set size (kbytes):", peak_kib, file=sys.stderr)
if rc < 0: print("Command terminated by signal", -rc, file=sys.stderr)
sys.exit(rc if rc >= 0 else 128 - rc)"""


def ingest_check(dxkit, files):
    """Times `dxkit ingest FILES --db ... --jobs 2` into a fresh db and reads its peak RSS."""
    db = BENCH / "ingest.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    cmd = [dxkit, "ingest", *map(str, files), "--db", str(db), "--jobs", "2"]
    if os.access("/usr/bin/time", os.X_OK):
        cmd = ["/usr/bin/time", "-v", *cmd]
    else:
        cmd = [sys.executable, "-c", PEAK_RSS_WRAPPER, *cmd]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return {"files": len(files), "seconds": seconds, "files_s": len(files) / seconds,
            "peak_rss_mib": int(peak.group(1)) / 1024 if peak else None, "exit_code": proc.returncode,
            "crashed": "terminated by signal" in proc.stderr}


def run_ingest(args):
    """Builds the 2,000-file folder and, unless dxkit is skipped, runs and prints the ingest check."""
    files = build_ingest_folder(pydicom_test_set() + chest_files(), INGEST_FILES)
    files = [f.relative_to(ROOT) for f in files]  # keeps the command line short
    if args.skip_dxkit:
        print(f"\ningest: {len(files)} files ready in {BENCH / 'ingest2000'}; dxkit skipped")
        return None
    result = ingest_check(args.dxkit, files)
    rss = "n/a" if result["peak_rss_mib"] is None else f"{result['peak_rss_mib']:.1f} MiB"
    status = ("CRASHED" if result["crashed"] else  # dxkit ingest: exit 1 = some files failed, 2 = fatal
              {0: "ok", 1: "some files failed"}.get(result["exit_code"], "fatal error"))
    print(f"\ningest (--jobs 2): {result['files']} files in {result['seconds']:.1f} s = "
          f"{result['files_s']:.0f} files/s, peak RSS {rss}, exit code {result['exit_code']} ({status})")
    return result


# ---------------------------------------------------------------- reporting

def cell(value):
    """MB/s, starred where some files failed to decode (and so are not counted)."""
    if not isinstance(value, dict):
        return "n/a"
    return f"{value['mb_s']:.1f}" + ("*" if value.get("failures") else "")


def ratio(row, column, base="pydicom"):
    ok = isinstance(row[column], dict) and isinstance(row[base], dict)
    return f"{row[column]['mb_s'] / row[base]['mb_s']:.2f}x" if ok else "n/a"


def print_table(rows):
    header = ["group", "transfer syntax", "files", "MB", "pydicom MB/s", "pydicom 1 core", "dcmtk MB/s",
              "dxkit j1 MB/s", "dxkit j2 MB/s", "j1/pydicom 1 core", "j1/pydicom", "j2/pydicom"]
    lines = [[r["group"], r["syntax"], str(r["files"]), f"{r['mb']:.1f}", cell(r["pydicom"]), cell(r["pydicom_1core"]),
              cell(r["dcmtk"]), cell(r["dxkit_j1"]), cell(r["dxkit_j2"]),
              ratio(r, "dxkit_j1", "pydicom_1core"), ratio(r, "dxkit_j1"), ratio(r, "dxkit_j2")] for r in rows]
    widths = [max(len(x) for x in column) for column in zip(header, *lines)]
    for i, line in enumerate([header, *lines]):  # text columns left-aligned, numbers right-aligned
        print("  ".join(x.ljust(w) if j < 2 else x.rjust(w)
                        for j, (x, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:  # why a column is n/a or starred
        for column in ("pydicom", "pydicom_1core", "dcmtk", "dxkit_j1", "dxkit_j2"):
            if isinstance(r[column], str) and r[column] != "skipped":
                print(f"  n/a {r['group']} / {column}: {r[column]}")
            elif isinstance(r[column], dict) and r[column].get("failures"):
                failures = r[column]["failures"]
                print(f"  * {r['group']} / {column}: MB/s over the files decoded; {len(failures)} "
                      f"distinct failure(s), e.g. {failures[0][:200]}")


def main():
    parser = argparse.ArgumentParser(prog="bench-ingest.sh", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dxkit", default=str(ROOT / ".build" / "release" / "dxkit"), help="dxkit binary")
    parser.add_argument("--skip-dxkit", action="store_true", help="leave the dxkit columns and ingest n/a")
    parser.add_argument("--json", metavar="OUT", help="also write all numbers to OUT")
    parser.add_argument("--only", default="", help="only groups whose name contains this text")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per trial (default 1)")
    parser.add_argument("--trials", type=int, default=3, help="trials per figure, best kept (default 3)")
    parser.add_argument("--skip-ingest", action="store_true", help="skip the ingest memory check")
    args = parser.parse_args()
    args.dxkit = str(Path(args.dxkit).resolve())
    if not args.skip_dxkit and not os.access(args.dxkit, os.X_OK):
        sys.exit(f"bench: no dxkit binary at {args.dxkit} (build it, or pass --skip-dxkit)")
    started = time.perf_counter()
    BENCH.mkdir(parents=True, exist_ok=True)
    rows = []
    for group in build_groups(args.only):
        print(f"bench: {group.name} ({len(group.files)} files, {group.nbytes / MB:.1f} MB)", file=sys.stderr)
        rows.append(bench_group(group, args))
    print_table(rows)

    ingest = None if args.skip_ingest else run_ingest(args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)

    if args.json:
        summary = {"groups": rows, "ingest": ingest, "dxkit": None if args.skip_dxkit else args.dxkit,
                   "min_time": args.min_time, "trials": args.trials, "cpus": os.cpu_count(),
                   "pydicom": pydicom.__version__}
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
