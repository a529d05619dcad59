#!/usr/bin/env python3
"""Model throughput benchmark: dxkit against ONNX Runtime and PyTorch (eager), CPU, FP32.
Run as scripts/bench-models.sh (it prepares .venv-ref and .cache/bench/onnx/ first).

For each model (pneumonia = Xception + head at 150x150, mobilenet-v2 and efficientnet-lite0 at
224x224, and the native densenet-121 and resnet-50 at 224x224 with the seeded random weights of
scripts/native_arch_reference.py), batch 1 and 16, 1 and 2 threads, images/s of
  dxkit  `dxkit bench-models --model M --batch B --threads T --seconds S` (a subprocess; timed by
         dxkit itself after its own warm-up);
  ORT    onnxruntime InferenceSession on .cache/bench/onnx/M.onnx (scripts/export_onnx.py, same
         weights): intra_op_num_threads=T, inter_op_num_threads=1, ORT_ENABLE_ALL, sequential;
  torch  the PyTorch module of scripts/export_onnx.py, eager, torch.set_num_threads(T),
         torch.inference_mode() (BatchNorm not folded: as a user would run it).
ORT and torch get the same random NCHW float32 batch; each is warmed up, then timed for at least
--seconds (a whole number of batches) --runs times; the best run counts (dxkit: best of --runs
processes). Each also reports images per CPU second of its own process (all its threads): time other
processes or the hypervisor took is left out, so on a shared machine it is the steadier measure of
efficiency (at T=2 spinning worker threads count against it). FLOPs per image come from .cache/bench/onnx/flops.json (2 x multiply-adds of convs and
linears); % of peak = achieved GFLOP/s / (peak per core x T), the peak measured on this machine by
`dxkit bench-models --peak` (a multiply-add loop per instruction set, one core): dxkit's against the
peak of the set it ran (DXKIT_ISA=avx2 runs AVX2 on an AVX-512 machine; printed), ORT's and torch's
against the machine's best set (they pick their kernels from the CPU, AVX-512 where it exists).
--peak-per-core overrides the measured peak.

Usage: bench_models.py [--dxkit PATH | --skip-dxkit] [--skip-torch] [--models M ...] [--quick] [--json OUT]
                       [--seconds S] [--runs N] [--batches 1 16] [--threads 1 2]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "scripts"))
import export_onnx as ex  # noqa: E402
import bench_imported as imp  # noqa: E402

ONNX_DIR = REPO / ".cache/bench/onnx"
ENGINES = ("dxkit", "ort", "torch")


def timed(fn, batch, seconds, runs, warmup_s):
    """Warm up (>= 1 call and >= warmup_s), then `runs` timed runs of >= `seconds` each.
    Returns (best images/s, [images/s per run], [images per CPU second of this process per run])."""
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < warmup_s:
        fn()
    rates, cpu_rates = [], []
    for _ in range(runs):
        n = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        rates.append(n * batch / dt)
        cpu_rates.append(n * batch / max(time.process_time() - c0, 1e-9))
    return max(rates), rates, cpu_rates


def bench_torch(model, x, threads, seconds, runs, warmup_s):
    import torch
    torch.set_num_threads(threads)
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        def fn():
            model(xt)
        return timed(fn, x.shape[0], seconds, runs, warmup_s)


def ort_session(name, threads):
    path = imp.onnx_path(name) if name in imp.MODELS else ONNX_DIR / f"{name}.onnx"
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def bench_ort(sess, x, seconds, runs, warmup_s):
    feed = {"input": x}

    def fn():
        sess.run(None, feed)
    return timed(fn, x.shape[0], seconds, runs, warmup_s)


def bench_dxkit(dxkit, name, batch, threads, seconds, runs):
    rates, cpu_rates, last = [], [], None
    models = imp.IMPORTED if name in imp.MODELS else ex.models_dir(name)
    for _ in range(runs):
        cmd = [str(dxkit), "bench-models", "--model", name, "--batch", str(batch), "--threads", str(threads),
               "--seconds", f"{seconds:g}", "--models-dir", str(models)]
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}")
        lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
        if not lines:
            raise RuntimeError(f"{' '.join(cmd)} printed no JSON line: {p.stdout.strip()[-400:]}")
        last = json.loads(lines[-1])
        for k, v in (("model", name), ("batch", batch), ("threads", threads)):
            if last.get(k) != v:
                raise RuntimeError(f"dxkit reported {k}={last.get(k)!r}, asked for {v!r}")
        rates.append(float(last["images_per_second"]))
        cpu_rates.append(float(last["images_per_cpu_second"]))
    return max(rates), rates, cpu_rates, last


def machine():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


class CpuMeter:
    """CPU used by everything but this process and its children (other processes, and steal time
    of the VM), in CPUs, over a window: system busy time from /proc/stat minus our own."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")

    def _busy(self):
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]
        except OSError:
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
        return (user + nice + system + irq + softirq + steal) / self.hz

    def start(self):
        self.t0, self.b0, self.o0 = time.perf_counter(), self._busy(), sum(os.times()[:4])

    def stop(self):
        wall = time.perf_counter() - self.t0
        b = self._busy()
        if b is None or self.b0 is None or wall <= 0:
            return 0.0
        return max(0.0, (b - self.b0 - (sum(os.times()[:4]) - self.o0)) / wall)

    def others(self, window=0.25):
        self.start()
        time.sleep(window)
        return self.stop()


def wait_until_idle(meter, max_wait, limit):
    """Waits (up to max_wait s) until other processes use < limit CPUs; returns seconds waited."""
    t0 = time.perf_counter()
    while meter.others() >= limit and time.perf_counter() - t0 < max_wait:
        time.sleep(0.75)
    return time.perf_counter() - t0


def busy_processes(threshold=20.0):
    """Other processes using >= threshold % of a CPU right now (sampled over 0.5 s)."""
    def ticks():
        out = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
                out[int(d.name)] = int(f[11]) + int(f[12])
            except (OSError, IndexError, ValueError):
                pass
        return out
    try:
        a = ticks()
        time.sleep(0.5)
        b = ticks()
    except OSError:
        return []
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, t in b.items():
        pct = 100 * (t - a.get(pid, t)) / hz / 0.5
        if pct >= threshold:
            try:
                cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
            except OSError:
                cmd = "?"
            busy.append(f"pid {pid} {pct:.0f}% {cmd.strip()}")
    return busy


def measure_peaks(dxkit):
    """{"isa": the set dxkit runs (DXKIT_ISA caps it), "best_isa": this CPU's best set,
    "fma_peak_gflops_per_core": {set: measured single-core multiply-add GFLOP/s}} from
    `dxkit bench-models --peak`, run once as set up and once without DXKIT_ISA (for the CPU's best,
    which is what ORT and torch pick)."""
    def run(env):
        p = subprocess.run([str(dxkit), "bench-models", "--peak"], cwd=REPO, capture_output=True, text=True,
                           timeout=120, env=env)
        lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
        if p.returncode != 0 or not lines:
            raise SystemExit(f"bench_models: {dxkit} bench-models --peak failed: {(p.stderr or p.stdout).strip()[-400:]}")
        return json.loads(lines[-1])
    ran = run(dict(os.environ))
    best = run({k: v for k, v in os.environ.items() if k != "DXKIT_ISA"})
    return {"isa": ran["isa"], "best_isa": best["best_isa"], "fma_peak_gflops_per_core": best["fma_peak_gflops_per_core"]}


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def mark(rec):
    return "*" if rec.get("disturbed") else ""


def print_table(results, flops, peak_note):
    cols = ["model", "B", "T", "dxkit img/s", "ORT img/s", "torch img/s", "dxkit/ORT", "dxkit/torch",
            "dxkit GFLOP/s", "dxkit %peak", "ORT %peak", "torch %peak", "dxkit img/CPU-s", "ORT img/CPU-s",
            "dxkit/ORT per CPU-s"]
    rows = []
    for r in results:
        e = r["engines"]
        ips = {k: (e[k]["images_per_second"] if k in e and "images_per_second" in e[k] else None) for k in ENGINES}
        pct = {k: (e[k]["percent_of_peak"] if k in e and "percent_of_peak" in e[k] else None) for k in ENGINES}
        cpu = {k: e.get(k, {}).get("images_per_cpu_second") for k in ENGINES}
        m = {k: mark(e.get(k, {})) for k in ENGINES}
        rows.append([r["model"], str(r["batch"]), str(r["threads"]),
                     fmt(ips["dxkit"], ".1f") + m["dxkit"], fmt(ips["ort"], ".1f") + m["ort"],
                     fmt(ips["torch"], ".1f") + m["torch"],
                     fmt(r["ratios"].get("dxkit/ort"), ".2f"), fmt(r["ratios"].get("dxkit/torch"), ".2f"),
                     fmt(e.get("dxkit", {}).get("gflops_per_second"), ".1f"),
                     fmt(pct["dxkit"], ".1f"), fmt(pct["ort"], ".1f"), fmt(pct["torch"], ".1f"),
                     fmt(cpu["dxkit"], ".1f"), fmt(cpu["ort"], ".1f"), fmt(r["ratios"].get("dxkit/ort per CPU-s"), ".2f")])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) if i == 0 else v.rjust(w)  # noqa: E731
                                  for i, (v, w) in enumerate(zip(vals, widths)))
    print(line(cols))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print(f"FLOPs/image (2 x MACs, convs + linears): " +
          ", ".join(f"{m} {flops[m]['flops'] / 1e9:.3f} G" for m in dict.fromkeys(r["model"] for r in results)) +
          f"; {peak_note}")
    disturbed = [(r["model"], r["batch"], r["threads"], k, v["other_cpu"]) for r in results
                 for k, v in r["engines"].items() if v.get("disturbed")]
    if disturbed:
        measured = sum("images_per_second" in v for r in results for v in r["engines"].values())
        print(f"* disturbed: other processes used up to {max(d[4] for d in disturbed):.2f} CPU during "
              f"{len(disturbed)} of {measured} measurements (other_cpu in --json); rerun on an idle "
              "machine for clean numbers")
    errors = [(r["model"], r["batch"], r["threads"], k, v["error"]) for r in results
              for k, v in r["engines"].items() if "error" in v]
    for m, b, t, k, err in errors:
        print(f"  {k} failed for {m} B={b} T={t}: {err}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dxkit", default=str(REPO / ".build/release/dxkit"))
    ap.add_argument("--skip-dxkit", action="store_true", help="measure ORT and torch only")
    ap.add_argument("--skip-torch", action="store_true", help="measure dxkit and ORT only")
    ap.add_argument("--models", nargs="+", choices=list(ex.MODELS) + list(imp.MODELS), default=list(ex.MODELS) + list(imp.MODELS),
                    help="dxkit's networks, and torchvision's densenet121 and resnet50 imported from ONNX (dxkit import-model)")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--seconds", type=float, default=None, help="minimum seconds per timed run (2; --quick 0.5)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs, best counts (2; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="short timing (0.5 s, 1 run): a smoke test")
    ap.add_argument("--peak-per-core", type=float, default=None,
                    help="FP32 GFLOP/s per core for every engine (default: measured per instruction set)")
    ap.add_argument("--json", metavar="OUT", help="write all numbers to OUT")
    ap.add_argument("--busy-limit", type=float, default=0.1,
                    help="CPUs used by other processes above which a measurement counts as disturbed (0.1)")
    ap.add_argument("--wait-idle", type=float, default=120.0,
                    help="total seconds the run may wait for other processes to go quiet (120; 0: never)")
    ap.add_argument("--retries", type=int, default=1, help="re-measurements of a disturbed measurement (1)")
    args = ap.parse_args()
    seconds = args.seconds if args.seconds is not None else (0.5 if args.quick else 2.0)
    runs = args.runs if args.runs is not None else (1 if args.quick else 2)
    warmup_s = 0.2 if args.quick else 0.5

    flops_path = ONNX_DIR / "flops.json"
    missing = [str(ONNX_DIR / f"{m}.onnx") for m in args.models if m in ex.MODELS and not (ONNX_DIR / f"{m}.onnx").exists()]
    if missing or not flops_path.exists():
        raise SystemExit(f"bench_models: {missing or flops_path} missing: run scripts/export_onnx.py "
                         "(scripts/bench-models.sh does it)")
    flops = json.loads(flops_path.read_text())
    dxkit = None
    if not args.skip_dxkit:
        dxkit = Path(args.dxkit)
        if not dxkit.is_absolute():
            dxkit = (Path.cwd() / dxkit).resolve()
        if not os.access(dxkit, os.X_OK):
            raise SystemExit(f"bench_models: {dxkit} not found or not executable: build it (make release) "
                             "or pass --skip-dxkit")

    import onnxruntime as ort
    import torch
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    # Peaks per core: dxkit against the set it runs, ORT and torch against the machine's best.
    peaks = measure_peaks(dxkit) if dxkit else None
    if args.peak_per_core:
        peak_for = {"dxkit": args.peak_per_core, "ort": args.peak_per_core, "torch": args.peak_per_core}
        peak_note = f"peak {args.peak_per_core:g} GFLOP/s per thread for every engine (--peak-per-core; x T)"
    elif peaks:
        per = peaks["fma_peak_gflops_per_core"]
        peak_for = {"dxkit": per[peaks["isa"]], "ort": per[peaks["best_isa"]], "torch": per[peaks["best_isa"]]}
        peak_note = (f"peak per thread measured here (x T): dxkit {peaks['isa']} {per[peaks['isa']]:.0f} GFLOP/s, "
                     f"ORT and torch {peaks['best_isa']} {per[peaks['best_isa']]:.0f} GFLOP/s")
    else:
        peak_for, peak_note = {}, "no peak (dxkit skipped and no --peak-per-core)"

    versions = {"torch": torch.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__}
    if dxkit:
        v = subprocess.run([str(dxkit), "--version"], capture_output=True, text=True)
        versions["dxkit"] = (v.stdout.strip() or v.stderr.strip()) if v.returncode == 0 else "unknown"
    print(f"bench-models: {machine()['cpu']}, {os.cpu_count()} CPUs; torch {versions['torch']}, "
          f"onnxruntime {versions['onnxruntime']}" + (f", dxkit {versions['dxkit']}" if dxkit else ", dxkit skipped")
          + f"; >= {seconds:g} s per run, best of {runs}", flush=True)
    if peaks:
        per = peaks["fma_peak_gflops_per_core"]
        print(f"bench-models: dxkit runs {peaks['isa']} (DXKIT_ISA={os.environ.get('DXKIT_ISA', 'unset')}; this CPU's "
              f"best: {peaks['best_isa']}); measured multiply-add peak per core: "
              + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in sorted(per.items(), key=lambda kv: -kv[1])), flush=True)

    busy = busy_processes()
    if busy:
        print("bench-models: WARNING: other processes are using the CPU, numbers will be low and noisy "
              "(2-thread runs most of all): " + "; ".join(busy), flush=True)

    meter = CpuMeter()
    wait_budget = args.wait_idle

    rng = np.random.default_rng(0)
    results = []
    t_start = time.time()
    for name in args.models:
        if name in imp.MODELS:
            model, shape = imp.build_model(name), imp.SHAPE
            flops[name] = imp.flops(model)
            if dxkit:
                imp.ensure_imported(dxkit, name)
        else:
            model, shape = ex.build_model(name), ex.input_shape(name)
        inputs = {b: rng.standard_normal((b,) + shape, dtype=np.float32) for b in args.batches}
        f = flops[name]["flops"]
        for threads in args.threads:
            sess = ort_session(name, threads)
            for batch in args.batches:
                x = inputs[batch]
                engines = {}
                for engine in ENGINES:
                    if engine == "dxkit" and dxkit is None or engine == "torch" and args.skip_torch:
                        continue
                    waited, attempts = 0.0, 0
                    while True:
                        attempts += 1
                        if wait_budget > 0:
                            w = wait_until_idle(meter, wait_budget, args.busy_limit)
                            waited += w
                            wait_budget -= w
                        meter.start()
                        try:
                            if engine == "torch":
                                best, rates, cpu_rates = bench_torch(model, x, threads, seconds, runs, warmup_s)
                                rec = {}
                            elif engine == "ort":
                                best, rates, cpu_rates = bench_ort(sess, x, seconds, runs, warmup_s)
                                rec = {}
                            else:
                                best, rates, cpu_rates, last = bench_dxkit(dxkit, name, batch, threads, seconds, runs)
                                rec = {"last_report": last}
                        except Exception as e:  # noqa: BLE001 - keep the other numbers
                            engines[engine] = {"error": str(e)}
                            break
                        others = meter.stop()
                        if others < args.busy_limit or attempts > args.retries or wait_budget <= 0:
                            break
                    if "error" in engines.get(engine, {}):
                        continue
                    gf = best * f / 1e9
                    pct = {"percent_of_peak": 100 * gf / (peak_for[engine] * threads)} if engine in peak_for else {}
                    if engine == "dxkit":
                        rec["isa"] = rec["last_report"].get("isa")
                    engines[engine] = dict(images_per_second=best, runs=rates, gflops_per_second=gf, **pct,
                                           images_per_cpu_second=max(cpu_rates), cpu_runs=cpu_rates,
                                           other_cpu=others, disturbed=others >= args.busy_limit,
                                           attempts=attempts, waited_seconds=round(waited, 1), **rec)
                ips = {k: v.get("images_per_second") for k, v in engines.items()}
                ratios = {}
                if ips.get("dxkit") and ips.get("ort"):
                    ratios["dxkit/ort"] = ips["dxkit"] / ips["ort"]
                if ips.get("dxkit") and ips.get("torch"):
                    ratios["dxkit/torch"] = ips["dxkit"] / ips["torch"]
                cpu = {k: v.get("images_per_cpu_second") for k, v in engines.items()}
                if cpu.get("dxkit") and cpu.get("ort"):
                    ratios["dxkit/ort per CPU-s"] = cpu["dxkit"] / cpu["ort"]
                results.append({"model": name, "batch": batch, "threads": threads, "engines": engines,
                                "ratios": ratios})
                print(f"  {name:<18} B={batch:<2} T={threads}: " + ", ".join(
                    f"{k} {fmt(ips.get(k), '.1f')}{mark(engines[k])}" for k in ENGINES if k in engines)
                    + " img/s", flush=True)
            del sess
        del model

    results.sort(key=lambda r: (args.models.index(r["model"]), r["batch"], r["threads"]))
    print()
    print_table(results, flops, peak_note)
    if peaks and peaks["isa"] != peaks["best_isa"] and not args.peak_per_core:
        print(f"note: dxkit ran {peaks['isa']} (DXKIT_ISA) while ORT and torch ran this CPU's {peaks['best_isa']} kernels "
              f"(they cannot be capped): images/s compare different instruction sets; the %peak columns, each "
              f"against its own set's measured peak, compare like with like.")
    print(f"bench-models: {time.time() - t_start:.0f} s")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "machine": machine(), "versions": versions,
            "settings": {"seconds": seconds, "runs": runs, "warmup_seconds": warmup_s, "quick": args.quick,
                         "peak_gflops_per_core": peak_for, "dxkit": str(dxkit) if dxkit else None,
                         "dxkit_isa": peaks["isa"] if peaks else None, "measured_peaks": peaks,
                         "ort": "intra_op=T, inter_op=1, ORT_ENABLE_ALL, ORT_SEQUENTIAL, CPUExecutionProvider",
                         "torch": "eager, set_num_threads(T), interop 1, inference_mode",
                         "input": "rng(0) standard normal float32 NCHW; ORT and torch share it"},
            "flops": {m: flops[m] for m in args.models},
            "results": results}, indent=2) + "\n")
        print(f"bench-models: wrote {out}")


if __name__ == "__main__":
    main()
