-- Retention: a queue's claims delete its finished jobs (completed, dead,
-- cancelled) once older than the queue's retention, oldest first, at most
-- 500 per claim; unfinished jobs and queues without retention keep theirs.
-- A backend prunes a queue at most once a second unless its last batch was
-- full, so each check below reconnects (\c) to start with a fresh backend.
SET client_min_messages = warning;
SELECT baton.create_queue('ret', max_attempts => 1);
SELECT baton.create_queue('ret_keep');
SELECT baton.set_retention('ret_keep', NULL);
SELECT queue, retention FROM baton.queue_stats WHERE queue LIKE 'ret%' ORDER BY queue;

-- 700 completed, 1 dead, 1 cancelled, 1 running and 1 ready job in 'ret';
-- 3 completed in 'ret_keep'. Every finish is backdated by two hours.
SELECT count(*) AS enqueued FROM baton.enqueue_batch('ret',
       (SELECT jsonb_agg(jsonb_build_object('payload', jsonb_build_object('n', g))) FROM generate_series(1, 704) g));
SELECT count(*) AS completed FROM (
    SELECT baton.complete(id, lease_token) FROM baton.claim('ret', 'w', 700)) c;
SELECT baton.fail(id, lease_token, 'boom') AS failed FROM baton.claim('ret', 'w');
SELECT baton.cancel(id) AS cancelled FROM baton.claim('ret', 'w');
SELECT count(*) AS running FROM baton.claim('ret', 'w');
SELECT count(*) AS enqueued FROM (
    SELECT baton.enqueue('ret_keep', jsonb_build_object('n', g)) FROM generate_series(1, 3) g) e;
SELECT count(*) AS completed FROM (
    SELECT baton.complete(id, lease_token) FROM baton.claim('ret_keep', 'w', 3)) c;
UPDATE baton._jobs SET finished_at = finished_at - interval '2 hours' WHERE finished_at IS NOT NULL;
SELECT queue, state, count(*) FROM baton._jobs GROUP BY 1, 2 ORDER BY 1, 2;

-- A retention longer than the jobs' age deletes nothing.
SELECT baton.set_retention('ret', '3 hours');
\c -
SELECT count(*) AS claimed FROM baton.claim('ret', 'w2');
SELECT count(*) AS finished_left FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;

-- One hour: the first claim deletes 500 (the oldest), and since its batch was
-- full the next claim of the same backend goes on with the rest; only the
-- two running jobs are left. 'ret_keep' (no retention) keeps its own.
SELECT baton.set_retention('ret', '1 hour');
\c -
SELECT count(*) AS claimed FROM baton.claim('ret', 'w2');
SELECT count(*) AS finished_left FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;
SELECT count(*) AS claimed FROM baton.claim('ret', 'w2');
SELECT queue, state, count(*) FROM baton._jobs GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS kept_claimed FROM baton.claim('ret_keep', 'w2');
SELECT count(*) AS ret_keep_finished FROM baton._jobs WHERE queue = 'ret_keep' AND state = 'completed';

-- Recent finishes stay until they are old enough; complete_and_claim prunes
-- too, and a retention of zero deletes a job at the first claim after it.
\c -
SELECT baton.complete(id, lease_token) AS completed FROM baton.jobs WHERE queue = 'ret' AND state = 'running';
SELECT count(*) AS claimed FROM baton.claim('ret', 'w3');
SELECT count(*) AS recent_finishes_kept FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;
SELECT baton.set_retention('ret', '0 seconds');
\c -
SELECT count(*) AS rows_back FROM baton.complete_and_claim('{}', '{}', 'ret', 'w3');
SELECT count(*) AS finished_left FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;

-- Claims under REPEATABLE READ leave finished jobs alone (a row finished
-- after the snapshot would be a serialization failure for the claimer).
SELECT baton.enqueue('ret', '{"n": "rr"}') > 0 AS enqueued;
SELECT baton.complete(id, lease_token) AS completed FROM baton.claim('ret', 'w4');
\c -
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) AS claimed FROM baton.claim('ret', 'w4');
COMMIT;
SELECT count(*) AS finished_left FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;
SELECT count(*) AS claimed FROM baton.claim('ret', 'w4');  -- READ COMMITTED again
SELECT count(*) AS finished_left FROM baton._jobs WHERE queue = 'ret' AND finished_at IS NOT NULL;

-- The rules of the argument.
SELECT baton.set_retention('ret', '-1 second');
SELECT baton.set_retention('ret', '1 month -31 days');
SELECT baton.set_retention('nope', '1 day');
SELECT baton.set_retention(NULL, '1 day');

SELECT baton.drop_queue('ret', force => true);
SELECT baton.drop_queue('ret_keep', force => true);
