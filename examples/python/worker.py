#!/usr/bin/python3
"""A baton worker in Python with psycopg 3 (Debian 12: python3-psycopg 3.1).

    python3 worker.py --queue email [--dsn "host=... dbname=..."] [--batch 4]
                      [--lease 30] [--poll 1]

What it does, and why (docs/workers.md walks through it):

- One DIRECT connection (not through a transaction-mode pooler, which drops
  LISTEN without an error) that calls baton.listen(queue) once (LISTEN on the
  queue's channel) and runs the loop: from then on, a claim that finds
  nothing registers it as waiting, and the next commit that makes a job due
  sends it a NOTIFY. It also polls every --poll seconds: a job that becomes
  due later (run_at, a retry's back-off, an expired lease) sends no NOTIFY.
- The loop is one call: baton.complete_and_claim(ids, tokens, queue, worker,
  n, lease, results) completes what it finished, with each job's result,
  and claims up to n more, in one transaction. A row with refused = true is
  a completion baton refused: the lease was lost (it expired and another
  worker took the job, or it was cancelled). It is logged as "lease lost".
- A heartbeat thread with its own connection calls baton.heartbeat(worker)
  every lease/3, so that a job longer than its lease is not taken away.
- The worker name is host:pid:random: heartbeat trusts it, so it must be
  unique per process.
- SIGTERM (or SIGINT): stop claiming, finish the job in hand, complete what
  is finished, hand back (fail with retry now) what was claimed but not
  started, exit 0.
- A lost connection (a server restart, a failover): back off, reconnect,
  send again the completions whose outcome is unknown, hand back jobs whose
  claim committed but whose answer never arrived. A job it cannot finish is
  not lost either: its lease runs out and another worker takes it.

Every event is one line on stdout, "event=NAME key=value ...".
"""
import argparse
import os
import random
import secrets
import select
import signal
import socket
import sys
import threading
import time
from datetime import timedelta

import psycopg
from psycopg.types.json import Jsonb

LOOP = """
SELECT refused, id, payload, attempt, lease_token
  FROM baton.complete_and_claim(%(ids)s::bigint[], %(tokens)s::bigint[], %(queue)s, %(worker)s,
                                %(n)s, %(lease)s, %(results)s::jsonb[])"""


def log(event, **fields):
    line = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"{time.strftime('%H:%M:%S')} event={event} {line}".rstrip(), flush=True)


def first_line(error):
    text = str(error).strip()
    return repr(text.splitlines()[0] if text else type(error).__name__)


class Job:
    """A claimed job. state: queued (claimed, not started), working, done
    (result ready, completion not yet acknowledged by the server)."""

    def __init__(self, row, registered):
        _, self.id, self.payload, self.attempt, self.token = row
        self.state = "queued"
        self.result = None
        self.lost = False
        self.in_doubt = False      # a completion was sent, its answer lost
        self.registered = registered   # when the claim's answer arrived


class Worker:
    def __init__(self, args):
        self.args = args
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease = timedelta(seconds=args.lease)
        self.held = {}               # id -> Job; shared with the heartbeat thread
        self.lock = threading.Lock()
        self.stopping = False
        self.conn = None
        self.notified = False
        self.failures = 0            # consecutive connection failures, for the back-off
        # A signal handler only sets a flag; the wake-up pipe makes a select()
        # that waits for notifications return at once.
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, signum, frame):
        if not self.stopping:
            log("stopping", signal=signal.Signals(signum).name)
        self.stopping = True

    # -- connections ------------------------------------------------------

    def connect(self, purpose):
        # autocommit: each statement is its own transaction, so nothing is
        # held between calls (an open transaction would keep its row locks
        # and snapshot). application_name makes the worker visible in
        # pg_stat_activity.
        return psycopg.connect(self.args.dsn, autocommit=True, connect_timeout=5,
                               application_name=f"baton-worker-{purpose}")

    def ensure_connected(self):
        if self.conn is not None:
            return
        conn = self.connect("loop")
        try:
            # Notifications that arrive while a query runs are read by
            # psycopg and passed to this handler: remember them, or a
            # NOTIFY that came during an empty claim would be lost until the
            # next poll.
            conn.add_notify_handler(self.on_notify)
            conn.execute("SELECT baton.listen(%s)", (self.args.queue,))
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        if self.failures:
            log("reconnected", after_failures=self.failures)
        self.release_orphans()
        self.failures = 0

    def drop_connection(self, error):
        log("connection_error", error=first_line(error))
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None
        self.failures += 1
        for job in self.held.values():
            if job.state == "done":
                job.in_doubt = True
        # Exponential back-off with jitter, capped: a server that restarts is
        # not hammered by every worker at once.
        delay = min(5.0, 0.2 * 2 ** (self.failures - 1)) * random.uniform(0.5, 1.0)
        self.sleep(delay)

    def on_notify(self, notify):
        if notify.payload == self.args.queue:
            self.notified = True

    def release_orphans(self):
        """After a reconnect: a claim may have committed while its answer was
        lost. heartbeat(worker) names every job this worker owns; hand back
        the ones it does not know about, so that nobody waits for their
        lease to run out."""
        rows = self.conn.execute("SELECT id, lease_token FROM baton.heartbeat(%s, %s)",
                                 (self.name, self.lease)).fetchall()
        for job_id, token in rows:
            if job_id not in self.held:
                state = self.conn.execute("SELECT baton.fail(%s, %s, %s, %s)",
                                          (job_id, token, "claim answer lost", timedelta(0))).fetchone()[0]
                log("handed_back", job=job_id, token=token, reason="orphan", state=state)

    # -- waiting ----------------------------------------------------------

    def sleep(self, seconds):
        """Sleeps, but returns at once when a signal arrives."""
        ready, _, _ = select.select([self.wake_r], [], [], seconds)
        if ready:
            os.read(self.wake_r, 512)

    def wait_for_work(self):
        """Until a NOTIFY for our queue, a signal or --poll seconds.

        psycopg 3.1 (Debian 12) has no notifies(timeout=): its generator
        blocks until a notification comes. So wait on the socket with
        select() and read with the libpq calls underneath."""
        deadline = time.monotonic() + self.args.poll
        pgconn = self.conn.pgconn
        while not self.notified and not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([pgconn.socket, self.wake_r], [], [], left)
            if self.wake_r in ready:
                os.read(self.wake_r, 512)
            if pgconn.socket in ready:
                pgconn.consume_input()  # raises OperationalError when the server went away
                while (n := pgconn.notifies()) is not None:
                    if n.extra.decode() == self.args.queue:
                        self.notified = True
                if pgconn.status != psycopg.pq.ConnStatus.OK:
                    raise psycopg.OperationalError("connection lost while waiting")
        self.notified = False

    # -- the loop ---------------------------------------------------------

    def loop_call(self, n):
        """Completes every finished job and claims up to n more."""
        done = [j for j in self.held.values() if j.state == "done"]
        rows = self.conn.execute(LOOP, dict(
            ids=[j.id for j in done], tokens=[j.token for j in done],
            queue=self.args.queue, worker=self.name, n=n, lease=self.lease,
            results=[Jsonb(j.result) for j in done])).fetchall()
        # After the call returned, so after its commit: a heartbeat sent
        # later than this must see the claims.
        returned = time.monotonic()
        refused = {r[1] for r in rows if r[0]}
        with self.lock:
            for job in done:
                del self.held[job.id]
            if refused:
                self.check_refused([j for j in done if j.id in refused])
            for job in done:
                if job.id not in refused:
                    log("completed", job=job.id, token=job.token, attempt=job.attempt)
            claimed = [Job(r, returned) for r in rows if not r[0]]
            for job in claimed:
                self.held[job.id] = job
        for job in claimed:
            log("claimed", job=job.id, token=job.token, attempt=job.attempt)
        return claimed

    def check_refused(self, jobs):
        for job in jobs:
            if job.in_doubt:
                # The completion was sent before the connection broke: did it
                # commit? Then the job holds our result (with our token).
                # (baton.jobs: the worker role of docs/security.md may read it.)
                row = self.conn.execute("SELECT state, result FROM baton.jobs WHERE id = %s",
                                        (job.id,)).fetchone()
                if row and row[0] == "completed" and row[1] and row[1].get("token") == str(job.token):
                    log("completed", job=job.id, token=job.token, attempt=job.attempt,
                        note="confirmed_after_reconnect")
                    continue
            log("lease_lost", job=job.id, token=job.token, source="complete_and_claim")

    def work(self, job):
        """The job itself. `job.token` is the fencing token: pass it along
        with every write the job makes outside baton (docs/leases.md)."""
        p = job.payload
        if job.attempt <= p.get("fail_attempts", 0):
            raise RuntimeError(f"simulated failure on attempt {job.attempt}")
        time.sleep(p.get("ms", 0) / 1000.0)
        return {"n": p.get("n"), "by": self.name, "token": str(job.token)}

    def run_job(self, job):
        job.state = "working"
        log("working", job=job.id, token=job.token, attempt=job.attempt, ms=job.payload.get("ms", 0))
        try:
            result = self.work(job)
        except Exception as e:
            log("job_failed", job=job.id, token=job.token, error=repr(str(e)))
            self.fail(job, str(e), None)
            return
        with self.lock:
            job.result = result
            job.state = "done"

    def fail(self, job, error, retry_in):
        """Hands the job back (retry after retry_in, or the queue's back-off
        when None). On a connection error the job stays held and its lease
        runs out."""
        with self.lock:
            self.held.pop(job.id, None)
        try:
            self.ensure_connected()
            state = self.conn.execute("SELECT baton.fail(%s, %s, %s, %s)",
                                      (job.id, job.token, error, retry_in)).fetchone()[0]
        except psycopg.Error as e:
            self.drop_connection(e)
            return
        if state is None:
            log("lease_lost", job=job.id, token=job.token, source="fail")
        else:
            log("handed_back", job=job.id, token=job.token, state=state)

    def run(self):
        log("start", worker=self.name, queue=self.args.queue, pid=os.getpid())
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        while not self.stopping:
            try:
                self.ensure_connected()
                claimed = self.loop_call(self.args.batch)
            except psycopg.Error as e:
                self.drop_connection(e)
                continue
            if not claimed:
                try:
                    self.wait_for_work()
                except psycopg.Error as e:
                    self.drop_connection(e)
                continue
            for job in claimed:
                if self.stopping:
                    break
                if job.lost:
                    with self.lock:
                        self.held.pop(job.id, None)
                    continue
                self.run_job(job)
        return self.shutdown()

    # -- heartbeat --------------------------------------------------------

    def heartbeat_loop(self):
        conn = None
        every = self.args.lease / 3.0
        while True:
            time.sleep(every)
            if not self.held:
                continue
            try:
                if conn is None:
                    conn = self.connect("heartbeat")
                t0 = time.monotonic()
                alive = {r[0] for r in conn.execute(
                    "SELECT id FROM baton.heartbeat(%s, %s)", (self.name, self.lease))}
            except psycopg.Error as e:
                log("heartbeat_error", error=first_line(e))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            with self.lock:
                # Only jobs claimed before this heartbeat was sent, and not yet
                # finished: those it must have extended.
                for job in self.held.values():
                    if job.state in ("queued", "working") and job.registered < t0 \
                            and job.id not in alive and not job.lost:
                        job.lost = True
                        log("lease_lost", job=job.id, token=job.token, source="heartbeat")

    # -- shutdown ---------------------------------------------------------

    def shutdown(self):
        """Completes what is finished, hands back everything else it owns."""
        deadline = time.monotonic() + self.args.shutdown_timeout
        while True:
            try:
                self.ensure_connected()
                done = [j for j in self.held.values() if j.state == "done"]
                if done:
                    completed = {r[0] for r in self.conn.execute(
                        "SELECT baton.complete_batch(%s::bigint[], %s::bigint[], %s::jsonb[])",
                        ([j.id for j in done], [j.token for j in done], [Jsonb(j.result) for j in done]))}
                    for job in done:
                        del self.held[job.id]
                    self.check_refused([j for j in done if j.id not in completed])
                    for job in done:
                        if job.id in completed:
                            log("completed", job=job.id, token=job.token, attempt=job.attempt)
                # Whatever this name still owns (claimed, not started):
                # handed back, due again at once.
                for job_id, token in self.conn.execute(
                        "SELECT id, lease_token FROM baton.heartbeat(%s, %s)", (self.name, self.lease)).fetchall():
                    state = self.conn.execute("SELECT baton.fail(%s, %s, %s, %s)",
                                              (job_id, token, "worker shutting down", timedelta(0))).fetchone()[0]
                    log("handed_back", job=job_id, token=token, reason="shutdown", state=state)
                self.held.clear()
                log("exit", status=0)
                return 0
            except psycopg.Error as e:
                if time.monotonic() > deadline:
                    log("exit", status=1, reason="database unreachable; leases will run out")
                    return 1
                self.drop_connection(e)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dsn", default="", help="a DIRECT connection (libpq string; PG* variables apply)")
    p.add_argument("--queue", required=True)
    p.add_argument("--batch", type=int, default=4, help="jobs claimed per call (1-1000)")
    p.add_argument("--lease", type=float, default=30.0, help="lease in seconds; heartbeat every lease/3")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls without a NOTIFY")
    p.add_argument("--shutdown-timeout", type=float, default=10.0)
    return Worker(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
