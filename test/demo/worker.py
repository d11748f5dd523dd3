#!/usr/bin/python3
"""A baton worker for `make demo`: claim, work, heartbeat, complete.

Every claim and every complete() is recorded in the same statement as the
baton call (tables demo_claims and demo_completions), so the log the demo
checks can never disagree with what baton granted.

Jobs listed in --hold are the demo's victims: the worker prints "holding",
writes a marker file for demo.sh (which then kills or freezes it) and works
on them for HOLD_SECONDS (first attempt only: whoever reclaims the job just
does it). Jobs with n % 100 == 0 are long too: they outlive the lease and
survive only because the worker heartbeats.
"""
import argparse
import os
import secrets
import socket
import sys
import time

import psycopg2

HOLD_SECONDS = 3.0     # longer than the demo's 2 s lease
HEARTBEAT_EVERY = 0.5  # well inside the lease
MAX_RUNTIME = 45.0     # never outlive the demo, whatever happens

CLAIM = """
WITH c AS (SELECT * FROM baton.claim(%(queue)s, %(worker)s, 1))
INSERT INTO demo_claims (job_id, n, label, worker, token, attempt)
SELECT id, (payload->>'n')::int, %(label)s, %(worker)s, lease_token, attempt FROM c
RETURNING job_id, n, token, attempt"""

COMPLETE = """
INSERT INTO demo_completions (job_id, n, label, worker, token, ok)
VALUES (%(id)s, %(n)s, %(label)s, %(worker)s, %(token)s,
        baton.complete(%(id)s, %(token)s, jsonb_build_object('by', %(label)s::text)))
RETURNING ok"""

UNFINISHED = """
SELECT count(*) FROM baton.jobs WHERE queue = %s AND state IN ('ready', 'running')"""


def say(label, msg):
    print(f"    [{label} pid {os.getpid()}] {msg}", flush=True)


def write_marker(directory, job_id, n, token):
    # Written then renamed, so demo.sh never reads half a file.
    path = os.path.join(directory, f"holding-{n}")
    with open(path + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {job_id} {token}\n")
    os.rename(path + ".tmp", path)


def work(cur, args, worker, job_id, n, token, attempt):
    """Pretend to work; heartbeat while the job outlives a fraction of its lease."""
    if n in args.hold and attempt == 1:
        say(args.label, f"holding job {job_id} (n={n}, token {token}) for {HOLD_SECONDS:.0f} s")
        write_marker(args.markers, job_id, n, token)
        seconds = HOLD_SECONDS
    elif n % 100 == 0:
        seconds = HOLD_SECONDS
    else:
        time.sleep(0.01 + (n % 7) * 0.005)  # 10-40 ms: no heartbeat needed
        return
    deadline = time.monotonic() + seconds
    lost = False
    while time.monotonic() < deadline:
        time.sleep(min(HEARTBEAT_EVERY, max(0.0, deadline - time.monotonic())))
        cur.execute("SELECT id FROM baton.heartbeat(%s)", (worker,))
        if job_id not in {r[0] for r in cur.fetchall()} and not lost:
            # A careful worker would stop here. This one carries on, to show
            # that the fencing token, not the worker's good manners, is what
            # protects the job.
            say(args.label, f"heartbeat no longer covers job {job_id}: lease lost")
            lost = True


def complete(cur, args, worker, job_id, n, token):
    cur.execute(COMPLETE, dict(id=job_id, n=n, label=args.label, worker=worker, token=token))
    ok = cur.fetchone()[0]
    if not ok:
        say(args.label, f"complete(job {job_id}, token {token}) = false: refused, "
                        "another worker owns it now")
    elif n in args.hold or n % 100 == 0:
        say(args.label, f"completed job {job_id} (n={n}) with token {token}")
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--label", required=True)
    p.add_argument("--queue", default="demo")
    p.add_argument("--dsn", default="")
    p.add_argument("--markers", required=True, help="directory for holding-N files")
    p.add_argument("--hold", default="", help="comma-separated job numbers to hold")
    args = p.parse_args()
    args.hold = {int(x) for x in args.hold.split(",") if x}

    # host:pid:random, as the contract asks: heartbeat trusts the name.
    worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    conn = psycopg2.connect(args.dsn, application_name=f"baton-demo-{args.label}")
    conn.autocommit = True  # one statement, one transaction: nothing held between calls
    cur = conn.cursor()

    done = 0
    stop_at = time.monotonic() + MAX_RUNTIME
    while time.monotonic() < stop_at:
        cur.execute(CLAIM, dict(queue=args.queue, worker=worker, label=args.label))
        row = cur.fetchone()
        if row is None:
            # Nothing due. Running jobs may still come back when a lease expires.
            cur.execute(UNFINISHED, (args.queue,))
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.1)
            continue
        job_id, n, token, attempt = row
        if attempt > 1:
            say(args.label, f"reclaimed job {job_id} (n={n}): attempt {attempt}, new token {token}")
        work(cur, args, worker, job_id, n, token, attempt)
        done += complete(cur, args, worker, job_id, n, token)
    else:
        say(args.label, f"gave up after {MAX_RUNTIME:.0f} s")
        return 1
    say(args.label, f"queue empty, exiting after {done} completed jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
