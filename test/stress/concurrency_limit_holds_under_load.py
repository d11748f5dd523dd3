#!/usr/bin/python3
"""The concurrency limit holds under load: 5 worker processes x 10 threads,
each thread with its own autocommit connection, claim keyed jobs from two
queues that share concurrency keys (keys are global across queues), run each
job for 20-80 ms and complete it (sometimes with complete_and_claim).

Every job's start is recorded right after the claim that took it returned,
and its end right before the call that completes it is sent, with
CLOCK_MONOTONIC (time.monotonic(), one clock for every process of the
machine). The measured interval therefore lies inside the time the job held
its slot (from the claim's commit to the complete's commit), so at no instant
may more intervals of one key overlap than the key has slots.

Passes when, for every key, the maximum number of jobs in flight never
exceeds its limit, keys with two or more slots run at least two jobs side
by side and one of them fills all its slots at once (which shows the limit
is not just an accident of low load; how close every key comes depends on
the machine's load), keyless jobs are not held back, every job was claimed
once and completed once (attempt 1, state completed), and nothing errored.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER exported; superuser).
"""
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import traceback

import psycopg2
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from common import admin, verdict  # noqa: E402

DB = "stress_concurrency_limit"
QUEUES = ("limit_a", "limit_b")
PROCS = 5
THREADS = 10
RUN_MIN, RUN_MAX = 0.020, 0.080
# No lease may expire during the test: a reclaimed job would be a second
# holder of a slot that the first one's measured interval still covers.
LEASE = "60 seconds"
HARD_SECONDS = 60.0          # the workers give up after this (a failure)
SESSION = "-c statement_timeout=20s -c client_min_messages=warning"

# key -> slots set with baton.set_limit (None: never set, the default is 1).
LIMITS = {
    "tenant:one-a": 1,
    "tenant:one-b": 1,
    "tenant:two": 2,
    "tenant:three": 3,
    "tenant:five": 5,
    "tenant:default-x": None,
    "tenant:default-y": None,
    "tenant:default-z": None,
}
JOBS_PER_SLOT = 38           # each key keeps all its slots busy for ~2 s
KEYLESS_JOBS = 40


def slots(key):
    return LIMITS[key] if LIMITS[key] is not None else 1


def connect():
    conn = psycopg2.connect(dbname=DB, options=SESSION)
    conn.autocommit = True
    return conn


# ---------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------

def worker_thread(pindex, tindex, start, deadline, res, lock):
    rnd = random.Random((os.getpid() << 8) + tindex)
    name = "limit-w%d.%d:%d" % (pindex, tindex, os.getpid())
    records, errors, problems = [], [], []
    counts = {"claims": 0, "empty": 0, "completes": 0, "complete_and_claims": 0}
    try:
        conn = connect()
        cur = conn.cursor()
        start.wait()
        held = []            # [(id, token, queue, key, start)] claimed, not yet run
        while True:
            if time.monotonic() > deadline:
                errors.append("%s: gave up after %.0f s with jobs left" % (name, HARD_SECONDS))
                break
            if not held:
                queue = rnd.choice(QUEUES)
                n = rnd.choice((1, 1, 1, 2, 3))
                cur.execute("SELECT id, lease_token, concurrency_key FROM baton.claim(%s, %s, %s, %s)",
                            (queue, name, n, LEASE))
                rows = cur.fetchall()
                t = time.monotonic()
                counts["claims"] += 1
                if len(rows) > n:
                    problems.append("claim(n=%d) returned %d jobs" % (n, len(rows)))
                held = [(i, tok, queue, key, t) for i, tok, key in rows]
                if not held:
                    counts["empty"] += 1
                    cur.execute("SELECT EXISTS (SELECT 1 FROM baton.jobs WHERE state = 'ready')")
                    if not cur.fetchone()[0]:
                        break        # nothing left to claim; the running jobs are others'
                    time.sleep(rnd.uniform(0.010, 0.030))
                    continue
            job_id, token, queue, key, started = held.pop(0)
            time.sleep(rnd.uniform(RUN_MIN, RUN_MAX))
            ended = time.monotonic()           # before the complete is sent
            records.append((job_id, queue, key, started, ended, name))
            if not held and rnd.random() < 0.3:
                # Complete and claim the next jobs in one transaction.
                n = rnd.choice((1, 1, 2))
                cur.execute("SELECT id, lease_token, concurrency_key FROM baton.complete_and_claim("
                            "ARRAY[%s]::bigint[], ARRAY[%s]::bigint[], %s, %s, %s, %s)",
                            (job_id, token, queue, name, n, LEASE))
                rows = cur.fetchall()
                t = time.monotonic()
                counts["complete_and_claims"] += 1
                counts["claims"] += 1
                if len(rows) > n:
                    problems.append("complete_and_claim(n=%d) returned %d jobs" % (n, len(rows)))
                held = [(i, tok, queue, k, t) for i, tok, k in rows]
            else:
                cur.execute("SELECT baton.complete(%s, %s)", (job_id, token))
                ok = cur.fetchone()[0]
                counts["completes"] += 1
                if not ok:
                    problems.append("complete(%d, %d) of a job %s holds returned false" % (job_id, token, name))
        conn.close()
    except Exception:
        errors.append("%s: %s" % (name, traceback.format_exc()))
    with lock:
        res["records"] += records
        res["errors"] += errors
        res["problems"] += problems
        for k, v in counts.items():
            res[k] = res.get(k, 0) + v


def worker_process(pindex, start, deadline, out):
    res = {"records": [], "errors": [], "problems": []}
    lock = threading.Lock()
    try:
        threads = [threading.Thread(target=worker_thread, args=(pindex, t, start, deadline, res, lock))
                   for t in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except Exception:
        res["errors"].append(traceback.format_exc())
    out.put(res)


# ---------------------------------------------------------------------------

def max_in_flight(intervals):
    """The largest number of intervals open at one instant (an interval that
    ends at the instant another starts does not overlap it), and when."""
    events = [(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals]
    events.sort(key=lambda ev: (ev[0], ev[1]))    # ends before starts at a tie
    cur = best = 0
    at = None
    for t, d in events:
        cur += d
        if cur > best:
            best, at = cur, t
    return best, at


def main():
    began = time.time()
    admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
    admin("CREATE DATABASE %s" % DB)
    failures = []
    lines, records, errors, problems = [], [], [], []
    claims = empty = cac = 0
    run_seconds = 0.0
    try:
        admin("CREATE EXTENSION baton", dbname=DB)
        for q in QUEUES:
            admin("SELECT baton.create_queue(%s, lease => %s)", (q, LEASE), dbname=DB)
        for key, n in LIMITS.items():
            if n is not None:
                admin("SELECT baton.set_limit(%s, %s)", (key, n), dbname=DB)

        # Jobs of every key in both queues, interleaved in random order.
        rnd = random.Random(20240601)
        jobs = [(rnd.choice(QUEUES), key) for key in LIMITS for _ in range(JOBS_PER_SLOT * slots(key))]
        jobs += [(rnd.choice(QUEUES), None) for _ in range(KEYLESS_JOBS)]
        rnd.shuffle(jobs)
        conn = psycopg2.connect(dbname=DB)
        with conn, conn.cursor() as cur:
            for i, (q, key) in enumerate(jobs):
                cur.execute("SELECT baton.enqueue(%s, %s, concurrency_key => %s)",
                            (q, '{"n": %d}' % i, key))
        conn.close()
        expected = {key: sum(1 for _, k in jobs if k == key) for key in list(LIMITS) + [None]}

        ctx = mp.get_context("fork")
        out = ctx.Queue()
        start = ctx.Event()
        deadline = time.monotonic() + 2.0 + HARD_SECONDS
        ps = [ctx.Process(target=worker_process, args=(p, start, deadline, out)) for p in range(PROCS)]
        for p in ps:
            p.start()
        time.sleep(2.0)      # time to open 50 connections
        run_began = time.monotonic()
        start.set()
        results = []
        limit = deadline + 20
        while len(results) < len(ps) and time.monotonic() < limit:
            try:
                results.append(out.get(timeout=1))
            except Exception:
                pass
        run_seconds = time.monotonic() - run_began
        for p in ps:
            p.join(timeout=max(0.1, limit - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join()
        if len(results) < len(ps):
            failures.append("%d of %d worker processes reported nothing (hung or died)"
                            % (len(ps) - len(results), len(ps)))

        records = [r for res in results for r in res["records"]]
        errors = [e for res in results for e in res["errors"]]
        problems = [p for res in results for p in res["problems"]]
        claims = sum(res.get("claims", 0) for res in results)
        empty = sum(res.get("empty", 0) for res in results)
        cac = sum(res.get("complete_and_claims", 0) for res in results)
        for e in errors[:10]:
            failures.append("error: " + e)
        if len(errors) > 10:
            failures.append("... and %d more errors" % (len(errors) - 10))
        for p in problems[:10]:
            failures.append("wrong result: " + p)
        if len(problems) > 10:
            failures.append("... and %d more wrong results" % (len(problems) - 10))

        # Every job ran once.
        ids = [r[0] for r in records]
        if len(ids) != len(set(ids)):
            failures.append("%d jobs were handed out more than once" % (len(ids) - len(set(ids))))
        if len(set(ids)) != len(jobs):
            failures.append("%d jobs ran, %d were enqueued" % (len(set(ids)), len(jobs)))
        states = admin("SELECT state, count(*), min(attempt), max(attempt) FROM baton.jobs GROUP BY 1",
                       dbname=DB)
        if [(s, c, lo, hi) for s, c, lo, hi in states] != [("completed", len(jobs), 1, 1)]:
            failures.append("jobs are not all completed on the first attempt: %r" % states)
        left = admin("SELECT count(*) FROM baton.holders", dbname=DB)[0][0]
        if left:
            failures.append("baton.holders still lists %d slots" % left)

        # The limit per key: never exceeded; two or more jobs of a key with
        # two or more slots side by side; and some such key with all its
        # slots busy at once (how close the others come is up to the load).
        lines = []
        full = False
        for key in list(LIMITS) + [None]:
            iv = [(s, e) for (_, _, k, s, e, _) in records if k == key]
            got, at = max_in_flight(iv)
            per_queue = {q: sum(1 for r in records if r[2] == key and r[1] == q) for q in QUEUES}
            if key is None:
                lines.append("  (no key): %d jobs, max %d in flight" % (len(iv), got))
                if got < 2:
                    failures.append("keyless jobs never ran side by side (max %d in flight)" % got)
                continue
            lim = slots(key)
            lines.append("  %-17s limit %d%s: %3d jobs (%s), max %d in flight"
                         % (key, lim, "" if LIMITS[key] is not None else " (default)", len(iv),
                            ", ".join("%s %d" % kv for kv in per_queue.items()), got))
            if len(iv) != expected[key]:
                failures.append("key %s: %d jobs ran, %d were enqueued" % (key, len(iv), expected[key]))
            if got > lim:
                over = [r for r in records if r[2] == key and r[3] < at + 1e-9 and r[4] > at]
                failures.append("key %s: %d jobs in flight at once, limit %d: %s"
                                % (key, got, lim, ["job %d (%s) by %s" % (r[0], r[1], r[5]) for r in over]))
            elif got < min(lim, 2):
                failures.append("key %s: at most %d jobs in flight, limit %d" % (key, got, lim))
            full |= lim > 1 and got == lim
        if not full:
            failures.append("no key with two or more slots ever had them all busy at once")
    finally:
        admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)

    print("%d processes x %d threads, queues %s sharing %d keys: %d jobs ran in %.1f s; "
          "%d claims (%d empty, %d by complete_and_claim); errors=%d, wrong results=%d"
          % (PROCS, THREADS, "/".join(QUEUES), len(LIMITS), len(records), run_seconds, claims, empty, cac,
             len(errors), len(problems)))
    return verdict(failures, "every key reached its limit and never exceeded it",
                   "the concurrency limit did not hold", began, lines)


if __name__ == "__main__":
    sys.exit(main())
