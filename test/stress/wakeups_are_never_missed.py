#!/usr/bin/python3
"""Wake-ups are never missed, and cost nothing when nobody waits.

Three idle workers call baton.listen('wake') once, then loop: claim one job;
when the claim finds nothing, wait for a notification on the queue's channel
for up to POLL seconds (a worker's fallback poll). Four producers enqueue
jobs one by one, in small transactions and in batches, with random pauses so
that the workers keep going idle and waking up while commits are in flight.

Each job's wake-up latency is the time from its producer's COMMIT returning
to a worker's claim returning it (one monotonic clock: every thread is in
this process). A missed wake-up leaves a job waiting for the fallback poll:
it shows as a latency of about POLL seconds, far above the bound.

Then, with no worker idle on the queue (the workers have stopped; a plain
LISTEN session, not registered through baton.listen, watches its channel),
enqueues send no NOTIFY at all; and a worker idle on another queue hears
nothing from this one.

Passes when every job was completed exactly once, every latency is below
BOUND seconds, and the silent phase delivered no notification.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER exported; superuser).
"""
import os
import random
import select
import sys
import threading
import time

import psycopg2
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from common import admin, verdict  # noqa: E402

DB = "stress_wakeups"
WORKERS = 3
PRODUCERS = 4
JOBS_PER_PRODUCER = 60
POLL = 6.0      # the workers' fallback poll: a missed wake-up costs this
BOUND = 2.0     # every wake-up must come well before it
SESSION = "-c statement_timeout=20s -c client_min_messages=warning"


def connect():
    conn = psycopg2.connect(dbname=DB, options=SESSION)
    conn.autocommit = True
    return conn


def wait_notify(conn, timeout):
    """Notifications that arrive within timeout (returns at the first)."""
    if not conn.notifies and select.select([conn], [], [], timeout)[0]:
        conn.poll()
    got, conn.notifies[:] = list(conn.notifies), []
    return got


class Run:
    def __init__(self):
        self.lock = threading.Lock()
        self.committed = {}   # job id -> monotonic time its COMMIT returned
        self.claimed = {}     # job id -> monotonic time a claim returned it
        self.completed = {}   # job id -> times completed
        self.total = PRODUCERS * JOBS_PER_PRODUCER
        self.errors = []


def producer(run, index):
    rnd = random.Random(index)
    conn = connect()
    cur = conn.cursor()
    made = 0
    try:
        while made < JOBS_PER_PRODUCER:
            time.sleep(rnd.uniform(0, 0.08))
            kind = rnd.random()
            if kind < 0.5:
                cur.execute("SELECT baton.enqueue('wake', '{}')")
                ids = [cur.fetchone()[0]]
            elif kind < 0.8:
                cur.execute("BEGIN")
                ids = []
                for _ in range(2):
                    cur.execute("SELECT baton.enqueue('wake', '{}')")
                    ids.append(cur.fetchone()[0])
                cur.execute("COMMIT")
            else:
                cur.execute("SELECT id FROM baton.enqueue_batch('wake', '[{}, {}, {}]')")
                ids = [r[0] for r in cur.fetchall()]
            now = time.monotonic()
            with run.lock:
                for i in ids:
                    run.committed[i] = now
            made += len(ids)
    except Exception as e:  # noqa: BLE001
        run.errors.append("producer %d: %r" % (index, e))
    finally:
        conn.close()


def worker(run, index, stop):
    conn = connect()
    cur = conn.cursor()
    try:
        cur.execute("SELECT baton.listen('wake')")
        while not stop.is_set():
            cur.execute("SELECT id, lease_token FROM baton.claim('wake', %s)", ("w%d" % index,))
            row = cur.fetchone()
            if row is None:
                wait_notify(conn, POLL)
                continue
            now = time.monotonic()
            with run.lock:
                run.claimed.setdefault(row[0], now)
            cur.execute("SELECT baton.complete(%s, %s)", row)
            if cur.fetchone()[0]:
                with run.lock:
                    run.completed[row[0]] = run.completed.get(row[0], 0) + 1
    except Exception as e:  # noqa: BLE001
        run.errors.append("worker %d: %r" % (index, e))
    finally:
        conn.close()


def silent_phase(failures):
    """No idle session on 'wake': its commits notify nobody."""
    watcher = connect()
    watcher.cursor().execute('LISTEN "baton.wake"')
    other = connect()  # idle on another queue: must not hear 'wake'
    oc = other.cursor()
    oc.execute("SELECT baton.listen('wake_other')")
    oc.execute("SELECT count(*) FROM baton.claim('wake_other', 'idle')")
    prod = connect()
    pc = prod.cursor()
    for _ in range(20):
        pc.execute("SELECT baton.enqueue('wake', '{}')")
    pc.execute("SELECT count(*) FROM baton.enqueue_batch('wake', '[{}, {}]')")
    heard = wait_notify(watcher, 1.0) + wait_notify(other, 0.2)
    if heard:
        failures.append("with nobody idle on 'wake', %d notifications were sent: %s"
                        % (len(heard), [(n.channel, n.payload) for n in heard]))
    # And the same watcher does hear one once a worker is idle on 'wake'.
    w = connect()
    wc = w.cursor()
    wc.execute("SELECT baton.listen('wake')")
    wc.execute("SELECT count(*) FROM baton.claim('wake', 'drain', 1000)")
    wc.execute("SELECT count(*) FROM baton.claim('wake', 'idle')")
    pc.execute("SELECT baton.enqueue('wake', '{}')")
    if not wait_notify(watcher, 2.0):
        failures.append("a worker idle on 'wake' was not notified (the silent check means nothing)")
    for c in (watcher, other, prod, w):
        c.close()


def main():
    began = time.time()
    admin("DROP DATABASE IF EXISTS %s" % DB)
    admin("CREATE DATABASE %s" % DB)
    admin("CREATE EXTENSION baton", dbname=DB)
    admin("SELECT baton.create_queue('wake'), baton.create_queue('wake_other')", dbname=DB)

    run = Run()
    stop = threading.Event()
    workers = [threading.Thread(target=worker, args=(run, i, stop)) for i in range(WORKERS)]
    for t in workers:
        t.start()
    time.sleep(0.5)  # every worker listens and is idle
    producers = [threading.Thread(target=producer, args=(run, i)) for i in range(PRODUCERS)]
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    deadline = time.monotonic() + POLL + 5
    while len(run.completed) < len(run.committed) and time.monotonic() < deadline and not run.errors:
        time.sleep(0.1)
    stop.set()
    admin("SELECT pg_notify('baton.wake', 'stop')", dbname=DB)  # wakes the workers to stop
    for t in workers:
        t.join()

    failures = list(run.errors)
    missing = [i for i in run.committed if run.completed.get(i) != 1]
    if missing:
        failures.append("%d jobs not completed exactly once: %s" % (len(missing), missing[:10]))
    latencies = sorted(run.claimed[i] - run.committed[i] for i in run.committed if i in run.claimed)
    slow = [x for x in latencies if x > BOUND]
    if slow:
        failures.append("%d wake-ups took over %.1f s (missed, found by the %g s poll): %s"
                        % (len(slow), BOUND, POLL, ["%.2f" % x for x in slow[:10]]))
    silent_phase(failures)
    admin("DROP DATABASE %s" % DB)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else float("nan")
    lines = ["# %d jobs from %d producers, %d idle workers: wake-up latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
             % (len(run.committed), PRODUCERS, WORKERS, p(0.5), p(0.99), p(1.0))]
    return verdict(failures,
                   "every wake-up came (no job waited for the poll), each job completed once, "
                   "and nobody was notified while nobody waited",
                   "wake-ups were missed or sent for nothing", began, lines)


if __name__ == "__main__":
    sys.exit(main())
