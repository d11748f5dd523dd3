"""The example workers (examples/python, examples/node) end to end, under
what production does to them. Shared by python_example_completes_each_job_once.py
and node_example_completes_each_job_once.py: run(lang).

1. The example producer enqueues JOBS jobs (every SLOW_EVERY-th one runs
   SLOW_MS, longer than the 3 s lease, so only heartbeats keep it; every
   FAIL_EVERY-th one fails its first attempt and is retried).
2. WORKERS example workers start, each a process of its own.
3. A worker in the middle of a slow job is frozen (SIGSTOP) for longer
   than its lease, heartbeat thread and all, then continued: its
   completions must come back refused, and it must log "lease lost".
4. Another worker in the middle of a slow job is SIGKILLed.
5. At 40% done, the server restarts (test/lib.sh cluster_restart, pg_ctl
   restart -m fast): the workers lose their connections and come back.
6. At 60% done, a third worker gets SIGTERM while busy: it must exit 0
   within 10 s and leave no running job under its name.
7. Every job completes.
8. Jobs due 1.5 s later (no NOTIFY is sent when they become due) are
   picked up by polling; single jobs enqueued while the workers are idle are
   claimed within 0.2 s (median): LISTEN works.
9. SIGTERM to the workers left: each exits 0.

Passes when every job is completed, and each one exactly once: no two
"completed" lines for a job in the workers' logs, each completed job's
stored result names the worker and token of its one "completed" line (only
the killed worker may have committed a completion it never logged), every
refused completion ("lease lost") belongs to a token that is not the one
that completed the job, the frozen worker logged its job's completion as
refused and a later claim's greater token completed it, the killed
worker's job and every other job it held
were completed by others with a greater token, a worker reconnected after
the restart, and no worker process is left behind.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER, CLUSTER_DIR exported;
superuser; root, to install what is missing).
"""
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2
from common import admin, verdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
JOBS = 400
WORKERS = 4
LEASE = 3           # seconds
WORK_MS = 60
SLOW_EVERY, SLOW_MS = 60, 4000
FAIL_EVERY = 45
POLL = 2            # seconds between the workers' polls
HARD_SECONDS = 120.0
QUEUE = "examples"


def commands(lang):
    if lang == "python":
        d = os.path.join(REPO, "examples", "python")
        return ["/usr/bin/python3", os.path.join(d, "producer.py")], ["/usr/bin/python3", os.path.join(d, "worker.py")]
    d = os.path.join(REPO, "examples", "node")
    return ["node", os.path.join(d, "producer.js")], ["node", os.path.join(d, "worker.js")]


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def apt_install(*packages):
    if os.geteuid() != 0:
        return "missing %s (run as root to install)" % " ".join(packages)
    r = sh(["bash", "-c", "apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive "
                          "apt-get install -y -qq " + " ".join(packages) + " >/dev/null"])
    return None if r.returncode == 0 else "apt-get install %s failed: %s" % (" ".join(packages), r.stdout[-500:])


def prepare(lang):
    """What the example needs; None, or why it cannot run."""
    if lang == "python":
        if sh(["/usr/bin/python3", "-c", "import psycopg"]).returncode != 0:
            err = apt_install("python3-psycopg")
            if err:
                return err
        return None
    if not shutil.which("node") or not shutil.which("npm"):
        err = apt_install("nodejs", "npm")
        if err:
            return err
    d = os.path.join(REPO, "examples", "node")
    if node_modules_current(d):
        return None
    # package-lock.json pins every version; the npm cache makes it quick.
    r = sh(["npm", "ci", "--prefix", d, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])
    if r.returncode == 0:
        return None
    return ("npm ci failed: %s\n(make test PG=N copies the work tree into its chroot: after an "
            "`npm ci --prefix examples/node` on the host, the chroot needs no registry)" % r.stdout[-1000:])


def node_modules_current(d):
    """Whether examples/node/node_modules holds exactly what package-lock.json
    pins: npm's own record of the tree (node_modules/.package-lock.json)
    lists the same packages. Then npm ci is skipped (no network needed, as in
    the chroot of make test PG=N, which copies the tree)."""
    try:
        with open(os.path.join(d, "package-lock.json")) as f:
            want = {k: v for k, v in json.load(f)["packages"].items() if k}
        with open(os.path.join(d, "node_modules", ".package-lock.json")) as f:
            have = json.load(f)["packages"]
    except (OSError, ValueError, KeyError):
        return False
    return want == have


LINE = re.compile(r"event=(\w+)((?: \w+=\S+)*)")


def events(path):
    """The "event=NAME k=v ..." lines of a worker's log, as (name, dict)."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if m:
                out.append((m.group(1), dict(kv.split("=", 1) for kv in m.group(2).split())))
    return out


def run(lang):
    began = time.time()
    failures, lines = [], []
    db = "stress_example_" + lang
    tmp = tempfile.mkdtemp(prefix="baton-example-%s-" % lang)
    procs = {}        # label -> Popen
    logs = {}         # label -> path
    try:
        err = prepare(lang)
        if err:
            failures.append(err)
            return verdict(failures, "", "%s example could not run" % lang, began)
        # The scenario's time limit starts now: installing packages the
        # first time (apt-get, npm ci) does not count.
        scenario_began = time.time()
        admin("DROP DATABASE IF EXISTS " + db)
        admin("CREATE DATABASE " + db)
        admin("CREATE EXTENSION baton", dbname=db)
        env = dict(os.environ, PGDATABASE=db)
        producer, worker = commands(lang)

        def produce(*args):
            r = sh(producer + ["--queue", QUEUE] + list(args), env=env, timeout=30)
            if r.returncode != 0:
                failures.append("producer %s exited %d: %s" % (" ".join(args), r.returncode, r.stdout[-500:]))
            return r.stdout.strip()

        def q(sql, args=None):
            return admin(sql, args, dbname=db)

        def completed_in_logs():
            return len({e[1]["job"] for path in logs.values() for e in events(path) if e[0] == "completed"})

        def wait_for(what, cond, seconds):
            end = min(time.time() + seconds, scenario_began + HARD_SECONDS)
            while time.time() < end:
                if cond():
                    return True
                time.sleep(0.05)
            failures.append("timed out waiting for " + what)
            return False

        out = produce("--count", str(JOBS), "--lease", str(LEASE), "--work-ms", str(WORK_MS),
                      "--slow-every", str(SLOW_EVERY), "--slow-ms", str(SLOW_MS), "--fail-every", str(FAIL_EVERY))
        lines.append("# producer: " + out)
        if failures:
            return verdict(failures, "", "%s example" % lang, began, lines)

        for i in range(1, WORKERS + 1):
            label = "w%d" % i
            logs[label] = os.path.join(tmp, label + ".log")
            with open(logs[label], "w") as f:
                procs[label] = subprocess.Popen(
                    worker + ["--queue", QUEUE, "--lease", str(LEASE), "--batch", "3", "--poll", str(POLL)],
                    stdout=f, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        names = {}

        def started():
            for label, path in logs.items():
                for name, f in events(path):
                    if name == "start":
                        names[label] = f["worker"]
            return len(names) == WORKERS
        if not wait_for("the workers to start", started, 15):
            return verdict(failures, "", "%s example" % lang, began, lines)

        def on_slow_job(exclude):
            """A live worker whose last event is the start of a slow job."""
            for label, path in logs.items():
                if label in exclude or procs[label].poll() is not None:
                    continue
                last = [e for e in events(path) if e[0] in ("claimed", "working", "completed", "lease_lost",
                                                            "handed_back", "job_failed")][-1:]
                if last and last[0][0] == "working" and last[0][1].get("ms") == str(SLOW_MS):
                    f = last[0][1]
                    return dict(label=label, job=int(f["job"]), token=int(f["token"]))
            return None

        # 3. SIGSTOP in the middle of a slow job, for longer than the lease
        # (its heartbeat thread stops too): its completion must be refused.
        frozen = {}
        if wait_for("a worker on a slow job", lambda: frozen.update(on_slow_job(()) or {}) or frozen, 20):
            time.sleep(0.3)
            procs[frozen["label"]].send_signal(signal.SIGSTOP)
            time.sleep(LEASE + 2)
            procs[frozen["label"]].send_signal(signal.SIGCONT)
            lines.append("# SIGSTOP %s for %d s working on job %d with token %d"
                         % (frozen["label"], LEASE + 2, frozen["job"], frozen["token"]))

        # 4. SIGKILL in the middle of another slow job.
        victim = {}
        if wait_for("another worker on a slow job",
                    lambda: victim.update(on_slow_job((frozen.get("label"),)) or {}) or victim, 20):
            time.sleep(0.3)
            procs[victim["label"]].send_signal(signal.SIGKILL)
            procs[victim["label"]].wait()
            lines.append("# SIGKILL %s (%s) working on job %d with token %d"
                         % (victim["label"], names[victim["label"]], victim["job"], victim["token"]))

        # 5. A server restart with the workers busy.
        if wait_for("40% of the jobs", lambda: completed_in_logs() >= JOBS * 0.4, 30):
            if not os.environ.get("CLUSTER_DIR"):
                failures.append("CLUSTER_DIR is not set: cannot restart the server")
            else:
                t = time.time()
                r = sh(["bash", "-c", ". test/lib.sh && cluster_restart"], cwd=REPO)
                done_then = completed_in_logs()
                lines.append("# server restarted in %.1f s at %d jobs done" % (time.time() - t, done_then))
                if done_then > JOBS * 0.8:
                    failures.append("the restart came too late to test anything (%d jobs done)" % done_then)
                if r.returncode != 0:
                    failures.append("cluster_restart failed: " + r.stdout[-500:])

        # 6. SIGTERM to a busy worker: it finishes and hands back, exits 0.
        termed = None
        if wait_for("60% of the jobs", lambda: completed_in_logs() >= JOBS * 0.6, 30):
            termed = next(label for label in logs if label not in (victim.get("label"), frozen.get("label")))
            t = time.time()
            procs[termed].send_signal(signal.SIGTERM)
            try:
                rc = procs[termed].wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            lines.append("# SIGTERM %s: exit %s after %.1f s" % (termed, rc, time.time() - t))
            if rc != 0:
                failures.append("%s did not exit 0 within 10 s of SIGTERM (exit %s)" % (termed, rc))
            held = q("SELECT count(*) FROM baton.jobs WHERE worker = %s AND state = 'running'", (names[termed],))[0][0]
            if held:
                failures.append("%s exited on SIGTERM still owning %d running jobs" % (termed, held))

        # 7. Every job completes.
        def all_completed():
            try:
                return q("SELECT count(*) FILTER (WHERE state = 'completed') = %s FROM baton.jobs",
                         (JOBS,))[0][0]
            except psycopg2.Error:
                return False
        wait_for("every job to complete", all_completed, HARD_SECONDS)

        # 8. Polling finds jobs that become due later; LISTEN wakes idle workers.
        def none_unfinished():
            return q("SELECT count(*) FROM baton.jobs WHERE state IN ('ready', 'running')")[0][0] == 0
        if not failures:
            produce("--count", "3", "--first", "1001", "--work-ms", "10", "--delay", "1.5")
            if wait_for("the delayed jobs", none_unfinished, 8):
                late = q("SELECT max(extract(epoch FROM started_at - run_at)) FROM baton.jobs WHERE payload->>'n' "
                         "IN ('1001', '1002', '1003')")[0][0]
                lines.append("# delayed jobs claimed at most %.2f s after they became due (poll every %d s)"
                             % (late, POLL))
                if late > POLL + 1.0:
                    failures.append("delayed jobs claimed %.2f s after due: the polling fallback did not work" % late)
            waits = []
            for k in range(5):
                time.sleep(0.3)
                produce("--count", "1", "--first", str(2001 + k), "--work-ms", "10")
                if not wait_for("a single job", none_unfinished, 5):
                    break
                waits.append(float(q("SELECT extract(epoch FROM started_at - enqueued_at) FROM baton.jobs "
                                     "WHERE payload->>'n' = %s", (str(2001 + k),))[0][0]))
            if waits:
                lines.append("# idle workers claimed a new job %s s after its enqueue (median %.3f)"
                             % (" ".join("%.3f" % w for w in waits), statistics.median(waits)))
                if statistics.median(waits) > 0.2:
                    failures.append("idle workers took %.2f s (median) to claim a new job: LISTEN did not wake them"
                                    % statistics.median(waits))

        # 9. SIGTERM to the rest.
        for label, p in procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for label, p in procs.items():
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            if label != victim.get("label") and rc != 0:
                failures.append("%s exit %s after SIGTERM (expected 0)" % (label, rc))

        check(q, logs, names, victim, frozen, failures, lines)
        return verdict(failures, "%s example workers completed %d jobs, each once, through a SIGKILL, "
                                 "a SIGSTOP, a SIGTERM and a server restart" % (lang, JOBS),
                       "%s example workers" % lang, began, lines)
    except Exception as e:  # noqa: BLE001 - any surprise is a failure, never a crash without cleanup
        failures.append("test error: %r" % e)
        return verdict(failures, "", "%s example workers" % lang, began, lines)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        if failures:
            for label, path in sorted(logs.items()):
                if os.path.exists(path):
                    tail = open(path, errors="replace").read().splitlines()
                    interesting = [x for x in tail if not re.search(r"event=(claimed|working|completed) ", x)]
                    print("# --- %s (%s lines; not claimed/working/completed):" % (label, len(tail)))
                    for x in interesting[-40:]:
                        print("#   " + x)
        try:
            admin("DROP DATABASE IF EXISTS " + db)
        except psycopg2.Error:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


def check(q, logs, names, victim, frozen, failures, lines):
    jobs = {r[0]: r[1:] for r in q("SELECT id, state, attempt, result, (payload->>'n')::int FROM baton.jobs")}
    states = collections.Counter(s for s, *_ in jobs.values())
    if set(states) != {"completed"}:
        failures.append("job states at the end: %s (every job must be completed)" % dict(states))
    by_name = {v: k for k, v in names.items()}
    completions = collections.defaultdict(list)    # job -> [(label, token)]
    refused = collections.defaultdict(list)
    claimed = collections.defaultdict(set)         # label -> jobs
    counts = collections.Counter()
    for label, path in logs.items():
        for name, f in events(path):
            counts[name] += 1
            if name == "completed":
                completions[int(f["job"])].append((label, int(f["token"])))
            elif name == "lease_lost" and f.get("source") != "heartbeat":
                refused[int(f["job"])].append((label, int(f["token"])))
            elif name == "claimed":
                claimed[label].add(int(f["job"]))
    lines.append("# events: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    attempts = collections.Counter(a for _, a, *_ in jobs.values())
    lines.append("# attempts: " + ", ".join("%d: %d jobs" % kv for kv in sorted(attempts.items())))
    if counts["reconnected"] == 0:
        failures.append("no worker logged a reconnect after the server restart")
    unlogged = 0
    for job_id, (state, attempt, result, n) in jobs.items():
        done = completions.get(job_id, [])
        if len(done) > 1:
            failures.append("job %d completed %d times: %s" % (job_id, len(done), done))
        if state != "completed" or not result:
            continue
        by, token = by_name.get(result.get("by")), int(result.get("token", 0))
        if done:
            if done[0] != (by, token):
                failures.append("job %d: result by %s token %d, but the log says %s" % (job_id, by, token, done[0]))
        elif by != victim.get("label"):
            failures.append("job %d completed by %s (token %d) with no \"completed\" line" % (job_id, by, token))
        else:
            unlogged += 1
        for label, t in refused.get(job_id, []):
            if t == token:
                failures.append("job %d: %s logged its completion as refused, yet its token %d completed it"
                                % (job_id, label, t))
    if frozen:
        job_id = frozen["job"]
        result = jobs[job_id][2] or {}
        if (frozen["label"], frozen["token"]) not in refused.get(job_id, []):
            failures.append("%s, frozen past its lease, did not log its completion of job %d as refused (lease lost)"
                            % (frozen["label"], job_id))
        # A later claim completed it (maybe the frozen worker's own, once it woke).
        if int(result.get("token", 0)) <= frozen["token"]:
            failures.append("job %d, whose lease the frozen worker lost, holds result %s" % (job_id, result))
        lines.append("# the frozen worker's refused completions (lease lost): jobs %s"
                     % " ".join(str(j) for j, r in sorted(refused.items()) if any(x[0] == frozen["label"] for x in r)))
    if unlogged:
        lines.append("# %d completions committed by the killed worker before it could log them" % unlogged)
    if victim:
        state, attempt, result, n = jobs[victim["job"]]
        if attempt < 2 or not result or result.get("by") == names[victim["label"]] \
                or int(result.get("token", 0)) <= victim["token"]:
            failures.append("the killed worker's job %d was not reclaimed: attempt %d, result %s"
                            % (victim["job"], attempt, result))
        orphans = claimed[victim["label"]] - {j for j, d in completions.items() if d and d[0][0] == victim["label"]}
        for job_id in sorted(orphans):
            result = jobs[job_id][2] or {}
            if result.get("by") == names[victim["label"]]:
                failures.append("job %d, held by the killed worker, shows its result" % job_id)
        lines.append("# the killed worker claimed %d jobs it did not complete (%s): all completed by others"
                     % (len(orphans), " ".join(map(str, sorted(orphans)))))
