#!/usr/bin/python3
"""A baton producer in Python with psycopg 3: enqueues --count jobs.

    python3 producer.py --queue email --count 100 [--dsn ...] [--lease 30]

Jobs go in with baton.enqueue_batch, --chunk at a time (one round trip and
one commit per chunk; baton takes the locks in a deadlock-free order). The
commit that makes jobs due sends NOTIFY baton, '<queue>', which wakes the
workers; jobs due later (--delay) send nothing: the workers' polling finds
them. A producer may go through a connection pooler (it does not LISTEN).

Each payload is {"n": i, "ms": --work-ms}; the example worker sleeps that
long. --slow-every K makes every K-th job take --slow-ms instead, and
--fail-every K makes every K-th job fail its first attempt (the worker
hands it back with baton.fail and it is retried after the queue's back-off).
"""
import argparse
import json
import sys
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg.types.json import Jsonb


def payloads(args):
    for i in range(args.first, args.first + args.count):
        p = {"n": i, "ms": args.work_ms}
        if args.slow_every and i % args.slow_every == 0:
            p["ms"] = args.slow_ms
        if args.fail_every and i % args.fail_every == 0:
            p["fail_attempts"] = 1
        yield p


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="", help="libpq connection string (PG* variables apply)")
    p.add_argument("--queue", required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--first", type=int, default=1, help="n of the first job")
    p.add_argument("--lease", type=float, help="create or update the queue with this lease (seconds)")
    p.add_argument("--chunk", type=int, default=500, help="jobs per enqueue_batch (at most 10,000)")
    p.add_argument("--delay", type=float, default=0, help="seconds until the jobs are due")
    p.add_argument("--work-ms", type=int, default=50)
    p.add_argument("--slow-every", type=int, default=0)
    p.add_argument("--slow-ms", type=int, default=1500)
    p.add_argument("--fail-every", type=int, default=0)
    args = p.parse_args()

    run_at = None
    if args.delay > 0:
        # enqueue_batch takes run_at as a timestamp string in each job.
        run_at = (datetime.now(timezone.utc) + timedelta(seconds=args.delay)).isoformat()

    with psycopg.connect(args.dsn, autocommit=True, application_name="baton-producer") as conn:
        if args.lease is not None:
            conn.execute("SELECT baton.create_queue(%s, lease => %s)",
                         (args.queue, timedelta(seconds=args.lease)))
        ids = []
        batch = []
        for payload in payloads(args):
            job = {"payload": payload}
            if run_at:
                job["run_at"] = run_at
            batch.append(job)
            if len(batch) == args.chunk:
                ids += enqueue(conn, args.queue, batch)
                batch = []
        if batch:
            ids += enqueue(conn, args.queue, batch)
    print(json.dumps({"queue": args.queue, "enqueued": len(ids),
                      "first_id": min(ids, default=None), "last_id": max(ids, default=None)}))
    return 0


def enqueue(conn, queue, jobs):
    # Jsonb() wraps the Python list: the whole batch is one jsonb parameter.
    rows = conn.execute("SELECT id FROM baton.enqueue_batch(%s, %s) ORDER BY ord",
                        (queue, Jsonb(jobs))).fetchall()
    return [r[0] for r in rows]


if __name__ == "__main__":
    sys.exit(main())
