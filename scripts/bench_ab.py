#!/usr/bin/env python3
"""A/B throughput of dxkit builds (or settings) on a shared machine: runs `dxkit bench-models` for
each variant in turn, round after round (A B A B ...), so that load from other processes falls on
both alike, and prints per variant the median and spread of images/s and of images per CPU second
(CPU time leaves out what other processes took, so it is the steadier of the two).

Usage: bench_ab.py VARIANT... [--models M ...] [--batch B] [--threads T] [--seconds S] [--rounds N]
  VARIANT: NAME=PATH_TO_DXKIT[,ENV=VALUE...][,threads=T][,batch=B]
           e.g. avx2=.build/release/dxkit,DXKIT_ISA=avx2   t2=.build/release/dxkit,threads=2
"""
import argparse
import json
import os
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(binary, env, model, batch, threads, seconds):
    cmd = [binary, "bench-models", "--model", model, "--batch", str(batch), "--threads", str(threads),
           "--seconds", f"{seconds:g}", "--models-dir", str(REPO / "models")]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()[-300:]}")
    return json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--models", nargs="+", default=["pneumonia", "mobilenet-v2", "efficientnet-lite0"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    variants = []
    for v in args.variants:
        name, spec = v.split("=", 1)
        parts = spec.split(",")
        env = dict(p.split("=", 1) for p in parts[1:])
        opts = {k: int(env.pop(k)) for k in ("threads", "batch") if k in env}
        variants.append((name, str(Path(parts[0]).resolve()), env, opts))
    for model in args.models:
        wall = {v[0]: [] for v in variants}
        cpu = {v[0]: [] for v in variants}
        for _ in range(args.rounds):
            for name, binary, env, opts in variants:
                threads, batch = opts.get("threads", args.threads), opts.get("batch", args.batch)
                r = run(binary, env, model, batch, threads, args.seconds)
                wall[name].append(r["images_per_second"])
                cpu[name].append(r["images_per_cpu_second"] * threads)
        base = statistics.median(wall[variants[0][0]])  # the first variant is the reference
        base_cpu = statistics.median(cpu[variants[0][0]])
        for name, _, _, opts in variants:
            w, c = wall[name], cpu[name]
            print(f"{model:<18} B{opts.get('batch', args.batch)} T{opts.get('threads', args.threads)} {name:<12} img/s median {statistics.median(w):7.1f} "
                  f"(min {min(w):6.1f} max {max(w):6.1f}, {statistics.median(w) / base:5.3f}x)   "
                  f"img/CPU-s x T median {statistics.median(c):7.1f} ({statistics.median(c) / base_cpu:5.3f}x)",
                  flush=True)


if __name__ == "__main__":
    main()
