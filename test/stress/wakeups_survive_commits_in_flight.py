#!/usr/bin/python3
"""A job whose commit is in flight while a worker goes idle is not left for
the worker's poll (src/notify.hpp: the gate).

The race, held open on purpose: a producer's commit checks for waiting
workers at PRE_COMMIT, finds none (so it will not notify), and is then held
between that check and the moment its job becomes visible, by a synchronous
replication wait for a standby that does not exist (synchronous_standby_names
= 'nobody', for this producer's session only synchronous_commit = on). A
worker that called baton.listen('race') now claims: its scan cannot see the
job, so it registers as waiting, and must wait for the producer's commit to
end (the gate) before it claims once more. Then the standby setting is
reset, the producer's commit ends, and the worker's claim must return the
job. Without the gate, or without the second claim, that claim returns
nothing and, as the producer sent no NOTIFY, the job would wait for the poll.

Passes when the worker's claim was seen waiting while the commit was held,
and returned the job once the commit ended. Every other session of the test
commits with synchronous_commit = local; the setting is reset whatever
happens.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER exported; superuser).
"""
import os
import sys
import threading
import time

import psycopg2
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from common import admin, verdict  # noqa: E402

DB = "stress_wakeup_race"


def connect(sync):
    conn = psycopg2.connect(dbname=DB, options="-c synchronous_commit=%s -c client_min_messages=warning" % sync)
    conn.autocommit = True
    return conn


def set_standby(names):
    admin("ALTER SYSTEM SET synchronous_standby_names = '%s'" % names)
    admin("SELECT pg_reload_conf()")
    time.sleep(1.0)  # the checkpointer (it tells commits whether to wait) and every backend have read it


def wait_for(cur, sql, what, failures, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cur.execute(sql)
        if cur.fetchone()[0]:
            return True
        time.sleep(0.05)
    failures.append("timed out waiting until " + what)
    return False


def main():
    began = time.time()
    failures = []
    admin("DROP DATABASE IF EXISTS %s" % DB)
    admin("CREATE DATABASE %s" % DB)
    admin("CREATE EXTENSION baton", dbname=DB)
    admin("SELECT baton.create_queue('race')", dbname=DB)

    watch = connect("local").cursor()
    worker = connect("local")
    wc = worker.cursor()
    wc.execute("SELECT baton.listen('race')")
    producer = connect("on")
    claimed = []
    threads = []
    try:
        set_standby("nobody")
        producer_thread = threading.Thread(
            target=lambda: producer.cursor().execute("SELECT baton.enqueue('race', '{}')"))
        producer_thread.start()
        threads.append(producer_thread)
        if wait_for(watch, "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = '%s'"
                           " AND wait_event = 'SyncRep'" % DB, "the producer's commit was held", failures):
            def claim():
                wc.execute("SELECT count(*) FROM baton.claim('race', 'w')")
                claimed.append(wc.fetchone()[0])
            worker_thread = threading.Thread(target=claim)
            worker_thread.start()
            threads.append(worker_thread)
            wait_for(watch, "SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                            " WHERE NOT l.granted AND l.locktype = 'advisory' AND a.datname = '%s'" % DB,
                     "the worker's claim waited for the commit in flight", failures)
            if claimed:
                failures.append("the worker's claim returned (%d jobs) before the producer's commit ended"
                                % claimed[0])
    finally:
        set_standby("")
        for t in threads:
            t.join(10)
    if claimed != [1]:
        failures.append("the worker's claim returned %s jobs, not the 1 whose commit was in flight" % claimed)
    for c in (watch.connection, worker, producer):
        c.close()
    admin("DROP DATABASE %s" % DB)
    return verdict(failures,
                   "a worker going idle while a commit is in flight waits for it and claims its job",
                   "a job committed while the worker went idle was left for the poll", began)


if __name__ == "__main__":
    sys.exit(main())
