-- ALTER EXTENSION baton UPDATE on an install of 0.1.0 holding live state:
-- nothing is lost, the lease held across the upgrade still completes its
-- job, tokens keep increasing, and the 0.1.0 functions already work with
-- the new library before the upgrade script runs (a real upgrade installs
-- the library first).
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS baton_upgrade;
CREATE DATABASE baton_upgrade;
\c baton_upgrade
SET client_min_messages = warning;
CREATE EXTENSION baton VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'baton';

-- Live state on 0.1.0, made by the new library.
SELECT baton.create_queue('up', lease => '1 hour', max_attempts => 2);
SELECT baton.set_limit('up:key', 1);
SELECT baton.enqueue('up', '{"n": "held"}', priority => 9) > 0 AS enqueued;
SELECT baton.enqueue('up', '{"n": "keyed"}', priority => 8, concurrency_key => 'up:key') > 0 AS enqueued;
SELECT baton.enqueue('up', '{"n": "dead"}', priority => 7) > 0 AS enqueued;
SELECT baton.enqueue('up', '{"n": "later"}', run_at => now() + interval '1 day', unique_key => 'u1') > 0 AS enqueued;
SELECT baton.enqueue('up', '{"n": "ready"}', priority => 1, concurrency_key => 'up:key') > 0 AS enqueued;
SELECT id AS held_id, lease_token AS held_token FROM baton.claim('up', 'worker-held') \gset
SELECT payload->>'n' AS keyed FROM baton.claim('up', 'worker-keyed');
SELECT id AS dead_id, lease_token AS dead_token FROM baton.claim('up', 'worker-dead') \gset
SELECT baton.fail(:dead_id, :dead_token, 'boom', '0 seconds') AS failed;
SELECT id AS dead_id, lease_token AS dead_token FROM baton.claim('up', 'worker-dead') \gset
SELECT baton.fail(:dead_id, :dead_token, 'boom again') AS failed;
SELECT baton.acquire('up:sem', 'holder', '1 hour') IS NOT NULL AS acquired;
SELECT count(*) AS heartbeats FROM baton.heartbeat('worker-held');
-- "ready" waits: up:key is full (the 0.1.0 schema has nowhere to park it)
SELECT count(*) AS claimed FROM baton.claim('up', 'worker-x');
SELECT payload->>'n' AS job, state, attempt FROM baton.jobs ORDER BY id;

ALTER EXTENSION baton UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'baton';

-- Nothing lost; the lease held across the upgrade still owns its job.
SELECT payload->>'n' AS job, state, attempt FROM baton.jobs ORDER BY id;
SELECT key, owner FROM baton.holders ORDER BY key;
SELECT count(*) AS extended FROM baton.heartbeat('worker-held');
SELECT baton.complete(:held_id, :held_token) AS held_lease_completes;
SELECT baton.complete(:held_id, :held_token) AS only_once;
-- Tokens keep increasing; a full key now parks its job; a freed slot wakes it.
SELECT baton.enqueue('up', '{"n": "new"}', priority => 5) > 0 AS enqueued;
SELECT lease_token > :held_token AS greater_token FROM baton.claim('up', 'worker-new');
SELECT count(*) AS claimed FROM baton.claim('up', 'worker-x');
SELECT payload->>'n' AS job, blocked_until IS NOT NULL AS parked FROM baton._jobs
 WHERE concurrency_key = 'up:key' AND state = 'ready';
SELECT baton.complete(id, lease_token) AS keyed_completes FROM baton.jobs WHERE payload->>'n' = 'keyed';
SELECT payload->>'n' AS job FROM baton.claim('up', 'worker-x');
-- unique keys, retry, and the 0.2.0 rules hold on the upgraded install
SELECT baton.enqueue('up', '{"n": "dup"}', unique_key => 'u1') = id AS deduped
  FROM baton.jobs WHERE payload->>'n' = 'later';
SELECT baton.retry(:dead_id) AS retried;
SELECT reloptions FROM pg_class WHERE oid = 'baton.holders'::regclass;
-- A queue made before the upgrade keeps its finished jobs until purged, as
-- 0.1.0 did (claims of it delete none); a new queue keeps them 7 days.
SELECT baton.create_queue('up_new');
SELECT queue, retention FROM baton.queue_stats WHERE queue LIKE 'up%' ORDER BY queue;
UPDATE baton._jobs SET finished_at = finished_at - interval '1 year' WHERE queue = 'up' AND finished_at IS NOT NULL;
\c baton_upgrade
SELECT count(*) AS claimed FROM baton.claim('up', 'worker-x');
SELECT count(*) > 0 AS old_finishes_kept FROM baton._jobs WHERE queue = 'up' AND finished_at IS NOT NULL;
SELECT baton.create_queue('bad', lease => '-1 year 361 days');

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE baton_upgrade;
