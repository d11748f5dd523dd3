-- The hot paths reach rows through indexes whatever the statistics say.
-- Plans are made once per backend, and this backend makes them on a table
-- that was never analyzed: a plan chosen without statistics (for example a
-- sequential scan and a merge join for complete_batch) would show here as
-- sequential scans of baton._jobs, and it would be kept.
SELECT baton.create_queue('plans', lease => '1 hour');
SELECT count(*) FROM baton.enqueue_batch('plans',
    (SELECT jsonb_agg(jsonb_build_object('payload', jsonb_build_object('i', g),
                                         'unique_key', 'k' || g))
       FROM generate_series(1, 3000) g));
BEGIN;
SELECT seq_scan AS before FROM pg_stat_xact_user_tables WHERE relid = 'baton._jobs'::regclass \gset
CREATE TEMP TABLE got AS SELECT id, lease_token FROM baton.claim('plans', 'pw', 20);
SELECT count(*) AS completed FROM baton.complete_batch(
    (SELECT array_agg(id) FROM (SELECT id FROM got ORDER BY id LIMIT 5) s),
    (SELECT array_agg(lease_token) FROM (SELECT id, lease_token FROM got ORDER BY id LIMIT 5) s));
SELECT count(*) AS claimed FROM baton.complete_and_claim(
    (SELECT array_agg(id) FROM (SELECT id FROM got ORDER BY id OFFSET 5 LIMIT 5) s),
    (SELECT array_agg(lease_token) FROM (SELECT id, lease_token FROM got ORDER BY id OFFSET 5 LIMIT 5) s),
    'plans', 'pw', 5);
SELECT count(*) AS renewed FROM baton.heartbeat('pw');
SELECT bool_and(baton.complete(id, lease_token)) AS completed
  FROM (SELECT id, lease_token FROM got ORDER BY id OFFSET 10 LIMIT 3) s;
SELECT bool_and(baton.renew(id, lease_token) IS NOT NULL) AS renewed
  FROM (SELECT id, lease_token FROM got ORDER BY id OFFSET 13 LIMIT 3) s;
SELECT bool_and(baton.fail(id, lease_token, 'x') = 'ready') AS failed
  FROM (SELECT id, lease_token FROM got ORDER BY id OFFSET 16 LIMIT 3) s;
SELECT count(*) AS kept FROM baton.enqueue_batch('plans',
    jsonb_build_array(jsonb_build_object('unique_key', 'k2999')), 'replace');
SELECT seq_scan - :before AS seq_scans_of_jobs
  FROM pg_stat_xact_user_tables WHERE relid = 'baton._jobs'::regclass;
COMMIT;
SELECT baton.drop_queue('plans', force => true);
