-- baton.job(id) tells a producer what became of its job (state, attempt,
-- result, error, times) without its lease token or worker; a role granted
-- EXECUTE on it alone can call it; an unknown id gives no row.
SELECT baton.create_queue('pj', lease => '1 hour');
SELECT baton.enqueue('pj', '{"n": 1}') AS j \gset
CREATE ROLE pj_producer;
GRANT USAGE ON SCHEMA baton TO pj_producer;
GRANT EXECUTE ON FUNCTION baton.job(bigint) TO pj_producer;
SET ROLE pj_producer;
SELECT state, attempt, result, error, started_at IS NULL AS not_started FROM baton.job(:j);
SELECT count(*) AS unknown_id FROM baton.job(-1);
SELECT count(*) FROM baton.jobs;  -- the view stays out of reach
RESET ROLE;
SELECT baton.complete(id, lease_token, '{"sent": true}') AS completed FROM baton.claim('pj', 'w');
SET ROLE pj_producer;
SELECT state, attempt, result, finished_at IS NOT NULL AS finished FROM baton.job(:j);
SELECT string_agg(column_name, ' ') AS columns FROM (
    SELECT unnest(proargnames) AS column_name FROM pg_proc WHERE oid = 'baton.job(bigint)'::regprocedure
) c WHERE column_name IN ('lease_token', 'worker');
RESET ROLE;
REVOKE ALL ON SCHEMA baton FROM pj_producer;
REVOKE ALL ON FUNCTION baton.job(bigint) FROM pj_producer;
DROP ROLE pj_producer;
SELECT baton.drop_queue('pj', force => true);
