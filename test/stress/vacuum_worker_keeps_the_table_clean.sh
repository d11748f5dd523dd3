#!/usr/bin/env bash
# The vacuum worker (src/vacuum.hpp): in a database whose settings turn
# baton.vacuum_worker on, claims start one background worker, never two,
# that vacuums baton._jobs once it holds baton.vacuum_threshold dead row
# versions, and deletes finished jobs past their retention with no claim
# running; in a database that leaves it off nothing vacuums, and finished
# jobs wait for claims. When the work stops the worker exits, and the
# database can be dropped.
# autovacuum is off for both tables: only the worker can vacuum them.
# Runs inside test/run.sh (PGHOST, PGPORT exported).
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
# Both databases make every transaction read-only by default, which this
# test's sessions override: the worker must not inherit it (it overrides
# such settings for itself, as autovacuum does).
export PGOPTIONS="-c client_min_messages=warning -c default_transaction_read_only=off"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
workers() { q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'baton vacuum worker' AND datname = '$1'"; }
vacuums() { q "$1" "SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'baton._jobs'::regclass"; }
dead() { q "$1" "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'baton._jobs'::regclass"; }

for db in vw_on vw_off; do
  q postgres "DROP DATABASE IF EXISTS $db"
  q postgres "CREATE DATABASE $db"
  q $db "CREATE EXTENSION baton"
  q $db "ALTER TABLE baton._jobs SET (autovacuum_enabled = false)"
  q $db "SELECT baton.create_queue('v')" >/dev/null
  q $db "SELECT baton.set_retention('v', '1 second')" >/dev/null
done
for db in vw_on vw_off; do q postgres "ALTER DATABASE $db SET default_transaction_read_only = on"; done
q postgres "ALTER DATABASE vw_on SET baton.vacuum_worker = on"
q postgres "ALTER DATABASE vw_on SET baton.vacuum_threshold = 1000000"  # 1000 once the churn is over
q postgres "ALTER DATABASE vw_off SET baton.vacuum_threshold = 1000"

# 4 sessions per database claim and complete 2,000 jobs each, 100 a call
# (a new connection each, so each looks at once): 2 dead versions per job.
# Meanwhile a session per database counts its workers every 20 ms.
churn() {  # churn DB SESSION
  local i
  for i in $(seq 20); do
    q "$1" "SELECT count(baton.complete(c.id, c.lease_token)) FROM baton.claim('v', 'w$2', 100) c" >/dev/null
  done
}
work=$(mktemp -d /tmp/baton-vacuum.XXXXXX)
samplers=()
trap 'kill "${samplers[@]}" 2>/dev/null; rm -rf "$work"' EXIT
churners=()
for db in vw_on vw_off; do
  psql -X -q -At -d postgres >"$work/workers.$db" 2>/dev/null <<SQL &
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'baton vacuum worker' AND datname = '$db'
\watch 0.02
SQL
  samplers+=($!)
  q $db "SELECT count(baton.enqueue('v', jsonb_build_object('n', g))) FROM generate_series(1, 8000) g" >/dev/null
  for s in 1 2 3 4; do churn $db $s & churners+=($!); done
done
wait "${churners[@]}"

# The table holds 16,000 dead versions: now over the threshold, 16 new
# sessions claim at once, and each looks. One of them starts the worker;
# the others see it starting, and start none.
q postgres "ALTER DATABASE vw_on SET baton.vacuum_threshold = 1000"
for s in $(seq 16); do q vw_on "SELECT count(*) FROM baton.claim('v', 'l$s')" >/dev/null & churners+=($!); done
wait "${churners[@]}"

# Then a claim (once the sessions' statistics are in: a session reports
# them when it ends) starts the worker if it has not started yet.
seen_vacuum=0
for _ in $(seq 60); do
  q vw_on "SELECT count(*) FROM baton.claim('v', 'w')" >/dev/null
  (($(vacuums vw_on) > 0)) && (($(dead vw_on) < 1000)) && { seen_vacuum=1; break; }
  sleep 0.5
done
check "all jobs ended (on)" 0 "$(q vw_on "SELECT count(*) FROM baton._jobs WHERE state <> 'completed'")"
check "all jobs ended (off)" 0 "$(q vw_off "SELECT count(*) FROM baton._jobs WHERE state <> 'completed'")"

# No claim from here on: finished jobs past their second of retention go
# only if the worker deletes them.
for _ in $(seq 200); do [ "$(q vw_on "SELECT count(*) FROM baton._jobs")" = 0 ] && break; sleep 0.25; done
check "the worker deleted the expired finished jobs, no claim running" 0 "$(q vw_on "SELECT count(*) FROM baton._jobs")"
check "without it they wait for the next claim" t "$(q vw_off "SELECT count(*) > 0 FROM baton._jobs")"
check "the worker vacuumed the table below its threshold" 1 "$seen_vacuum"
check "nothing vacuumed where it is off" 0 "$(vacuums vw_off)"

# Idle, it exits within a few seconds; then the database can go.
for _ in $(seq 200); do [ "$(workers vw_on)" = 0 ] && break; sleep 0.25; done
check "the worker exits when idle" 0 "$(workers vw_on)"
kill "${samplers[@]}"; wait "${samplers[@]}" 2>/dev/null
most() { grep -E '^[0-9]+$' "$work/workers.$1" | sort -n | tail -1; }
check "the workers were counted all along" 1 "$(($(grep -c . "$work/workers.vw_on") > 100))"
check "one worker in the database, never two" 1 "$(most vw_on)"
check "no worker where it is off" 0 "$(most vw_off)"
q postgres "DROP DATABASE vw_on"
q postgres "DROP DATABASE vw_off"
check "both databases dropped" 0 "$(q postgres "SELECT count(*) FROM pg_database WHERE datname IN ('vw_on', 'vw_off')")"
((fails == 0))
