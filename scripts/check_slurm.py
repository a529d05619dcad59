#!/usr/bin/env python3
"""`make check-slurm`: dxkit's sharded runs on a real Slurm cluster (Debian's slurm-wlm and munge),
started here on loopback in a temporary folder and stopped at the end.

1. Starts munged, slurmctld and slurmd (one node, this machine's cores) with their configuration,
   state, sockets and logs in a temporary folder; nothing of the system's is used or changed.
2. The sample studies (studies/): scripts/slurm/submit.sh runs a 4-task array of
   `dxkit run --shard I/4` and the merge job (--dependency=afterok); the merged index must equal an
   unsharded `dxkit run` of the same folder (scripts/compare_indexes.py), and so must the reports.
3. A cohort of --copies copies of the chest radiographs with fresh UIDs (one study each): the array
   runs, one task is killed with SIGKILL (scancel --signal=KILL) once its shard has stored some
   results, the others finish, the killed task is resubmitted alone and the merge job runs after it;
   the merge must equal the unsharded run, with nothing lost or twice, and merging again adds nothing.
4. Stops the daemons (also on failure) and removes the folder (--keep leaves it).

Needs slurm-wlm and munge (scripts/check-slurm.sh installs them), a release dxkit and make setup's
models, studies and .venv (pydicom writes the copies). Standard library only.
"""
import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def log(msg):
    print(f"check-slurm: {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """munged + slurmctld + slurmd in `folder`, on loopback."""

    def __init__(self, folder, cpus):
        self.dir, self.cpus, self.pids = folder, cpus, []
        self.conf = os.path.join(folder, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)

    def start(self):
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, "munge"), 0o711)
        key = os.path.join(d, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        sock = os.path.join(d, "munge", "munge.socket")
        subprocess.run(["munged", "--force", f"--socket={sock}", f"--key-file={key}", f"--log-file={d}/log/munged.log",
                        f"--pid-file={d}/munge/munged.pid", f"--seed-file={d}/munge/munged.seed"], check=True)
        self.pids.append(("munged", f"{d}/munge/munged.pid"))
        host = socket.gethostname().split(".")[0]
        memory = max(1000, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2)
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=dxkit-check
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory} State=UNKNOWN
PartitionName=check Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        subprocess.run(["slurmctld", "-i", "-f", self.conf], check=True, env=self.env)
        self.pids.append(("slurmctld", f"{d}/slurmctld.pid"))
        subprocess.run(["slurmd", "-f", self.conf], check=True, env=self.env)
        self.pids.append(("slurmd", f"{d}/slurmd.pid"))
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env).stdout.strip()
            if out == "idle":
                log(f"cluster up: slurmctld + slurmd on {host} ({self.cpus} CPUs), munged; config {self.conf}")
                return
            time.sleep(0.5)
        raise SystemExit(f"check-slurm: the node never became idle (sinfo: {out!r}); logs in {d}/log")

    def stop(self):
        for name, pidfile in reversed(self.pids):
            try:
                pid = int(open(pidfile).read().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        log("daemons stopped (munged, slurmctld, slurmd)")

    def run(self, *cmd, check=True):
        p = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env)
        if check and p.returncode != 0:
            raise SystemExit(f"check-slurm: {' '.join(cmd)} failed: {p.stderr.strip()}")
        return p.stdout.strip()

    def state(self, job):
        """job id (or id_task) → state, from scontrol (kept MinJobAge seconds after the end)."""
        out = self.run("scontrol", "-o", "show", "job", str(job), check=False)
        states = [f.split("=", 1)[1] for line in out.splitlines() for f in line.split() if f.startswith("JobState=")]
        return states

    def wait(self, job, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            states = self.state(job)
            if states and all(s in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY") for s in states):
                if any(s != "COMPLETED" for s in states):
                    raise SystemExit(f"check-slurm: {what} (job {job}) ended {states}; logs in {self.dir}")
                return
            time.sleep(1)
        raise SystemExit(f"check-slurm: {what} (job {job}) not finished after {timeout} s: {self.state(job)}")


def count(db, sql):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def compare(unsharded_db, merged_db, what):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "compare_indexes.py"), unsharded_db, merged_db],
                       capture_output=True, text=True)
    print(p.stdout, end="")
    if p.returncode != 0:
        raise SystemExit(f"check-slurm: {what}: the merged index differs from the unsharded run")


def reports_equal(a, b):
    def result_files(folder):
        out = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name, "result.json")
            if os.path.isfile(path):
                out[name] = open(path).read()
        return out
    fa, fb = result_files(a), result_files(b)
    if fa != fb:
        raise SystemExit(f"check-slurm: reports differ: {len(fa)} study folders in {a}, {len(fb)} in {b}, "
                         f"{sum(1 for k in fa if fb.get(k) != fa[k])} result.json files differ")
    log(f"reports: the same {len(fa)} study folders and result.json files")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dxkit", default=os.path.join(ROOT, ".build", "release", "dxkit"))
    ap.add_argument("--copies", type=int, default=2000, help="studies in the fresh-UID cohort (default 2000)")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, indexes)")
    a = ap.parse_args()
    dxkit = os.path.abspath(a.dxkit)
    models = os.path.join(ROOT, "models")
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "scancel", "scontrol"):
        if not shutil.which(tool):
            raise SystemExit(f"check-slurm: {tool} missing (apt-get install slurm-wlm munge; scripts/check-slurm.sh does it)")
    start = time.time()
    work = tempfile.mkdtemp(prefix="dxkit-slurm-")
    cluster = Cluster(os.path.join(work, "cluster"), a.cpus)
    env = dict(DXKIT=dxkit, DXKIT_MODELS=models)
    try:
        cluster.start()
        cluster.env.update(env)
        submit = os.path.join(ROOT, "scripts", "slurm", "submit.sh")

        # 1. The sample studies: array + merge, against an unsharded run.
        studies = os.path.join(ROOT, "studies")
        t = time.time()
        subprocess.run([dxkit, "run", studies, "--out", f"{work}/samples/unsharded", "--models-dir", models],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        array, merge = cluster.run("bash", submit, studies, f"{work}/samples/cluster", str(a.shards)).split()
        log(f"sample studies: array job {array} ({a.shards} shards) and merge job {merge} (afterok) submitted")
        cluster.wait(merge, 900, "the sample studies' merge")
        compare(f"{work}/samples/unsharded/dxkit.sqlite", f"{work}/samples/cluster/dxkit.sqlite", "sample studies")
        reports_equal(f"{work}/samples/unsharded", f"{work}/samples/cluster/reports")
        log(f"sample studies: sharded {a.shards} ways on Slurm and merged = unsharded ({time.time() - t:.0f} s)")

        # 2. A cohort with fresh UIDs; one task killed mid-run and resubmitted.
        t = time.time()
        cohort = f"{work}/cohort/in"
        subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "scripts", "fresh_uid_copies.py"),
                        "--count", str(a.copies), "--out", cohort]
                       + sorted(os.path.join(studies, "chest", f) for f in os.listdir(os.path.join(studies, "chest"))),
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([dxkit, "run", cohort, "--out", f"{work}/cohort/unsharded", "--models-dir", models],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        unsharded = f"{work}/cohort/unsharded/dxkit.sqlite"
        scored = count(unsharded, "SELECT count(*) FROM results WHERE status = 'scored'")
        log(f"cohort: {a.copies} studies with fresh UIDs, unsharded run scored {scored} ({time.time() - t:.0f} s)")
        out = f"{work}/cohort/cluster"
        os.makedirs(f"{out}/logs", exist_ok=True)
        shard_env = dict(cluster.env, STUDIES=cohort, OUT=out, SHARDS=str(a.shards))
        array = subprocess.run(["sbatch", "--parsable", f"--array=0-{a.shards - 1}", f"--output={out}/logs/shard-%A_%a.out",
                                "--export=ALL", os.path.join(ROOT, "scripts", "slurm", "shard.sbatch")],
                               capture_output=True, text=True, check=True, env=shard_env).stdout.strip().split(";")[0]
        victim = 1 % a.shards
        victim_db = f"{out}/shards/shard-{victim}.sqlite"
        deadline = time.time() + 600
        while count(victim_db, "SELECT count(*) FROM results") < 5:
            if time.time() > deadline:
                raise SystemExit("check-slurm: the shard to kill never stored a result")
            time.sleep(0.2)
        cluster.run("scancel", "--signal=KILL", "--full", f"{array}_{victim}")
        log(f"cohort: killed array task {array}_{victim} (SIGKILL) with {count(victim_db, 'SELECT count(*) FROM results')} results stored")
        for task in range(a.shards):
            if task == victim:
                continue
            cluster.wait(f"{array}_{task}", 1800, f"shard {task}")
        deadline = time.time() + 60
        while cluster.state(f"{array}_{victim}") not in (["CANCELLED"], ["FAILED"]) and time.time() < deadline:
            time.sleep(0.5)
        killed_state = cluster.state(f"{array}_{victim}")
        partial = count(victim_db, "SELECT count(*) FROM results")
        if killed_state not in (["CANCELLED"], ["FAILED"]):
            raise SystemExit(f"check-slurm: the killed task is {killed_state}, not cancelled")
        again = subprocess.run(["sbatch", "--parsable", f"--array={victim}", f"--output={out}/logs/shard-%A_%a.out", "--export=ALL",
                                os.path.join(ROOT, "scripts", "slurm", "shard.sbatch")],
                               capture_output=True, text=True, check=True, env=shard_env).stdout.strip().split(";")[0]
        merge = subprocess.run(["sbatch", "--parsable", f"--dependency=afterok:{again}", f"--output={out}/logs/merge-%j.out",
                                "--export=ALL", os.path.join(ROOT, "scripts", "slurm", "merge.sbatch")],
                               capture_output=True, text=True, check=True, env=shard_env).stdout.strip().split(";")[0]
        log(f"cohort: task {victim} ({killed_state[0].lower()}, {partial} results kept) resubmitted as job {again}; merge job {merge} after it")
        cluster.wait(merge, 1800, "the cohort's merge")
        interrupted = count(victim_db, "SELECT count(*) FROM runs WHERE status = 'interrupted'")
        if interrupted != 1:
            raise SystemExit(f"check-slurm: the killed shard's index has {interrupted} interrupted runs, expected 1")
        compare(unsharded, f"{out}/dxkit.sqlite", "cohort")
        reports_equal(f"{work}/cohort/unsharded", f"{out}/reports")
        again_merge = subprocess.run([dxkit, "merge"] + sorted(f"{out}/shards/{f}" for f in os.listdir(f"{out}/shards") if f.endswith(".sqlite"))
                                     + ["--db", f"{out}/dxkit.sqlite"], capture_output=True, text=True)
        added = [line for line in again_merge.stdout.splitlines() if not line.split(": ", 1)[1].startswith("0 instances, 0 results, 0 study results, 0 runs, 0 models added")]
        if again_merge.returncode != 0 or added:
            raise SystemExit(f"check-slurm: merging again added rows or failed: {again_merge.stdout}{again_merge.stderr}")
        log(f"cohort: {a.copies} studies in {a.shards} shards, one killed and resubmitted, merged = unsharded; merging again adds nothing "
            f"({time.time() - t:.0f} s)")
        log(f"passed in {time.time() - start:.0f} s")
    finally:
        cluster.stop()
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
