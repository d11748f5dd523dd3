#!/usr/bin/env bash
# The database's owner, not a superuser, can pg_dump a database that uses
# baton, and a superuser restores the dump with no error: queues, jobs,
# leases, limits and holders intact, the held lease still owned by its
# token, and tokens issued after the restore above every token before it.
# Runs inside test/run.sh (PGHOST, PGPORT, CLUSTER_DIR exported; superuser).
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
. test/lib.sh
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
state() {  # what must survive, as one line
  q "$1" "SELECT (SELECT string_agg(queue || lease || max_attempts, ',' ORDER BY queue) FROM baton._queues)
          || ' ' || (SELECT string_agg(id || state || attempt || coalesce(lease_token::text, '-'), ',' ORDER BY id) FROM baton.jobs)
          || ' ' || (SELECT string_agg(key || slots, ',' ORDER BY key) FROM baton._limits)
          || ' ' || (SELECT string_agg(key || owner || token, ',' ORDER BY key) FROM baton.holders)"
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS owned" -c "DROP DATABASE IF EXISTS owned_copy" \
     -c "DROP ROLE IF EXISTS baton_dbowner" -c "CREATE ROLE baton_dbowner LOGIN" \
     -c "CREATE DATABASE owned OWNER baton_dbowner" -c "CREATE DATABASE owned_copy OWNER baton_dbowner"
q owned "CREATE EXTENSION baton"
q owned "SELECT baton.create_queue('o', lease => '1 hour', max_attempts => 3)" >/dev/null
q owned "SELECT baton.enqueue('o', jsonb_build_object('n', g)) FROM generate_series(1, 4) g" >/dev/null
read -r id token <<<"$(q owned "SELECT id, lease_token FROM baton.claim('o', 'w1')" | tr '|' ' ')"
q owned "SELECT baton.set_limit('k', 2), baton.acquire('k', 'holder', '1 hour')" >/dev/null

dump=$CLUSTER_DIR/owned.sql
check "the owner's pg_dump succeeds" "0" "$(pg_dump -U baton_dbowner -d owned -f "$dump" 2>&1; echo $?)"
check "a superuser restores it with no error" "0" \
      "$(psql -X -q -v ON_ERROR_STOP=1 -d owned_copy -f "$dump" >/dev/null 2>&1; echo $?)"
check "queues, jobs, leases, limits and holders are intact" "$(state owned)" "$(state owned_copy)"
check "the held lease is still owned by its token" "t" "$(q owned_copy "SELECT baton.complete($id, $token)")"
check "tokens after the restore are above every token before" "t" \
      "$(q owned_copy "SELECT lease_token > $token FROM baton.claim('o', 'w2')")"

psql -X -q -d postgres -c "DROP DATABASE owned" -c "DROP DATABASE owned_copy" -c "DROP ROLE baton_dbowner"
((fails == 0))
