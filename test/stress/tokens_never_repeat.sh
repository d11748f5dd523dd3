#!/usr/bin/env bash
# A fencing token is never issued twice, even when the server loses its last
# commits: a worker that holds a token from before the loss can never finish
# a job with it afterwards (docs/leases.md).
#  1. Failover: a streaming standby misses the last claims of its primary,
#     the primary dies (-m immediate), the standby is promoted.
#  2. synchronous_commit = off: a crash loses the last claims.
#  3. DROP EXTENSION and CREATE EXTENSION again.
# In each, the tokens issued before are refused after, and every new token
# is greater than every old one. Its own servers, on loopback.
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
. test/lib.sh
export PGOPTIONS="-c client_min_messages=warning"
work=$(mktemp -d /tmp/baton-tokens.XXXXXX)
chmod 755 "$work"
[ "$(id -u)" = 0 ] && chown postgres: "$work"
ctl() { as_postgres "$PG_BIN/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w "${@:2}" >/dev/null || { tail -5 "$work/$1.log" >&2; return 1; }; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$work" -p "$1" -d "$2" -c "$3"; }
cleanup() {
  for d in primary standby; do [ -d "$work/$d" ] && ctl "$d" -m immediate stop 2>/dev/null; done
  ((fails == 0)) && rm -rf "$work"
}
trap cleanup EXIT

# Pairs "id token" on stdin; prints how many of them complete() accepts.
accepted() {  # accepted PORT DB < pairs
  local n=0 id token
  while read -r id token; do
    [ "$(q "$1" "$2" "SELECT baton.complete($id, $token)")" = t ] && n=$((n + 1))
  done
  echo "$n"
}

# Starts server $1 on a free port (another one if a concurrent test took the
# port between the look and the start); prints the port.
start_on_free_port() {
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port) || return 1
    echo "port = $port" >>"$work/$1/postgresql.auto.conf"
    if ctl "$1" start 2>/dev/null; then echo "$port"; return 0; fi
    sed -i '/^port = /d' "$work/$1/postgresql.auto.conf"
    sleep 0.2
  done
  return 1
}

# Starts server $1 again: on its port, or on another if something took that
# port while the server was down; prints the port.
start_again() {
  local port
  port=$(sed -n "s/^port = '\{0,1\}\([0-9]*\)'\{0,1\}\$/\1/p" "$work/$1/postgresql.auto.conf" | tail -1)  # ALTER SYSTEM quotes it
  if ctl "$1" start 2>/dev/null; then echo "$port"; return 0; fi
  sed -i '/^port = /d' "$work/$1/postgresql.auto.conf"
  start_on_free_port "$1"
}

as_postgres "$PG_BIN/initdb" -D "$work/primary" -U postgres -A trust >/dev/null
cat >>"$work/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
# Commits that are not flushed stay in shared memory: an immediate stop loses them.
bgwriter_lru_maxpages = 0
wal_writer_delay = 10s
CONF
primary_port=$(start_on_free_port primary)
q $primary_port postgres "CREATE DATABASE t"
q $primary_port t "CREATE EXTENSION baton"
q $primary_port t "SELECT baton.create_queue('f', lease => '1 hour')" >/dev/null
q $primary_port t "SELECT count(*) FROM baton.enqueue_batch('f', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 200)))" >/dev/null

# 1. Failover. The standby catches up, then stops and misses the claims.
as_postgres "$PG_BIN/pg_basebackup" -h "$work" -p "$primary_port" -U postgres -D "$work/standby" -R -X stream -c fast
sed -i '/^port = /d' "$work/standby/postgresql.auto.conf"
standby_port=$(start_on_free_port standby)
lsn=$(q $primary_port postgres "SELECT pg_current_wal_lsn()")
for _ in $(seq 100); do
  [ "$(q $standby_port postgres "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && break
  sleep 0.1
done
# A standby sends no NOTIFY: listen() refuses there (25006), as claim does.
check "a standby refuses baton.listen and baton.claim (25006)" "25006 25006" \
      "$(for f in "baton.listen('f')" "baton.claim('f', 'w')"; do
           psql -X -q -At -h "$work" -p "$standby_port" -d t -v VERBOSITY=sqlstate -c "SELECT $f" 2>&1 | grep -o 25006
         done | xargs)"
ctl standby -m fast stop
q $primary_port t "SELECT c.id, c.lease_token FROM generate_series(1, 40) g, LATERAL baton.claim('f', 'old-' || g) c" \
  | tr '|' ' ' >"$work/old1"
ctl primary -m immediate stop
standby_port=$(start_again standby)
ctl standby promote
q $standby_port t "SELECT c.id, c.lease_token FROM generate_series(1, 40) g, LATERAL baton.claim('f', 'new-' || g) c" \
  | tr '|' ' ' >"$work/new1"
check "failover: 40 claims made before it, 40 after" "40 40" "$(wc -l <"$work/old1") $(wc -l <"$work/new1")"
check "failover: the promoted standby took the same jobs again" "40" \
      "$(sort -n "$work/old1" | cut -d' ' -f1 | comm -12 - <(sort -n "$work/new1" | cut -d' ' -f1) | wc -l)"
check "failover: no stale (id, token) completes its job" "0" "$(accepted $standby_port t <"$work/old1")"
check "failover: every new token is above every old one" "t" \
      "$(q $standby_port t "SELECT min(lease_token) > $(sort -n -k2 "$work/old1" | tail -1 | cut -d' ' -f2) FROM baton.jobs WHERE worker LIKE 'new-%'")"
check "failover: the new workers complete their jobs" "40" "$(accepted $standby_port t <"$work/new1")"

# 2. synchronous_commit = off, then an immediate stop.
q $standby_port t "ALTER SYSTEM SET synchronous_commit = off"
ctl standby -m fast stop
standby_port=$(start_again standby)
# With the WAL writer stopped, asynchronous commits stay in shared memory;
# killing it then makes the postmaster reinitialize shared memory and
# recover from what reached the WAL files: the claims and the token
# sequence's advance are lost together, as an OS crash loses unflushed WAL.
walwriter=$(q $standby_port postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
kill -STOP "$walwriter"
q $standby_port t "SELECT c.id, c.lease_token FROM generate_series(1, 4) g, LATERAL baton.claim('f', 'async-' || g) c" \
  | tr '|' ' ' >"$work/old2"
kill -KILL "$walwriter"
# Recovered once a new WAL writer runs (the server may answer for a moment
# before the postmaster notices the crash).
for _ in $(seq 300); do
  sleep 0.1
  ww=$(q $standby_port postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'" 2>/dev/null)
  [ -n "$ww" ] && [ "$ww" != "$walwriter" ] && break
done
check "async: the crash lost the claims (the test means something)" "0" \
      "$(q $standby_port t "SELECT count(*) FROM baton.jobs WHERE worker LIKE 'async-%'")"
q $standby_port t "SELECT c.id, c.lease_token FROM generate_series(1, 4) g, LATERAL baton.claim('f', 'after-' || g) c" \
  | tr '|' ' ' >"$work/new2"
check "async: no stale (id, token) completes its job" "0" "$(accepted $standby_port t <"$work/old2")"
check "async: every new token is above every old one" "t" \
      "$(q $standby_port t "SELECT min(lease_token) > $(sort -n -k2 "$work/old2" | tail -1 | cut -d' ' -f2) FROM baton.jobs WHERE worker LIKE 'after-%'")"

# 3. DROP EXTENSION and CREATE EXTENSION, in a database of its own (ids and
# tokens of a fresh install).
q $standby_port postgres "CREATE DATABASE d"
q $standby_port d "CREATE EXTENSION baton"
q $standby_port d "SELECT baton.create_queue('r'), baton.enqueue('r')" >/dev/null
q $standby_port d "SELECT id, lease_token FROM baton.claim('r', 'before')" | tr '|' ' ' >"$work/old3"
q $standby_port d "DROP EXTENSION baton CASCADE"
q $standby_port d "CREATE EXTENSION baton"
q $standby_port d "SELECT baton.create_queue('r'), baton.enqueue('r')" >/dev/null
q $standby_port d "SELECT id, lease_token FROM baton.claim('r', 'after')" | tr '|' ' ' >"$work/new3"
check "re-create: the same job id again" "$(cut -d' ' -f1 "$work/old3")" "$(cut -d' ' -f1 "$work/new3")"
check "re-create: the stale (id, token) does not complete the new job" "0" "$(accepted $standby_port d <"$work/old3")"
check "re-create: the new token is above the old one" "t" \
      "$(q $standby_port d "SELECT $(cut -d' ' -f2 "$work/new3") > $(cut -d' ' -f2 "$work/old3")")"

((fails == 0))
