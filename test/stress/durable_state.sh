#!/usr/bin/env bash
# State survives what operators do to a server: pg_dump/pg_restore keeps
# queues, jobs and the token sequence; a restart keeps leases; a backend
# terminated in the middle of a claim leaves the job ready.
# Runs inside test/run.sh (PGHOST, PGPORT, CLUSTER_DIR exported).
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
. test/lib.sh
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS durable" -c "DROP DATABASE IF EXISTS durable_copy" \
     -c "CREATE DATABASE durable" -c "CREATE DATABASE durable_copy"
q durable "CREATE EXTENSION baton"
q durable "SELECT baton.create_queue('d', lease => '10 minutes', max_attempts => 4)" >/dev/null
q durable "SELECT baton.enqueue('d', jsonb_build_object('n', g), unique_key => 'k' || g) FROM generate_series(1, 3) g" >/dev/null
read -r id token <<<"$(q durable "SELECT id, lease_token FROM baton.claim('d', 'w1')" | tr '|' ' ')"

# pg_dump / pg_restore
pg_dump -Fc -d durable -f "$CLUSTER_DIR/durable.dump"
pg_restore -d durable_copy "$CLUSTER_DIR/durable.dump"
check "restored jobs" "$(q durable "SELECT string_agg(id || state || payload::text, ',' ORDER BY id) FROM baton.jobs")" \
                      "$(q durable_copy "SELECT string_agg(id || state || payload::text, ',' ORDER BY id) FROM baton.jobs")"
check "restored queue settings" "00:10:00|4" "$(q durable_copy "SELECT lease, max_attempts FROM baton._queues WHERE queue = 'd'")"
check "restored unique key still dedupes" "t" \
      "$(q durable_copy "SELECT baton.enqueue('d', unique_key => 'k2') = (SELECT id FROM baton.jobs WHERE unique_key = 'k2')")"
check "restored token sequence issues greater tokens" "t" \
      "$(q durable_copy "SELECT lease_token > $token FROM baton.claim('d', 'w2')")"
check "restored lease still owned by its token" "t" "$(q durable_copy "SELECT baton.complete($id, $token)")"

# restart: a lease outlives the server
cluster_restart
check "lease survives a restart" "t" "$(q durable "SELECT baton.complete($id, $token)")"
check "queue usable after restart" "1" "$(q durable "SELECT count(*) FROM baton.claim('d', 'w3')")"

# a backend terminated mid-claim: its transaction rolls back, the job stays ready
before=$(q durable "SELECT count(*) FROM baton.jobs WHERE state = 'ready'")
psql -X -q -d durable -c "BEGIN" -c "SELECT baton.claim('d', 'victim')" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 50); do
  pid=$(q durable "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND datname = 'durable'")
  [ -n "$pid" ] && break
  sleep 0.1
done
check "claimed job is locked, not visible as running yet" "$before" \
      "$(q durable "SELECT count(*) FROM baton.jobs WHERE state = 'ready'")"
q durable "SELECT pg_terminate_backend($pid)" >/dev/null
wait $victim 2>/dev/null
check "terminated claimer left its job ready" "$before" "$(q durable "SELECT count(*) FROM baton.jobs WHERE state = 'ready'")"
check "and claimable" "1" "$(q durable "SELECT count(*) FROM baton.claim('d', 'w4')")"

psql -X -q -d postgres -c "DROP DATABASE durable" -c "DROP DATABASE durable_copy"
exit $((fails > 0))
