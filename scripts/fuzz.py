#!/usr/bin/env python3
"""Runs dxkit over a fuzz corpus (scripts/fuzz_corpus.py) and checks that no file stops the batch (issue 12).

    python3 scripts/fuzz.py --dxkit .build/release/dxkit --corpus /tmp/fuzz-corpus [--jobs 2] [--timeout 60]

Stages, each process under an address-space limit (RLIMIT_AS) and a wall-clock time-out:
  ingest   one batch `dxkit ingest CORPUS`; then the accounting below and `PRAGMA integrity_check`.
  inspect  `dxkit inspect --json` per entry (all, or --inspect-sample of them).
  run      one batch `dxkit run CORPUS --out OUT` (ingest + score + report).
Guarantees: exit status 0 only if no process was killed by a signal, none timed out, every exit status is
allowed (ALLOWED_EXIT), inspect's JSON parses, nothing printed holds raw control characters, the index passes
integrity_check, every corpus entry is accounted for once (a row or a skip; Fuzz.account), nothing is indexed
or written outside what dxkit was pointed at, no report mixes two patients and every scored instance is in a
report. When a batch crashes or hangs, it is re-run on the same index (does it get past?); the culprits are
the files dxkit's crash messages name, else the entries it had not reached, run one by one (triage); then the
batch is re-run without the culprits (--rounds), so one crash does not hide the next. Prints a summary (per
outcome, per mutation kind, crashes/hangs grouped by cause with one example each) and writes
WORK/fuzz-report.json. Standard library only; runs with any python3.
"""
import argparse
import concurrent.futures as cf
import csv
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

# ---- the rules; adjust here as dxkit's documented behaviour changes --------------------------------------
# Exit statuses allowed per stage (2 = fatal: not expected for any corpus file, so not allowed).
ALLOWED_EXIT = {"ingest": {0, 1}, "inspect": {0, 1}, "run": {0, 1}}
# Entries that must each have an `instances` row or be covered by a counted skip. Issue 12 asks that symlinks
# (followed with loop detection, or refused) and non-regular files (FIFOs) be counted too, not silently passed.
ACCOUNTED = {"regular", "symlink", "fifo"}
# Summary-line counts that are "counted skips", matched against the words after each number in the line
# "N files seen: N ingested, N unchanged, N skipped, N failed; N duplicate ..., N DICOMDIRs, ..." (used when
# dxkit does not list its skips one by one; see Fuzz.account).
SKIP_LABEL = re.compile(r"^(skipped|refused|ignored|DICOMDIRs?|symlinks?|not regular|non-regular|loops?)\b")
# Bytes that must never reach the terminal raw: C0 controls but tab/newline/CR (ESC, BEL, ...), and C1 controls
# in UTF-8 (U+0080-U+009F, e.g. U+009B CSI). DEL is harmless and legal in JSON.
CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xc2[\x80-\x9f]")
# dxkit's crash guard names the file it was reading when a fatal signal hit; such a file needs no triage.
NAMED = re.compile(r"fatal signal \d+ while reading (.+)$", re.M)


class Outcome:
    def __init__(self, cmd, rc, timed_out, out, err, seconds):
        self.cmd, self.rc, self.timed_out, self.out, self.err, self.seconds = cmd, rc, timed_out, out, err, seconds

    @property
    def crashed(self):  # killed by a signal (Swift traps: SIGILL/SIGTRAP), or an exit status a shell shows for one
        return not self.timed_out and (self.rc < 0 or self.rc >= 128)

    def verdict(self, allowed):
        if self.timed_out:
            return f"timeout ({self.seconds:.0f} s)"
        if self.rc < 0:
            return f"signal {signal.Signals(-self.rc).name}" if -self.rc in signal.Signals._value2member_map_ else f"signal {-self.rc}"
        if self.rc >= 128:
            return f"exit {self.rc} (signal?)"
        return None if self.rc in allowed else f"exit {self.rc}"

    def message(self):
        """Why it crashed and where: Swift's '*** Swift runtime failure: ... ***' (or 'Fatal error: ...') and the
        first frame of the crashed thread in dxkit's sources (else in any library); else stderr's last line."""
        text = self.err.decode("utf-8", "replace")
        why = re.search(r"\*\*\* ((?:Swift runtime failure|Program crashed): .*?) \*\*\*|((?:Fatal error|Precondition failed|"
                        r"Assertion failed)[^\n]*)", text)
        m = re.search(r"\nThread \d+[^\n]* crashed:\n", text)
        crashed = text[m.end():] if m else ""
        where = re.search(r" at /\S*?(Sources/\S+\.swift:\d+)", crashed) or re.search(r"^\s*0 .*? (\S+(?: \+ \d+)? in \S+)$", crashed, re.M)
        if why:
            return (why.group(1) or why.group(2)).strip() + (f" @ {where.group(1)}" if where else "")
        lines = [l for l in text.splitlines() if l.strip()]
        last = lines[-1][:160] if lines else ""
        return f"(no crash report: a stack overflow gives none){'; last line: ' + last if last else ''}" if self.crashed else last

    def tail(self, n=6):
        """The crashed thread's first frames if there is a backtrace, else the last lines of stderr."""
        lines = self.err.decode("utf-8", "replace").splitlines()
        at = next((i for i, l in enumerate(lines) if re.match(r"Thread \d+.* crashed:", l)), None)
        return "\n".join(l.strip()[:220] for l in (lines[at + 2:at + 2 + n] if at is not None else lines[-n:]))


def run(cmd, timeout, limit_mb, cwd):
    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    start = time.monotonic()
    env = dict(os.environ, SWIFT_BACKTRACE="threads=crashed,registers=none,images=none")  # shorter crash reports
    p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=limits, start_new_session=True, cwd=cwd, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # its own session: only what this call started
        out, err = p.communicate()
        timed_out = True
    return Outcome(cmd, p.returncode, timed_out, out, err, time.monotonic() - start)


def entries(root):
    """{relative path: kind} of everything under root that is not a folder, without following symlinks."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            p = os.path.join(folder, name)
            mode = os.lstat(p).st_mode
            kind = "symlink" if stat.S_ISLNK(mode) else "regular" if stat.S_ISREG(mode) else "fifo" if stat.S_ISFIFO(mode) else "other"
            found[os.path.relpath(p, root)] = kind
    return found


def mirror(corpus, dest, leave_out):
    """A copy of the corpus (hard links, same symlinks, new FIFOs) without the entries in leave_out."""
    shutil.rmtree(dest, ignore_errors=True)
    for rel, kind in entries(corpus).items():
        if rel in leave_out:
            continue
        src, dst = os.path.join(corpus, rel), os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if kind == "symlink":
            os.symlink(os.readlink(src), dst)
        elif kind == "fifo":
            os.mkfifo(dst)
        else:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    return dest


def query(db, sql):
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute(sql).fetchall()
    except sqlite3.Error as e:
        return e


class Fuzz:
    def __init__(self, a):
        self.a, self.violations, self.findings, self.notes = a, [], [], []
        self.corpus = os.path.abspath(a.corpus)
        self.entries = entries(self.corpus)
        self.manifest = {}
        if os.path.exists(os.path.join(self.corpus, "manifest.csv")):
            with open(os.path.join(self.corpus, "manifest.csv")) as f:
                self.manifest = {r["path"]: r for r in csv.DictReader(f)}
        self.kind_of = lambda rel: self.manifest.get(rel, {}).get("kind", "manifest" if rel == "manifest.csv" else "?").split(":")[0]
        self.per_kind = defaultdict(Counter)
        n = len(self.entries)  # ingest reads 100+ files/s; run scores ~8 images/s on 2 cores
        self.batch_timeout = {"ingest": a.batch_timeout or 60 + 0.1 * n, "run": a.batch_timeout or 120 + 0.5 * n}

    def violate(self, what, detail=""):
        self.violations.append(f"{what}{': ' + detail if detail else ''}")

    def finding(self, stage, rel, o, verdict):
        if any(f["stage"] == stage and f["file"] == rel for f in self.findings):
            return
        self.findings.append({"stage": stage, "file": rel, "kind": self.kind_of(rel), "verdict": verdict,
                              "message": o.message().replace(self.corpus, "<corpus>"), "tail": o.tail(),
                              "detail": self.manifest.get(rel, {}).get("detail", "")})

    def check_printed(self, stage, o, rel=""):
        for name, text in (("stdout", o.out), ("stderr", o.err)):
            m = CONTROL.search(text)
            if m:
                self.violate(f"{stage}: raw control character {m.group()!r} in {name}", rel or " ".join(map(str, o.cmd[1:3])))
                return

    def batch(self, stage, args, root, cwd):
        """Runs one batch; returns its outcome and what was wrong with it (None: nothing)."""
        o = run([self.a.dxkit, stage, root] + args, self.batch_timeout[stage], self.a.as_limit_mb, cwd)
        verdict = o.verdict(ALLOWED_EXIT[stage])
        print(f"{stage} batch over {root}: exit {o.rc}{' (' + verdict + ')' if verdict else ''}, {o.seconds:.1f} s")
        self.check_printed(stage, o)
        if verdict:
            self.violate(f"{stage} batch: {verdict}", o.message())
        return o, verdict

    def named(self, stage, o, root):
        """The entries dxkit's crash message names (NAMED), recorded as findings."""
        found = set()
        for path in NAMED.findall(o.err.decode("utf-8", "replace")):
            rel = os.path.relpath(path.strip(), root)
            if not rel.startswith(".."):
                found.add(rel)
                self.finding(stage, rel, o, o.verdict(set()))
        return found

    def rerun(self, stage, o, root, db, cwd, say):
        """The same batch again on the same index, as a user would, while it keeps crashing and making progress
        (at most 6 times): does it get past what stopped it? Returns the entries the crashes named."""
        progress = lambda: sum(n for q in ("SELECT count(*) FROM instances", "SELECT count(*) FROM results")
                               for n in [query(db, q)] if isinstance(n, list) for (n,) in n)
        said, culprits = [], self.named(stage, o, root)
        for _ in range(6):
            before = progress()
            o = run(o.cmd, self.batch_timeout[stage], self.a.as_limit_mb, cwd)
            verdict = o.verdict(ALLOWED_EXIT[stage])
            culprits |= self.named(stage, o, root)
            said.append(f"{verdict or f'finished (exit {o.rc})'} (+{progress() - before} rows)")
            if not verdict or progress() == before:
                break
        if say:
            self.notes.append(f"{stage}: the same batch re-run on the same index: " + ", then ".join(said))
            print(f"  {self.notes[-1]}")
        if culprits:
            print(f"  named by dxkit's crash messages: {len(culprits)}")
        return culprits

    def triage(self, stage, root, suspects, extra):
        """Re-runs `stage` on each suspect alone (in scan order) to find the ones that crash or hang. Links to
        folders go last, and only if no file did it: through them dxkit reads other files (even the whole corpus)."""
        folders = [rel for rel in suspects if os.path.isdir(os.path.join(root, rel))]
        files = [rel for rel in suspects if rel not in set(folders)][:self.a.triage_max]
        culprits = self.triage_each(stage, root, files, extra)
        return culprits or self.triage_each(stage, root, folders[:self.a.triage_max], extra)

    def triage_each(self, stage, root, suspects, extra):
        if not suspects:
            return set()
        print(f"  triage: {len(suspects)} entries one by one")
        tmp = tempfile.mkdtemp(dir=self.a.work, prefix=f"triage-{stage}-")

        def one(i_rel):
            i, rel = i_rel
            return rel, run([self.a.dxkit, stage, os.path.join(root, rel)] + extra(os.path.join(tmp, str(i))),
                            self.a.timeout, self.a.as_limit_mb, self.a.cwd)
        culprits = set()
        with cf.ThreadPoolExecutor(self.a.jobs) as pool:
            for rel, o in pool.map(one, enumerate(suspects)):
                if o.crashed or o.timed_out:
                    culprits.add(rel)
                    self.finding(stage, rel, o, o.verdict(set()))
                    if os.path.isdir(os.path.join(root, rel)):
                        self.findings[-1]["detail"] += "; a link to a folder: the cause may be a file inside"
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"  triage: {len(culprits)} culprits")
        return culprits

    def stage_ingest(self):
        leave_out = set()
        for r in range(self.a.rounds):
            root = self.corpus if r == 0 else mirror(self.corpus, os.path.join(self.a.work, f"mirror-ingest-{r}"), leave_out)
            db = os.path.join(self.a.work, f"ingest-{r}.sqlite")
            o, verdict = self.batch("ingest", ["--db", db, "--jobs", self.a.jobs, "--verbose"], root, self.a.cwd)
            if not o.crashed and not o.timed_out:
                self.account(root, db, o)
                return db
            rows = query(db, "SELECT path FROM instances")
            rowed = {os.path.relpath(p, root) for (p,) in rows} if isinstance(rows, list) else set()
            left = [rel for rel in sorted(entries(root)) if rel not in rowed]
            culprits = self.rerun("ingest", o, root, db, self.a.cwd, r == 0) or \
                self.triage("ingest", root, left, lambda d: ["--db", d + ".sqlite", "--jobs", "1"])
            if not culprits:
                self.notes.append("ingest batch failed but no single entry reproduces it")
                return db
            leave_out |= culprits
        return None

    def account(self, root, db, o):
        """Every ACCOUNTED entry is accounted for exactly once: a row (at its path, or under it for a followed link
        to a folder), or a skip. Where dxkit lists its skips (`--verbose`: "skipped: PATH: reason" on stderr) each
        entry is checked by name; otherwise the entries without a row must not outnumber the summary's counted
        skips. A file named DICOMDIR* has no row of its own: the summary counts it as a DICOMDIR."""
        integrity = query(db, "PRAGMA integrity_check")
        if integrity != [("ok",)]:
            self.violate("ingest: integrity_check", str(integrity))
        rows = query(db, "SELECT path, status FROM instances")
        if not isinstance(rows, list):
            return self.violate("ingest: cannot read instances", str(rows))
        text = o.out.decode("utf-8", "replace")
        line = next((l for l in text.splitlines() if "files seen" in l), "")
        if not line:
            return self.violate("ingest: no summary line", text[-300:])
        counts = [(int(n), label.strip()) for n, label in re.findall(r"(?<![\d.])(\d+) ([A-Za-z][^,;:\d]*)", line)]
        skips = sum(n for n, label in counts if SKIP_LABEL.match(label))
        number = lambda word: next((n for n, label in counts if label.startswith(word)), 0)
        skip_lines = [l for l in o.err.decode("utf-8", "replace").splitlines() if l.startswith("skipped: ")]
        listed = {l[len("skipped: "):].split(" → ")[0].split(": ")[0] for l in skip_lines}
        prefix = root.rstrip("/") + "/"
        escaped = [p for p, _ in rows if not p.startswith(prefix) and p != root.rstrip("/")]
        if escaped:
            self.violate(f"ingest: {len(escaped)} rows for paths outside the corpus", ", ".join(escaped[:5]))
        folders = [p for p, _ in rows if os.path.isdir(p)]
        if folders:
            self.violate(f"ingest: {len(folders)} rows for folders", ", ".join(folders[:5]))
        paths = {p for p, _ in rows}
        under = {os.path.dirname(p) for p in paths}
        status = {os.path.relpath(p, root): s for p, s in rows}
        unrowed, unaccounted, twice, dicomdirs = [], [], [], 0
        for rel, kind in sorted(entries(root).items()):
            full = os.path.join(root, rel)
            rowed = full in paths or kind == "symlink" and any(u == full or u.startswith(full + "/") for u in under)
            self.per_kind[self.kind_of(rel)][f"ingest {status.get(rel, 'skipped' if full in listed else 'no row')}"] += 1
            if kind not in ACCOUNTED or rowed and full not in listed:
                continue
            if rowed:
                twice.append(rel)
            elif os.path.basename(rel).upper().startswith("DICOMDIR"):
                dicomdirs += 1
            else:
                unrowed.append(rel)
                if full not in listed:
                    unaccounted.append(rel)
        if twice:
            self.violate(f"ingest: {len(twice)} entries both indexed and listed as skipped", ", ".join(twice[:8]))
        if dicomdirs > number("DICOMDIR"):
            self.violate(f"ingest: {dicomdirs} DICOMDIR files, the summary counts {number('DICOMDIR')}")
        spare = number("skipped") - len(skip_lines)  # skips counted but not listed: they may cover the unlisted
        if listed and len(unaccounted) > max(spare, 0):
            self.violate(f"ingest: {len(unaccounted)} entries neither indexed nor listed as skipped "
                         f"({max(spare, 0)} skips counted but not listed)", ", ".join(unaccounted[:8]))
        elif listed and unaccounted:
            self.notes.append(f"ingest: {len(unaccounted)} entries counted as skipped but not listed by --verbose: "
                              + ", ".join(unaccounted[:8]))
        elif not listed and len(unrowed) > skips:
            self.violate(f"ingest: {len(unrowed)} entries without a row but only {skips} counted skips "
                         f"({line.strip()})", ", ".join(unrowed[:8]))
        if number("ingested") + number("failed") != len(rows):
            self.violate(f"ingest: the summary says {number('ingested') + number('failed')} rows written "
                         f"(ingested + failed), the index holds {len(rows)}")
        print(f"  accounting: {len(self.entries)} entries, {len(rows)} rows, {len(unrowed)} without a row, "
              f"{len(listed)} listed as skipped, {skips} counted skips ({line.strip()})")

    def stage_inspect(self):
        rels = sorted(self.entries)
        if self.a.inspect_sample and len(rels) > self.a.inspect_sample:
            rels = [rels[i * len(rels) // self.a.inspect_sample] for i in range(self.a.inspect_sample)]  # spread evenly
        print(f"inspect: {len(rels)} entries one by one")

        def one(rel):
            return rel, run([self.a.dxkit, "inspect", os.path.join(self.corpus, rel), "--json"], self.a.timeout,
                            self.a.as_limit_mb, self.a.cwd)
        with cf.ThreadPoolExecutor(self.a.jobs) as pool:
            for rel, o in pool.map(one, rels):
                verdict = o.verdict(ALLOWED_EXIT["inspect"])
                self.per_kind[self.kind_of(rel)][f"inspect {verdict or 'exit ' + str(o.rc)}"] += 1
                self.check_printed("inspect", o, rel)
                if verdict:
                    self.finding("inspect", rel, o, verdict)
                    self.violate(f"inspect: {verdict}", rel)
                elif o.rc == 0:
                    try:
                        json.loads(o.out)
                    except ValueError as e:
                        self.violate("inspect: exit 0 but stdout is not JSON", f"{rel}: {e}")

    def stage_run(self, ingest_culprits):
        leave_out = set(ingest_culprits)
        models = ["--models-dir", self.a.models_dir, "--jobs", self.a.jobs]
        for r in range(self.a.rounds):
            root = self.corpus if not leave_out else mirror(self.corpus, os.path.join(self.a.work, f"mirror-run-{r}"), leave_out)
            sandbox = os.path.join(self.a.work, f"run-{r}")
            shutil.rmtree(sandbox, ignore_errors=True)
            os.makedirs(sandbox)
            out = os.path.join(sandbox, "out")
            o, verdict = self.batch("run", ["--out", out] + models, root, sandbox)
            outside = sorted(set(os.listdir(sandbox)) - {"out"})
            if outside:
                self.violate("run: wrote outside its --out folder", ", ".join(outside[:5]))
            db = os.path.join(out, "dxkit.sqlite")
            if not o.crashed and not o.timed_out:
                if query(db, "PRAGMA integrity_check") != [("ok",)]:
                    self.violate("run: integrity_check", str(query(db, "PRAGMA integrity_check")))
                if o.rc in (0, 1) and not os.path.isfile(os.path.join(out, "index.html")):
                    self.violate("run: no index.html file")
                self.check_reports(out, db)
                return
            # Suspects in the order run meets them: entries not indexed yet (it died ingesting), or, once
            # scoring has begun (any result), indexed instances without a result, in index order (scoring's).
            rowed = query(db, "SELECT path FROM instances ORDER BY id")
            unscored = query(db, "SELECT path FROM instances i WHERE status = 'ok' AND NOT EXISTS "
                                 "(SELECT 1 FROM results r WHERE r.instance_ref = i.id) ORDER BY i.id")
            have = {os.path.relpath(p, root) for (p,) in rowed} if isinstance(rowed, list) else set()
            unindexed = [rel for rel in sorted(entries(root)) if rel not in have]
            unscored = [os.path.relpath(p, root) for (p,) in unscored] if isinstance(unscored, list) else []
            scoring = query(db, "SELECT count(*) FROM results") not in ([(0,)],) and isinstance(rowed, list)
            suspects = unscored + unindexed if scoring else unindexed + unscored
            culprits = self.rerun("run", o, root, db, sandbox, r == 0) or \
                self.triage("run", root, suspects, lambda d: ["--out", d] + models)
            if not culprits:
                self.notes.append("run batch failed but no single entry reproduces it")
                return
            leave_out |= culprits

    def check_reports(self, out, db):
        """No report mixes patients (by dxkit's own PatientID per source file), and every scored instance shows
        up somewhere: in a result.json, or by SOP Instance UID or file name in index.html."""
        rows = query(db, "SELECT i.path, i.patient_id, i.sop_instance_uid FROM instances i JOIN results r "
                         "ON r.instance_ref = i.id WHERE r.status = 'scored'")
        patient = query(db, "SELECT path, patient_id FROM instances")
        if not isinstance(rows, list) or not isinstance(patient, list):
            return self.notes.append(f"run: reports not checked ({rows if not isinstance(rows, list) else patient})")
        patient, reported, mixed = dict(patient), set(), []
        for folder, _, files in os.walk(out):
            if "result.json" in files:
                try:
                    with open(os.path.join(folder, "result.json")) as f:
                        paths = {r.get("source_path") for r in json.load(f).get("results", [])}
                except (ValueError, AttributeError) as e:
                    self.violate("run: unreadable result.json", f"{folder}: {e}")
                    continue
                reported |= paths
                who = {patient.get(p) for p in paths if p in patient}
                if len(who) > 1:
                    mixed.append(f"{os.path.relpath(folder, out)} {sorted(map(str, who))}")
        if mixed:
            self.violate(f"run: {len(mixed)} reports mix patients", "; ".join(mixed[:5]))
        try:
            index = open(os.path.join(out, "index.html"), encoding="utf-8", errors="replace").read()
        except OSError:
            index = ""
        lost = [p for p, _, sop in rows if p not in reported and (not sop or sop not in index) and os.path.basename(p) not in index]
        if lost:
            self.violate(f"run: {len(lost)} scored instances in no report", ", ".join(os.path.basename(p) for p in lost[:5]))

    def summary(self):
        print(f"\ncorpus: {len(self.entries)} entries in {self.corpus}: " +
              ", ".join(f"{k} {n}" for k, n in sorted(Counter(self.entries.values()).items())))
        print("\nper mutation kind:")
        for kind in sorted(self.per_kind):
            print(f"  {kind:14s} " + ", ".join(f"{k}: {n}" for k, n in sorted(self.per_kind[kind].items())))
        causes = defaultdict(list)
        for f in self.findings:
            message = re.sub(r"0x[0-9a-fA-F]+|\d{4,}", "N", f["message"])
            message = re.sub(r" @ (?!Sources/).* in (\S+)$", r" @ \1", message)  # outside our sources: the library only
            causes[(f["stage"], f["verdict"].split(" (")[0], message[:160])].append(f)
        print(f"\ncrashes and hangs: {len(self.findings)} in {len(causes)} causes")
        for (stage, verdict, message), fs in sorted(causes.items(), key=lambda c: -len(c[1])):
            ex = fs[0]
            print(f"- {stage}: {verdict}: {len(fs)} files; kinds {dict(Counter(f['kind'] for f in fs))}\n"
                  f"    message: {message}\n    example: {ex['file']} ({ex['detail']})\n"
                  + "".join(f"      | {l}\n" for l in ex["tail"].splitlines()))
        for n in self.notes:
            print(f"note: {n}")
        print(f"\nviolations: {len(self.violations)}")
        for v in self.violations[:60]:
            print(f"  {v}")
        if len(self.violations) > 60:
            print(f"  … {len(self.violations) - 60} more (see fuzz-report.json)")
        with open(os.path.join(self.a.work, "fuzz-report.json"), "w") as f:
            json.dump({"violations": self.violations, "findings": self.findings, "notes": self.notes,
                       "per_kind": self.per_kind}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dxkit", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per single-file command")
    ap.add_argument("--batch-timeout", type=float, default=0, help="seconds per batch (default: ingest 60 + 0.1, run 120 + 0.5 per entry)")
    ap.add_argument("--as-limit-mb", type=int, default=4096)
    ap.add_argument("--inspect-sample", type=int, default=0, help="inspect only this many entries (0: all)")
    ap.add_argument("--triage-max", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=4, help="batch re-runs without the culprits found so far")
    ap.add_argument("--stages", default="ingest,inspect,run")
    ap.add_argument("--models-dir", default=str(Path(__file__).resolve().parent.parent / "models"))
    ap.add_argument("--work", help="scratch folder (default: a new temporary one)")
    a = ap.parse_args()
    a.dxkit = os.path.abspath(a.dxkit)
    a.work = os.path.abspath(a.work or tempfile.mkdtemp(prefix="dxkit-fuzz-"))
    a.cwd = os.path.join(a.work, "cwd")  # the working directory of every dxkit process but `run`'s (its sandbox)
    os.makedirs(a.cwd, exist_ok=True)
    if not os.access(a.dxkit, os.X_OK) or not os.path.isdir(a.corpus):
        sys.exit(f"fuzz: need an executable --dxkit ({a.dxkit}) and a --corpus folder ({a.corpus})")
    f = Fuzz(a)
    stages = a.stages.split(",")
    ingest_culprits = set()
    started = time.monotonic()
    if "ingest" in stages:
        f.stage_ingest()
        ingest_culprits = {x["file"] for x in f.findings if x["stage"] == "ingest"}
    print(f"  ({time.monotonic() - started:.0f} s so far)")
    if "inspect" in stages:
        f.stage_inspect()
    print(f"  ({time.monotonic() - started:.0f} s so far)")
    if "run" in stages:
        f.stage_run(ingest_culprits)
    print(f"  ({time.monotonic() - started:.0f} s in all)")
    if os.listdir(a.cwd):
        f.violate("dxkit wrote into its working directory", ", ".join(sorted(os.listdir(a.cwd))[:5]))
    f.summary()
    print(f"fuzz: {'FAIL' if f.violations else 'ok'} ({len(f.violations)} violations; work folder {a.work})")
    sys.exit(1 if f.violations else 0)


if __name__ == "__main__":
    main()
