-- Every array argument has a stated limit: at most 10,000 elements (docs/contract.md
-- "General rules": 22023 for a bad value). complete_batch and
-- complete_and_claim (ids, lease_tokens), lock_keys and try_lock_keys (keys)
-- refuse 10,001 elements with 22023 before doing any work: no job is
-- completed or claimed, no key is taken. 10,000 elements are accepted.
-- (The JSON arrays of enqueue_batch and sorted_upsert have the same limit;
-- enqueue_batch's is tested in batch_input_is_checked.) A key given twice
-- counts twice: the limit is on the argument, not on what it names.
--
-- The whole file is one transaction (rolled back at the end).
BEGIN;
SELECT plan(18);

-- Fixture: queue tap_lim with a running job (its id and token are the first
-- element of every ids/lease_tokens array below; the others name no job) and
-- a ready job; arrays of 10,000 and 10,001 elements.
DO $$
BEGIN
    PERFORM baton.create_queue('tap_lim');
    PERFORM baton.enqueue('tap_lim', '{"n": 1}', priority => 1);
END $$;
CREATE TEMP TABLE owned AS SELECT id, lease_token FROM baton.claim('tap_lim', 'tap-lim-w');
DO $$ BEGIN PERFORM baton.enqueue('tap_lim', '{"n": 2}'); END $$;
CREATE TEMP TABLE arg AS
SELECT n,
       (SELECT id FROM owned) || ARRAY(SELECT -i::bigint FROM generate_series(2, n) i) AS ids,
       (SELECT lease_token FROM owned) || ARRAY(SELECT i::bigint FROM generate_series(2, n) i) AS tokens,
       ARRAY(SELECT 'tap-lim-' || (i % 3) FROM generate_series(1, n) i) AS keys
  FROM (VALUES (10000), (10001)) v(n);

SELECT is((SELECT array_agg(cardinality(ids) ORDER BY n) FROM arg), ARRAY[10000, 10001],
          'the fixture holds arrays of 10,000 and 10,001 elements');

-------------------------------------------------------------------------------
-- 10,001 elements: refused with 22023, nothing done.
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM baton.complete_batch((SELECT ids FROM arg WHERE n = 10001), (SELECT tokens FROM arg WHERE n = 10001))$$,
                 '22023', NULL, 'complete_batch: 10,001 ids and lease_tokens are refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.complete_and_claim((SELECT ids FROM arg WHERE n = 10001), (SELECT tokens FROM arg WHERE n = 10001), 'tap_lim', 'tap-lim-w2')$$,
                 '22023', NULL, 'complete_and_claim: 10,001 ids and lease_tokens are refused with 22023');
SELECT throws_ok($$SELECT baton.lock_keys((SELECT keys FROM arg WHERE n = 10001))$$,
                 '22023', NULL, 'lock_keys: 10,001 keys are refused with 22023');
SELECT throws_ok($$SELECT baton.lock_keys((SELECT keys FROM arg WHERE n = 10001), '1 second')$$,
                 '22023', NULL, 'lock_keys: 10,001 keys with a timeout are refused with 22023');
SELECT throws_ok($$SELECT baton.try_lock_keys((SELECT keys FROM arg WHERE n = 10001))$$,
                 '22023', NULL, 'try_lock_keys: 10,001 keys are refused with 22023');
SELECT throws_ok($$SELECT baton.lock_keys(array_fill('tap-lim-same'::text, ARRAY[10001]))$$,
                 '22023', NULL, 'lock_keys: one key given 10,001 times is refused with 22023');
SELECT results_eq($$SELECT payload->>'n', state, worker FROM baton.jobs WHERE queue = 'tap_lim' ORDER BY id$$,
                  $$VALUES ('1', 'running', 'tap-lim-w'), ('2', 'ready', NULL)$$,
                  'the refused calls completed and claimed nothing');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16980
              AND pid = pg_backend_pid()), 0::bigint,
          'the refused calls took no key');

-------------------------------------------------------------------------------
-- 10,000 elements: accepted.
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.lock_keys((SELECT keys FROM arg WHERE n = 10000))$$,
                'lock_keys: 10,000 keys are accepted');
SELECT lives_ok($$SELECT baton.lock_keys((SELECT keys FROM arg WHERE n = 10000), '1 second')$$,
                'lock_keys: 10,000 keys with a timeout are accepted');
SELECT is(baton.try_lock_keys((SELECT keys FROM arg WHERE n = 10000)), true,
          'try_lock_keys: 10,000 keys are accepted');
SELECT is(baton.key_holder('tap-lim-2'), pg_backend_pid(), 'the keys are held');
SELECT lives_ok($$SELECT baton.lock_keys(array_fill('tap-lim-same'::text, ARRAY[10000]))$$,
                'lock_keys: one key given 10,000 times is accepted');
SELECT is(ARRAY(SELECT * FROM baton.complete_batch((SELECT ids FROM arg WHERE n = 10000), (SELECT tokens FROM arg WHERE n = 10000))),
          ARRAY[(SELECT id FROM owned)],
          'complete_batch: 10,000 ids and lease_tokens are accepted (the one owned job is completed)');
SELECT is((SELECT state FROM baton.jobs j JOIN owned o USING (id)), 'completed', 'job 1 is completed');
SELECT is(ARRAY(SELECT payload->>'n' FROM baton.complete_and_claim((SELECT ids FROM arg WHERE n = 10000), (SELECT tokens FROM arg WHERE n = 10000), 'tap_lim', 'tap-lim-w2')),
          ARRAY['2'],
          'complete_and_claim: 10,000 ids and lease_tokens are accepted (it claims job 2)');
SELECT is((SELECT count(*) FROM baton.jobs WHERE queue = 'tap_lim' AND state = 'completed'), 1::bigint,
          'nothing else was completed');

SELECT * FROM finish();
ROLLBACK;
