#!/usr/bin/python3
"""Key locks behind pgbouncer: the test starts pgbouncer (Debian package) in
transaction pooling mode with a pool of 4 server connections for 20 clients.
Each client (a thread with its own connection through the pooler, autocommit
off) loops over transactions that enter a critical section guarded by
baton.try_lock_key('section') (sometimes try_lock_keys, or lock_key with a
short timeout), and leave it by COMMIT or ROLLBACK.

A counter shared by the clients (in the test process, so outside every
transaction) is raised right after the lock was granted and lowered right
before the COMMIT or ROLLBACK that releases it. Passes when the counter never
exceeds 1, every section saw baton.key_holder('section') = its own backend,
the clients shared at most 4 server connections (the pooler really pooled),
sections ran and no error happened, and afterwards, with the pooler's server
connections still open, pg_locks (read on a direct connection) shows no baton
lock (advisory, objsubid 16980 or 16981) and no other advisory lock.

Then the same clients do what a pooled application using session-level
advisory locks does: pg_try_advisory_lock(42) in one transaction,
pg_advisory_unlock(42) in a later one. The test prints, as information only
(never a failure), how often the section was entered twice, how many unlocks
found no lock to release, and the advisory locks left held by the pooler's
server connections: proof that the test can tell a lock that does not
survive pooling from one that does.

Fails (never skips) when pgbouncer cannot be started.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER exported; superuser; run as
root, so pgbouncer, which refuses root, runs as the postgres user).
"""
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import psycopg2
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from common import admin, verdict  # noqa: E402

DB = "stress_keylocks_pool"
CLIENTS = 20
POOL = 4
BATON_SECONDS = 5.0
SESSION_SECONDS = 3.0
KEY = "section"
USER_KEY_SPACE, GUARD_SPACE = 16980, 16981
LOCK_NOT_AVAILABLE = "55P03"


def advisory_locks():
    """Advisory locks of the test database, read on a direct connection."""
    return admin("SELECT l.objsubid, l.classid, l.objid, l.mode, l.granted, l.pid"
                 "  FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                 " WHERE l.locktype = 'advisory' AND d.datname = %s"
                 " ORDER BY 1, 2, 3, 6", (DB,))


# ---------------------------------------------------------------------------
# pgbouncer
# ---------------------------------------------------------------------------

class Bouncer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="baton-pgbouncer.")
        self.proc = None
        self.port = None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)
        self.log = os.path.join(self.dir, "pgbouncer.log")

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        return path

    @staticmethod
    def _free_port():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start(self):
        """Starts pgbouncer and waits until it accepts a client; raises with
        its log when it cannot."""
        user = os.environ.get("PGUSER", "postgres")
        self._write("userlist.txt", '"%s" ""\n' % user)
        last = "?"
        for attempt in range(3):          # another process may take the port first
            self.port = self._free_port()
            ini = self._write("pgbouncer.ini", """\
[databases]
{db} = host=127.0.0.1 port={pgport} dbname={db}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {dir}
pidfile = {dir}/pgbouncer.pid
logfile = {log}
auth_type = trust
auth_file = {dir}/userlist.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool}
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = {pool}
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
server_check_delay = 0
""".format(db=DB, pgport=os.environ.get("PGPORT", "5432"), port=self.port, dir=self.dir,
           log=self.log, user=user, pool=POOL))
            cmd = ["pgbouncer", ini]
            if self.as_root:
                cmd = ["runuser", "-u", "postgres", "--"] + cmd
            out = open(os.path.join(self.dir, "stdout.log"), "ab")
            try:
                self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
            except OSError as e:
                raise RuntimeError("cannot run %s: %s" % (" ".join(cmd), e))
            finally:
                out.close()
            until = time.monotonic() + 10
            while time.monotonic() < until and self.proc.poll() is None:
                try:
                    psycopg2.connect(host="127.0.0.1", port=self.port, dbname=DB, connect_timeout=2).close()
                    return
                except psycopg2.OperationalError as e:
                    last = str(e).strip()
                    time.sleep(0.1)
            self.stop()
            last = "%s; exit status %s; log:\n%s" % (last, self.proc.returncode, self.logs())
        raise RuntimeError("pgbouncer did not start: " + last)

    def logs(self):
        text = ""
        for name in ("stdout.log", "pgbouncer.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text

    def connect(self):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, dbname=DB, connect_timeout=10)
        conn.autocommit = False
        return conn

    def stop(self):
        """Ends the process group this test started (runuser and pgbouncer)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                pass

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------

class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.inside = 0
        self.max_inside = 0
        self.entries = 0
        self.attempts = 0
        self.busy = 0
        self.rollbacks = 0
        self.unlock_missed = 0
        self.backends = {}          # backend pid -> client indexes it served
        self.errors = []
        self.problems = []

    def enter(self):
        with self.lock:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
            self.entries += 1

    def leave(self):
        with self.lock:
            self.inside -= 1


def baton_client(index, conn, start, deadline, sh):
    rnd = random.Random(index * 7919 + os.getpid())
    try:
        cur = conn.cursor()
        start.wait()
        while time.monotonic() < deadline:
            how = rnd.random()
            try:
                if how < 0.7:
                    cur.execute("SELECT baton.try_lock_key(%s)", (KEY,))
                    got = cur.fetchone()[0]
                elif how < 0.85:
                    cur.execute("SELECT baton.try_lock_keys(%s)", ([KEY, "other-%d" % index],))
                    got = cur.fetchone()[0]
                else:
                    try:
                        cur.execute("SELECT baton.lock_key(%s, '20 ms')", (KEY,))
                        got = True
                    except psycopg2.Error as e:
                        if e.pgcode != LOCK_NOT_AVAILABLE:
                            raise
                        conn.rollback()
                        with sh.lock:
                            sh.attempts += 1
                            sh.busy += 1
                        continue
                if got:
                    sh.enter()
                    cur.execute("SELECT baton.key_holder(%s), pg_backend_pid()", (KEY,))
                    holder, me = cur.fetchone()
                    time.sleep(rnd.uniform(0.0005, 0.003))
                    sh.leave()          # before the end of the transaction releases the lock
                    with sh.lock:
                        sh.attempts += 1
                        sh.backends.setdefault(me, set()).add(index)
                        if holder != me:
                            sh.problems.append("client %d in the section on backend %d, key_holder says %r"
                                               % (index, me, holder))
                else:
                    with sh.lock:
                        sh.attempts += 1
                        sh.busy += 1
                if rnd.random() < 0.15:
                    conn.rollback()
                    with sh.lock:
                        sh.rollbacks += 1
                else:
                    conn.commit()
            except psycopg2.Error as e:
                with sh.lock:
                    sh.errors.append("client %d: %s %s" % (index, e.pgcode, str(e).strip()))
                conn.rollback()
    except Exception:
        with sh.lock:
            sh.errors.append("client %d: %s" % (index, traceback.format_exc()))


def session_client(index, conn, start, deadline, sh):
    """What a pooled application with session-level advisory locks does."""
    rnd = random.Random(index * 104729 + os.getpid())
    try:
        cur = conn.cursor()
        start.wait()
        while time.monotonic() < deadline:
            try:
                cur.execute("SELECT pg_try_advisory_lock(42)")
                got = cur.fetchone()[0]
                conn.commit()
                with sh.lock:
                    sh.attempts += 1
                if not got:
                    time.sleep(rnd.uniform(0.0005, 0.002))
                    continue
                sh.enter()
                time.sleep(rnd.uniform(0.0005, 0.003))
                sh.leave()
                cur.execute("SELECT pg_advisory_unlock(42)")
                released = cur.fetchone()[0]
                conn.commit()
                if not released:
                    with sh.lock:
                        sh.unlock_missed += 1
            except psycopg2.Error as e:
                with sh.lock:
                    sh.errors.append("client %d: %s %s" % (index, e.pgcode, str(e).strip()))
                conn.rollback()
    except Exception:
        with sh.lock:
            sh.errors.append("client %d: %s" % (index, traceback.format_exc()))


def run_clients(target, conns, seconds):
    sh = Shared()
    start = threading.Event()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=target, args=(i, c, start, deadline, sh), daemon=True)
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join(timeout=max(0.1, deadline + 30 - time.monotonic()))
    hung = sum(1 for t in threads if t.is_alive())
    if hung:
        sh.errors.append("%d clients still running 30 s after the deadline (hung)" % hung)
    return sh


# ---------------------------------------------------------------------------

def main():
    began = time.time()
    failures = []
    info = []
    admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
    admin("CREATE DATABASE %s" % DB)
    # pgbouncer passes no "options": the timeouts come with the database.
    admin("ALTER DATABASE %s SET statement_timeout = '20s'" % DB)
    admin("ALTER DATABASE %s SET client_min_messages = 'error'" % DB)
    bouncer = Bouncer()
    conns = []
    try:
        admin("CREATE EXTENSION baton", dbname=DB)
        try:
            bouncer.start()
        except RuntimeError as e:
            failures.append(str(e))
        else:
            conns = [bouncer.connect() for _ in range(CLIENTS)]
            phases(conns, failures, info)
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:
                pass
        bouncer.stop()
        if bouncer.proc is not None and bouncer.proc.poll() is None:
            failures.append("pgbouncer (pid %d) did not stop" % bouncer.proc.pid)
        bouncer.remove()
        admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
    return finish(failures, info, began)


def phases(conns, failures, info):
    # Phase 1: baton's transaction-scoped key locks.
    sh = run_clients(baton_client, conns, BATON_SECONDS)
    left = advisory_locks()                 # the pooler's server connections are still open
    servers = admin("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (DB,))[0][0]
    shared = sum(1 for clients in sh.backends.values() if len(clients) > 1)
    info.append("baton: %d clients through pgbouncer (transaction pooling, pool %d, %d server connections"
                " open): %d transactions, %d sections entered, %d found the key taken, %d rolled back;"
                " sections ran on %d backends, %d of them served several clients; max %d in the section at once"
                % (CLIENTS, POOL, servers, sh.attempts, sh.entries, sh.busy, sh.rollbacks,
                   len(sh.backends), shared, sh.max_inside))
    for e in sh.errors[:10]:
        failures.append("error: " + e)
    if len(sh.errors) > 10:
        failures.append("... and %d more errors" % (len(sh.errors) - 10))
    for p in sh.problems[:10]:
        failures.append("wrong result: " + p)
    if sh.max_inside > 1:
        failures.append("mutual exclusion broken: %d clients in the section at once" % sh.max_inside)
    if sh.entries < CLIENTS or sh.busy == 0:
        failures.append("too little contention to prove anything: %d sections entered, %d busy"
                        % (sh.entries, sh.busy))
    if len(sh.backends) > POOL or shared == 0:
        failures.append("the clients did not share the pool's %d server connections (%d backends, %d shared):"
                        " not behind a transaction pooler" % (POOL, len(sh.backends), shared))
    baton_left = [r for r in left if r[0] in (USER_KEY_SPACE, GUARD_SPACE)]
    if baton_left:
        failures.append("baton locks left in pg_locks after every transaction ended: %r" % baton_left)
    elif left:
        failures.append("advisory locks left in pg_locks after the baton phase: %r" % left)

    # Phase 2, information only: session-level advisory locks through the same pooler.
    ss = run_clients(session_client, conns, SESSION_SECONDS)
    left2 = [r for r in advisory_locks() if r[0] == 1 and r[2] == 42]
    info.append("information (session-level pg_try_advisory_lock/pg_advisory_unlock through the same pooler):"
                " %d tries, %d sections entered, max %d in the section at once, %d unlocks found no lock"
                " to release; afterwards %d advisory lock(s) on 42 still held by server connection(s) %s%s"
                % (ss.attempts, ss.entries, ss.max_inside, ss.unlock_missed, len(left2),
                   sorted({r[5] for r in left2}),
                   "; errors: %s" % ss.errors[:3] if ss.errors else ""))
    if ss.max_inside > 1 or left2 or ss.unlock_missed:
        info.append("information: session-level advisory locks do not survive transaction pooling;"
                    " the test can tell")
    else:
        info.append("information: this run did not show the session-level lock misbehaving")


def finish(failures, info, began):
    return verdict(failures, "key locks held and left nothing behind pgbouncer",
                   "key locks went wrong behind pgbouncer", began, info)


if __name__ == "__main__":
    sys.exit(main())
