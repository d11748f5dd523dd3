#!/usr/bin/python3
"""Batches never deadlock: 8 processes call baton.enqueue_batch with heavily
overlapping unique keys in random orders (keep and replace, in-batch
duplicates, keyless rows) while 4 workers claim and complete_batch their jobs
in random id order (sometimes after a heartbeat), for a bounded time.

Passes when baton had zero deadlocks and zero errors, every result row came
back in input order with a consistent id, and the queue is consistent at the
end. Then the same producer pattern runs with a naive unsorted
INSERT ... ON CONFLICT DO UPDATE on a plain table and prints how many
deadlocks it had: information only (proof that this test can see deadlocks),
never a failure.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER exported; superuser).
"""
import multiprocessing as mp
import os
import random
import sys
import time
import traceback

import psycopg2
import psycopg2.extras
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from common import admin, verdict  # noqa: E402

DB = "stress_batches"
QUEUE = "stress"
ENQUEUERS = 8
WORKERS = 4
BATON_SECONDS = 7.0
NAIVE_PROCS = 8
NAIVE_SECONDS = 3.0
DEADLOCK = "40P01"
# A deadlock is found after deadlock_timeout: keep it short so that any cycle
# is reported inside the bounded run. statement_timeout guards against hangs.
SESSION = "-c deadlock_timeout=50ms -c statement_timeout=20s -c client_min_messages=warning"

# A small shared key space, so that batches overlap heavily; the keys mix
# cases, punctuation and multibyte characters, whose byte order (COLLATE "C")
# differs from the database collation's order.
KEYS = ["k%03d" % i for i in range(240)]
KEYS += ["K%02d" % i for i in range(20)]
KEYS += ["a-%d" % i for i in range(10)] + ["A_%d" % i for i in range(10)]
KEYS += ["é%d" % i for i in range(10)] + ["ß%d" % i for i in range(5)] + ["日本%d" % i for i in range(5)]
assert len(set(KEYS)) == 300


def connect(dbname=DB):
    conn = psycopg2.connect(dbname=dbname, options=SESSION)
    conn.autocommit = False
    return conn


def pgcode(exc):
    return getattr(exc, "pgcode", None) or "?????"


def failed(res, call, exc):
    """Counts a failed call: a deadlock (40P01) or any other error."""
    if pgcode(exc) == DEADLOCK:
        res["deadlocks"] += 1
        res["deadlocks_by"][call] = res["deadlocks_by"].get(call, 0) + 1
        res.setdefault("deadlock_sample", "%s: %s" % (call, " | ".join(str(exc).strip().splitlines()[:4])))
    else:
        res["errors"].append("%s: %s %s" % (call, pgcode(exc), str(exc).strip()))


# ---------------------------------------------------------------------------
# baton producers
# ---------------------------------------------------------------------------

def check_batch(cur, jobs, mode, rows, marks):
    """Checks one enqueue_batch result inside its own transaction (our own
    writes visible, the jobs we inserted or replaced still locked by us).
    Returns a list of problems (empty when all is well)."""
    problems = []
    n = len(jobs)
    if len(rows) != n:
        return ["%d rows back for %d jobs" % (len(rows), n)]
    for i, (ord_, id_, ins) in enumerate(rows):
        if ord_ != i + 1:
            problems.append("row %d has ord %s (not input order)" % (i + 1, ord_))
        if id_ is None or ins is None:
            problems.append("row %d: NULL id or inserted" % (i + 1))
    if problems:
        return problems
    first = {}       # key -> index of its first occurrence
    key_id = {}      # key -> id
    id_key = {}      # id -> key (None for keyless)
    for i, job in enumerate(jobs):
        key = job.get("unique_key")
        _, id_, ins = rows[i]
        if key is None:
            if not ins:
                problems.append("keyless row %d: inserted = false" % (i + 1))
        elif key in first:
            if id_ != key_id[key]:
                problems.append("row %d: key %r has id %d, its first occurrence (row %d) %d"
                                % (i + 1, key, id_, first[key] + 1, key_id[key]))
            if ins:
                problems.append("row %d: a repeated key %r reports inserted = true" % (i + 1, key))
            continue
        else:
            first[key] = i
            key_id[key] = id_
        if id_ in id_key and id_key[id_] != key:
            problems.append("row %d: id %d returned for %r and for %r" % (i + 1, id_, key, id_key[id_]))
        if id_ in id_key and key is None:
            problems.append("row %d: keyless row shares id %d" % (i + 1, id_))
        id_key[id_] = key
    if problems:
        return problems
    cur.execute("SELECT id, queue, unique_key, state, payload->>'m' FROM baton.jobs WHERE id = ANY (%s)",
                (list(id_key),))
    found = {r[0]: r[1:] for r in cur.fetchall()}
    for id_, key in id_key.items():
        if id_ not in found:
            problems.append("id %d (key %r) is no job" % (id_, key))
            continue
        queue, jkey, state, mark = found[id_]
        if queue != QUEUE or jkey != key:
            problems.append("id %d returned for key %r is a job of queue %r with key %r" % (id_, key, queue, jkey))
    for i, job in enumerate(jobs):
        key = job.get("unique_key")
        if key is not None and first[key] != i:
            continue
        _, id_, ins = rows[i]
        if id_ not in found:
            continue
        _, _, state, mark = found[id_]
        ours = marks[i]
        if ins:
            if state != "ready" or mark != ours:
                problems.append("row %d inserted = true, but job %d is %s with payload mark %r (ours %r)"
                                % (i + 1, id_, state, mark, ours))
        elif mode == "keep" and mark == ours:
            problems.append("row %d: keep reports inserted = false for job %d that carries our payload" % (i + 1, id_))
        elif mode == "replace" and state == "ready" and mark != ours:
            # A ready holder is replaced, and locked by us until we commit:
            # it must carry the first occurrence's payload.
            problems.append("row %d: replace left ready job %d (key %r) with payload mark %r, not ours %r"
                            % (i + 1, id_, key, mark, ours))
    return problems


def enqueuer(index, start, deadline, out):
    rnd = random.Random(os.getpid() * 7919 + index)
    res = {"role": "enqueuer", "batches": 0, "rows": 0, "deadlocks": 0, "deadlocks_by": {}, "errors": [],
           "problems": [], "inserted": [], "modes": {"keep": 0, "replace": 0}}
    try:
        conn = connect()
        cur = conn.cursor()
        start.wait()
        batch_no = 0
        while time.time() < deadline:
            batch_no += 1
            size = rnd.randint(50, 200)
            jobs = []
            for o in range(1, size + 1):
                job = {"payload": {"m": "%d:%d:%d" % (index, batch_no, o)}}   # unique mark
                r = rnd.random()
                if r < 0.10:
                    pass                                    # keyless
                elif r < 0.25 and jobs:
                    prior = [j["unique_key"] for j in jobs if "unique_key" in j]
                    job["unique_key"] = rnd.choice(prior) if prior else rnd.choice(KEYS)  # in-batch duplicate
                else:
                    job["unique_key"] = rnd.choice(KEYS)
                if rnd.random() < 0.3:
                    job["priority"] = rnd.randint(-2, 2)
                if rnd.random() < 0.1:
                    job["run_at"] = "2000-01-01T00:00:00Z"
                jobs.append(job)
            rnd.shuffle(jobs)                               # random key order
            marks = [j["payload"]["m"] for j in jobs]
            mode = rnd.choice(("keep", "replace"))
            try:
                cur.execute("SELECT ord, id, inserted FROM baton.enqueue_batch(%s, %s, %s)",
                            (QUEUE, psycopg2.extras.Json(jobs), mode))
                rows = cur.fetchall()
                problems = check_batch(cur, jobs, mode, rows, marks)
                conn.commit()
            except psycopg2.Error as e:
                conn.rollback()
                failed(res, "enqueue_batch(%s)" % mode, e)
                continue
            res["batches"] += 1
            res["rows"] += len(jobs)
            res["modes"][mode] += 1
            res["problems"] += ["batch %d (%s): %s" % (batch_no, mode, p) for p in problems]
            res["inserted"] += [id_ for (_, id_, ins) in rows if ins]
        conn.close()
    except Exception:
        res["errors"].append(traceback.format_exc())
    out.put(res)


# ---------------------------------------------------------------------------
# baton workers
# ---------------------------------------------------------------------------

def worker(index, start, deadline, out):
    rnd = random.Random(os.getpid() * 104729 + index)
    name = "stress-w%d:%d:%08x" % (index, os.getpid(), rnd.getrandbits(32))
    res = {"role": "worker", "claims": 0, "claimed": 0, "completions": 0, "heartbeats": 0,
           "deadlocks": 0, "deadlocks_by": {}, "errors": [], "problems": [], "completed": []}
    try:
        conn = connect()
        cur = conn.cursor()
        start.wait()
        owned = {}   # id -> lease token: claimed, not yet completed
        while time.time() < deadline:
            n = rnd.randint(10, 50)
            try:
                cur.execute("SELECT id, lease_token FROM baton.claim(%s, %s, %s)", (QUEUE, name, n))
                jobs = cur.fetchall()
                conn.commit()
            except psycopg2.Error as e:
                conn.rollback()
                failed(res, "claim", e)
                continue
            res["claims"] += 1
            res["claimed"] += len(jobs)
            for id_, token in jobs:
                if id_ in owned:
                    res["problems"].append("claim returned job %d, which this worker owns already" % id_)
                owned[id_] = token
            if not owned:
                time.sleep(0.005)
                continue
            if rnd.random() < 0.3:
                try:
                    cur.execute("SELECT id FROM baton.heartbeat(%s)", (name,))
                    beat = {r[0] for r in cur.fetchall()}
                    conn.commit()
                    res["heartbeats"] += 1
                    if beat != set(owned):
                        res["problems"].append("heartbeat extended %d jobs, the worker owns %d (%d in common)"
                                               % (len(beat), len(owned), len(beat & set(owned))))
                except psycopg2.Error as e:
                    conn.rollback()
                    failed(res, "heartbeat", e)
            pairs = list(owned.items())
            rnd.shuffle(pairs)                       # random id order
            if rnd.random() < 0.2:
                pairs.insert(rnd.randrange(len(pairs) + 1), rnd.choice(pairs))   # a duplicate counts once
            try:
                cur.execute("SELECT * FROM baton.complete_batch(%s::bigint[], %s::bigint[])",
                            ([p[0] for p in pairs], [p[1] for p in pairs]))
                done = [r[0] for r in cur.fetchall()]
                conn.commit()
            except psycopg2.Error as e:
                conn.rollback()
                failed(res, "complete_batch", e)
                continue                             # still owned: completed next time round
            if len(done) != len(set(done)) or set(done) != set(owned):
                res["problems"].append("complete_batch of %d owned jobs completed %d (%d distinct, %d not ours)"
                                       % (len(owned), len(done), len(set(done)), len(set(done) - set(owned))))
            res["completions"] += len(done)
            res["completed"] += done
            owned = {}
        # Whatever is still owned (a failed last complete_batch) is finished
        # here, so that the final checks see every claimed job completed.
        if owned:
            try:
                cur.execute("SELECT * FROM baton.complete_batch(%s::bigint[], %s::bigint[])",
                            (list(owned), list(owned.values())))
                done = [r[0] for r in cur.fetchall()]
                conn.commit()
                res["completions"] += len(done)
                res["completed"] += done
            except psycopg2.Error as e:
                conn.rollback()
                failed(res, "complete_batch", e)
        conn.close()
    except Exception:
        res["errors"].append(traceback.format_exc())
    out.put(res)


# ---------------------------------------------------------------------------
# naive control: unsorted INSERT ... ON CONFLICT DO UPDATE
# ---------------------------------------------------------------------------

NAIVE_KEYS = KEYS[:100]


def naive(index, start, deadline, out):
    rnd = random.Random(os.getpid() * 31337 + index)
    res = {"role": "naive", "batches": 0, "deadlocks": 0, "deadlocks_by": {}, "errors": []}
    try:
        conn = connect()
        cur = conn.cursor()
        start.wait()
        while time.time() < deadline:
            keys = rnd.sample(NAIVE_KEYS, rnd.randint(10, 40))   # distinct, random order
            try:
                cur.execute("INSERT INTO naive (k, v) SELECT * FROM unnest(%s::text[], %s::int[])"
                            " ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                            (keys, [rnd.randint(0, 1000) for _ in keys]))
                conn.commit()
                res["batches"] += 1
            except psycopg2.Error as e:
                conn.rollback()
                failed(res, "naive INSERT", e)
        conn.close()
    except Exception:
        res["errors"].append(traceback.format_exc())
    out.put(res)


# ---------------------------------------------------------------------------

def run(procs, seconds):
    """Starts (target, index) processes together; returns their results."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start = ctx.Event()
    deadline = time.time() + 1.0 + seconds      # time to connect first
    ps = [ctx.Process(target=t, args=(i, start, deadline, out)) for t, i in procs]
    for p in ps:
        p.start()
    time.sleep(1.0)
    start.set()
    results = []
    limit = deadline + 30
    while len(results) < len(ps) and time.time() < limit:
        try:
            results.append(out.get(timeout=1))
        except Exception:
            pass
    for p in ps:
        p.join(timeout=max(0.1, limit - time.time()))
        if p.is_alive():
            p.terminate()
            p.join()
    if len(results) < len(ps):
        results.append({"role": "harness", "errors": ["%d of %d processes reported nothing (hung or died)"
                                                       % (len(ps) - len(results), len(ps))],
                        "deadlocks": 0, "deadlocks_by": {}, "problems": []})
    return results


def main():
    began = time.time()
    admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
    admin("CREATE DATABASE %s" % DB)
    failures = []
    try:
        admin("CREATE EXTENSION baton", dbname=DB)
        admin("SELECT baton.create_queue('%s', lease => '5 minutes')" % QUEUE, dbname=DB)

        results = run([(enqueuer, i) for i in range(ENQUEUERS)] + [(worker, i) for i in range(WORKERS)],
                      BATON_SECONDS)
        enq = [r for r in results if r["role"] == "enqueuer"]
        wrk = [r for r in results if r["role"] == "worker"]
        deadlocks = sum(r["deadlocks"] for r in results)
        errors = [e for r in results for e in r["errors"]]
        problems = [p for r in results for p in r["problems"]]
        batches = sum(r["batches"] for r in enq)
        rows = sum(r["rows"] for r in enq)
        keep = sum(r["modes"]["keep"] for r in enq)
        replace = sum(r["modes"]["replace"] for r in enq)
        claims = sum(r["claims"] for r in wrk)
        claimed = sum(r["claimed"] for r in wrk)
        beats = sum(r["heartbeats"] for r in wrk)
        inserted = [i for r in enq for i in r["inserted"]]
        completed = [i for r in wrk for i in r["completed"]]

        if deadlocks:
            by = {}
            for r in results:
                for call, k in r["deadlocks_by"].items():
                    by[call] = by.get(call, 0) + k
            failures.append("baton: %d deadlocks (40P01): %s" % (
                deadlocks, ", ".join("%s %d" % kv for kv in sorted(by.items()))))
            failures.append("first deadlock: " + next(r["deadlock_sample"] for r in results if "deadlock_sample" in r))
        for e in errors[:20]:
            failures.append("error: " + e)
        if len(errors) > 20:
            failures.append("... and %d more errors" % (len(errors) - 20))
        for p in problems[:20]:
            failures.append("wrong result: " + p)
        if len(problems) > 20:
            failures.append("... and %d more wrong results" % (len(problems) - 20))
        if len(enq) != ENQUEUERS or len(wrk) != WORKERS:
            failures.append("only %d enqueuers and %d workers reported" % (len(enq), len(wrk)))
        if batches < ENQUEUERS or claims < WORKERS or not completed:
            failures.append("too little work to prove anything: %d batches, %d claims, %d completions"
                            % (batches, claims, len(completed)))

        # Global consistency.
        dup_keys = admin("SELECT unique_key, count(*) FROM baton.jobs WHERE queue = '%s'"
                         " AND state IN ('ready', 'running') AND unique_key IS NOT NULL"
                         " GROUP BY 1 HAVING count(*) > 1" % QUEUE, dbname=DB)
        if dup_keys:
            failures.append("unfinished jobs share a unique_key: %r" % dup_keys[:5])
        db_ids = {r[0] for r in admin("SELECT id FROM baton.jobs WHERE queue = '%s'" % QUEUE, dbname=DB)}
        if len(inserted) != len(set(inserted)):
            failures.append("%d job ids were reported inserted by more than one row"
                            % (len(inserted) - len(set(inserted))))
        if set(inserted) != db_ids:
            failures.append("jobs in the queue (%d) are not those reported inserted (%d): %d missing, %d unreported"
                            % (len(db_ids), len(set(inserted)), len(set(inserted) - db_ids),
                               len(db_ids - set(inserted))))
        db_done = {r[0] for r in admin("SELECT id FROM baton.jobs WHERE queue = '%s' AND state = 'completed'"
                                       % QUEUE, dbname=DB)}
        if len(completed) != len(set(completed)):
            failures.append("%d jobs were completed twice" % (len(completed) - len(set(completed))))
        if db_done != set(completed):
            failures.append("completed jobs in the queue (%d) differ from those the workers completed (%d)"
                            % (len(db_done), len(set(completed))))
        running = admin("SELECT count(*) FROM baton.jobs WHERE queue = '%s' AND state = 'running'" % QUEUE, dbname=DB)[0][0]
        if running and not errors:
            failures.append("%d jobs still running after every worker completed what it claimed" % running)
        others = admin("SELECT state, count(*) FROM baton.jobs WHERE queue = '%s'"
                       " AND state NOT IN ('ready', 'running', 'completed') GROUP BY 1" % QUEUE, dbname=DB)
        if others:
            failures.append("jobs in unexpected states: %r" % others)
        baton_elapsed = time.time() - began

        # The naive control.
        admin("CREATE TABLE naive (k text PRIMARY KEY, v int)", dbname=DB)
        admin("INSERT INTO naive SELECT k, 0 FROM unnest(ARRAY[%s]) k"
              % ",".join("'%s'" % k for k in NAIVE_KEYS), dbname=DB)
        nres = run([(naive, i) for i in range(NAIVE_PROCS)], NAIVE_SECONDS)
        naive_deadlocks = sum(r["deadlocks"] for r in nres)
        naive_batches = sum(r.get("batches", 0) for r in nres)
        naive_errors = [e for r in nres for e in r["errors"]]
    finally:
        admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)

    print("baton: %d enqueue_batch calls (%d keep, %d replace), %d rows, %d jobs inserted; "
          "%d claims (%d jobs), %d heartbeats, %d completions; deadlocks=%d, errors=%d, wrong results=%d (%.1f s)"
          % (batches, keep, replace, rows, len(set(inserted)), claims, claimed, beats, len(completed),
             deadlocks, len(errors), len(problems), baton_elapsed))
    print("naive unsorted INSERT ... ON CONFLICT: %d deadlocks in %d committed batches "
          "(information: shows the test can see deadlocks)%s"
          % (naive_deadlocks, naive_batches,
             "; other errors: %s" % naive_errors[:3] if naive_errors else ""))
    return verdict(failures, "baton batches never deadlocked", "batches deadlocked or went wrong", began)


if __name__ == "__main__":
    sys.exit(main())
