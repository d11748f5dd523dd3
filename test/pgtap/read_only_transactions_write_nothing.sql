-- A read-only transaction writes nothing: every function that changes state
-- refuses with 25006 (read_only_sql_transaction), as an INSERT or UPDATE
-- would, and baton's tables are unchanged. claim and complete write rows
-- without going through an SQL statement, so they check for themselves.
BEGIN;
SELECT plan(22);

SELECT baton.create_queue('tap_ro', '30 seconds', 3, '1 second');
SELECT baton.enqueue('tap_ro', '{"n": 1}');
SELECT baton.enqueue('tap_ro', '{"n": 2}', unique_key => 'u');
CREATE TEMP TABLE owned AS SELECT id, lease_token FROM baton.claim('tap_ro', 'tap-ro-worker');
SELECT baton.set_limit('tap-ro-sem', 2);
CREATE TEMP TABLE held AS SELECT baton.acquire('tap-ro-sem', 'tap-ro-owner', '1 minute') AS token;
CREATE TABLE public.tap_ro_upsert (k int PRIMARY KEY, v int);

CREATE TEMP TABLE before_calls AS
SELECT (SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j) AS jobs,
       (SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q) AS queues,
       (SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l) AS limits,
       (SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h) AS holders;

SET LOCAL transaction_read_only = on;

SELECT throws_ok($$SELECT * FROM baton.claim('tap_ro', 'w2')$$, '25006', NULL, 'claim refuses');
SELECT throws_ok($$SELECT baton.complete(id, lease_token) FROM owned$$, '25006', NULL, 'complete refuses');
SELECT throws_ok($$SELECT * FROM baton.complete_batch(ARRAY(SELECT id FROM owned), ARRAY(SELECT lease_token FROM owned))$$,
                 '25006', NULL, 'complete_batch refuses');
SELECT throws_ok($$SELECT * FROM baton.complete_and_claim(ARRAY(SELECT id FROM owned), ARRAY(SELECT lease_token FROM owned), 'tap_ro', 'tap-ro-worker')$$,
                 '25006', NULL, 'complete_and_claim refuses');
SELECT throws_ok($$SELECT * FROM baton.complete_batch('{}', '{}')$$, '25006', NULL, 'complete_batch of nothing refuses too');
SELECT throws_ok($$SELECT baton.fail(id, lease_token, 'no') FROM owned$$, '25006', NULL, 'fail refuses');
SELECT throws_ok($$SELECT * FROM baton.heartbeat('tap-ro-worker')$$, '25006', NULL, 'heartbeat refuses');
SELECT throws_ok($$SELECT baton.renew(id, lease_token) FROM owned$$, '25006', NULL, 'renew refuses');
SELECT throws_ok($$SELECT baton.cancel(id) FROM owned$$, '25006', NULL, 'cancel refuses');
SELECT throws_ok($$SELECT baton.enqueue('tap_ro', '{"n": 3}')$$, '25006', NULL, 'enqueue refuses');
SELECT throws_ok($$SELECT * FROM baton.enqueue_batch('tap_ro', '[{"payload": {"n": 4}}]')$$, '25006', NULL, 'enqueue_batch refuses');
SELECT throws_ok($$SELECT baton.create_queue('tap_ro_2')$$, '25006', NULL, 'create_queue refuses');
SELECT throws_ok($$SELECT baton.drop_queue('tap_ro', force => true)$$, '25006', NULL, 'drop_queue refuses');
SELECT throws_ok($$SELECT baton.purge('tap_ro', '0 seconds')$$, '25006', NULL, 'purge refuses');
SELECT throws_ok($$SELECT baton.set_limit('tap-ro-sem', 3)$$, '25006', NULL, 'set_limit refuses');
SELECT throws_ok($$SELECT baton.acquire('tap-ro-sem', 'other', '1 minute')$$, '25006', NULL, 'acquire refuses');
SELECT throws_ok($$SELECT baton.extend('tap-ro-sem', token, '2 minutes') FROM held$$, '25006', NULL, 'extend refuses');
SELECT throws_ok($$SELECT baton.release('tap-ro-sem', token) FROM held$$, '25006', NULL, 'release refuses');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('public.tap_ro_upsert', '{k}', '[{"k": 1, "v": 1}]')$$,
                 '25006', NULL, 'sorted_upsert refuses');

SELECT is((SELECT jobs FROM before_calls),
          (SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j), 'no job changed');
SELECT is((SELECT queues || limits FROM before_calls),
          (SELECT (SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q)
               || (SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l)),
          'no queue or limit changed');
SELECT is((SELECT holders FROM before_calls),
          (SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h), 'no holder changed');

SELECT * FROM finish();
ROLLBACK;
