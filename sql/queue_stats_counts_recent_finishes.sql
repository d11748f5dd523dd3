-- queue_stats counts the last minute's and hour's completed, dead and
-- cancelled jobs and the completions per second, reading only the recent
-- finishes (an index by queue and finished_at), whatever the history size.
SELECT baton.create_queue('qs', lease => '1 hour', max_attempts => 1);
SELECT count(*) AS enqueued FROM (SELECT baton.enqueue('qs', jsonb_build_object('n', g)) FROM generate_series(1, 1006) g) s;
-- 1,000 jobs finished two hours ago: history the counts must not read
SELECT count(*) AS old_finishes FROM (SELECT baton.complete(id, lease_token) FROM baton.claim('qs', 'w', 1000)) c;
UPDATE baton._jobs SET finished_at = finished_at - interval '2 hours' WHERE queue = 'qs' AND state = 'completed';
-- now: 3 completed, 1 dead, 1 cancelled, 1 still ready
SELECT count(*) AS completed FROM (SELECT baton.complete(id, lease_token) FROM baton.claim('qs', 'w', 3)) c;
SELECT baton.fail(id, lease_token, 'boom') AS failed FROM baton.claim('qs', 'w');
SELECT baton.cancel(min(id)) AS cancelled FROM baton.jobs WHERE queue = 'qs' AND state = 'ready';
SELECT ready, dead, completed_last_minute, completed_last_hour, dead_last_hour, cancelled_last_hour,
       completed_per_second
  FROM baton.queue_stats WHERE queue = 'qs';
-- bounded: the view reads this hour's finishes through the index on
-- (queue, finished_at), not the 1,000 old ones
CREATE FUNCTION plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;
SELECT position('_jobs_finished' IN plan_of($$SELECT * FROM baton.queue_stats WHERE queue = 'qs'$$)) > 0
       AS recent_finishes_by_index;
SELECT pg_stat_get_xact_tuples_returned('baton._jobs_finished'::regclass) AS before \gset
SELECT count(*) FROM baton.queue_stats WHERE queue = 'qs';
SELECT pg_stat_get_xact_tuples_returned('baton._jobs_finished'::regclass) - :before < 20 AS reads_only_recent_finishes;
DROP FUNCTION plan_of(text);
SELECT baton.drop_queue('qs', force => true);
