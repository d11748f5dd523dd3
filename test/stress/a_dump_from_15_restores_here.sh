#!/usr/bin/env bash
# A dump a database owner took with pg_dump on PostgreSQL 15 (baton 0.2.0)
# restores with no error on the server under test (15, 17 or 18), by a
# superuser: queues, jobs, results, leases, limits and holders intact, the
# lease held at the dump still owned by its token, and tokens issued after
# the restore above every token before it. test/fixtures/owner_dump_pg15.sql
# is `pg_dump -U <owner> --no-owner` of a database holding (leases of 100
# years, made with baton 0.2.0 on PostgreSQL 15):
#   mail: 7 jobs; one held by host1:42:held (id 2, token 849804899928547001);
#   one failed once, then completed at its second attempt; one keyed smtp;
#   reports: one job for 2030 (unique_key daily);
#   limit smtp 2, with one explicit holder.
# Runs inside test/run.sh (PGHOST, PGPORT exported; superuser).
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d restored15 -c "$1"; }
held_id=2
held_token=849804899928547001

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS restored15" -c "CREATE DATABASE restored15"
check "the dump from 15 restores with no error" "0" \
      "$(psql -X -q -v ON_ERROR_STOP=1 -d restored15 -f test/fixtures/owner_dump_pg15.sql >/dev/null 2>&1; echo $?)"
check "queues" "mail|36500 days|3 reports|00:05:00|25" \
      "$(q "SELECT string_agg(queue || '|' || lease || '|' || max_attempts, ' ' ORDER BY queue) FROM baton._queues")"
check "jobs by state" "completed:1 ready:6 running:1" \
      "$(q "SELECT string_agg(state || ':' || n, ' ' ORDER BY state) FROM (SELECT state, count(*) n FROM baton.jobs GROUP BY 1) s")"
check "a result, an error and an attempt count" "{\"ok\": true}|boom|2" \
      "$(q "SELECT (SELECT result::text FROM baton.jobs WHERE state = 'completed') || '|' || (SELECT error FROM baton.jobs WHERE error IS NOT NULL) || '|' || (SELECT attempt FROM baton.jobs WHERE error IS NOT NULL)")"
check "limits and holders" "smtp:2 smtp:host2:7:holder" \
      "$(q "SELECT (SELECT string_agg(key || ':' || slots, ' ') FROM baton._limits) || ' ' || (SELECT string_agg(key || ':' || owner, ' ') FROM baton._holders)")"
check "the unique key still dedupes" "t" \
      "$(q "SELECT baton.enqueue('reports', unique_key => 'daily') = (SELECT id FROM baton.jobs WHERE unique_key = 'daily')")"
check "the held lease still owns its job" "t" "$(q "SELECT baton.complete($held_id, $held_token)")"
check "new tokens are above every token in the dump" "t" \
      "$(q "SELECT lease_token > $held_token + 100 FROM baton.claim('mail', 'after-restore')")"
check "new job ids follow the dumped ones" "t" "$(q "SELECT baton.enqueue('mail') > 8")"
psql -X -q -d postgres -c "DROP DATABASE restored15"
((fails == 0))
