-- Intervals end after they begin, at every date (docs/contract.md "General rules":
-- lease, ttl and retry_base must be > 0; timeout, retry_in and older_than
-- must be >= 0). An interval that mixes months, days and time can be
-- positive on one date and negative on another: '-1 year 361 days' compares
-- greater than zero (a month counts 30 days) but ends before it begins on
-- every date (a year has at least 365 days). Such an interval is refused with
-- 22023. The rule: a month counts as 28 days when positive and 31 when
-- negative, a day as 23 hours when positive and 25 when negative (DST); the
-- sum must be > 0, or >= 0 for the non-negative arguments. So
-- '-1 year 361 days' is negative, '1 month -30 days' is negative too (it is
-- -2 days in February), and '1 day -1 hour' (22 hours at least) is positive.
--
-- The refused calls change nothing: a refused claim leaves the job ready and
-- unclaimed (it never hands out a lease that has already expired, which
-- another worker would take at once), a refused acquire issues no token (a
-- 1-slot key never has two holders), a refused create_queue creates or
-- changes no queue, a refused renew, extend or heartbeat leaves the lease as
-- it was.
--
-- The whole file is one transaction (rolled back at the end).
BEGIN;
SELECT plan(55);

-------------------------------------------------------------------------------
-- Fixture: queue tap_iv (lease 1 minute). Jobs A1 and A2 (priority 1) are
-- running, owned by worker tap-iv-w1 (A1 for renew and heartbeat, A2 for
-- fail); job B (priority 0) is ready.
-------------------------------------------------------------------------------
DO $$
BEGIN
    PERFORM baton.create_queue('tap_iv', '1 minute');
    PERFORM baton.enqueue('tap_iv', '{"n": "A1"}', priority => 1);
    PERFORM baton.enqueue('tap_iv', '{"n": "A2"}', priority => 1);
END $$;
CREATE TEMP TABLE owned AS
    SELECT payload->>'n' AS name, id, lease_token FROM baton.claim('tap_iv', 'tap-iv-w1', 2);
DO $$ BEGIN PERFORM baton.enqueue('tap_iv', '{"n": "B"}'); END $$;

-------------------------------------------------------------------------------
-- claim (and complete_and_claim, which claims exactly as claim does).
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM baton.claim('tap_iv', 'tap-iv-w2', 1, '-1 year 361 days')$$, '22023', NULL,
                 'claim: a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.claim('tap_iv', 'tap-iv-w2', 1, '1 month -30 days')$$, '22023', NULL,
                 'claim: a lease of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_iv', 'tap-iv-w2', 1, '-1 year 361 days')$$,
                 '22023', NULL, 'complete_and_claim: a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.claim('tap_iv', 'tap-iv-w2', 1, '0')$$, '22023', NULL,
                 'claim: a lease of 0 is still refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.claim('tap_iv', 'tap-iv-w2', 1, '-1 second')$$, '22023', NULL,
                 'claim: a lease of -1 second is still refused with 22023');
SELECT results_eq($$SELECT state, attempt, worker, lease_token FROM baton.jobs WHERE payload->>'n' = 'B' AND queue = 'tap_iv'$$,
                  $$VALUES ('ready'::text, 0, NULL::text, NULL::bigint)$$,
                  'after the refused claims job B is still ready and unclaimed');
SELECT is((SELECT count(*) FROM baton.jobs
            WHERE queue = 'tap_iv' AND state = 'running' AND lease_expires_at <= clock_timestamp()),
          0::bigint, 'no running job of the queue holds a lease that has already expired');

-------------------------------------------------------------------------------
-- acquire and extend: a 1-slot key never has two holders.
-------------------------------------------------------------------------------
CREATE TEMP TABLE issued (owner text, token bigint);
SELECT throws_ok($$INSERT INTO issued SELECT 'o1', baton.acquire('tap-iv-sem', 'o1', '-1 year 361 days')$$, '22023', NULL,
                 'acquire: a ttl of -1 year 361 days is refused with 22023');
SELECT throws_ok($$INSERT INTO issued SELECT 'o1', baton.acquire('tap-iv-sem', 'o1', '1 month -30 days')$$, '22023', NULL,
                 'acquire: a ttl of 1 month -30 days is refused with 22023');
SELECT throws_ok($$INSERT INTO issued SELECT 'o1', baton.acquire('tap-iv-sem', 'o1', '0')$$, '22023', NULL,
                 'acquire: a ttl of 0 is still refused with 22023');
INSERT INTO issued SELECT 'o2', baton.acquire('tap-iv-sem', 'o2', '1 minute');
INSERT INTO issued SELECT 'o3', baton.acquire('tap-iv-sem', 'o3', '1 minute');
SELECT is((SELECT string_agg(owner, ' ' ORDER BY owner) FROM issued WHERE token IS NOT NULL), 'o2',
          'the 1-slot key issued one token in all, to the first valid acquire');
SELECT throws_ok($$SELECT baton.extend('tap-iv-sem', token, '-1 year 361 days') FROM issued WHERE owner = 'o2'$$, '22023', NULL,
                 'extend: a ttl of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.extend('tap-iv-sem', token, '1 month -30 days') FROM issued WHERE owner = 'o2'$$, '22023', NULL,
                 'extend: a ttl of 1 month -30 days is refused with 22023');
SELECT is((SELECT string_agg(owner, ' ') FROM baton.holders WHERE key = 'tap-iv-sem'), 'o2',
          'after the refused extends o2 still holds the slot');
SELECT is(baton.acquire('tap-iv-sem', 'o4', '1 minute'), NULL, 'and the slot is not free for anyone else');
SELECT isnt(baton.acquire('tap-iv-sem2', 'o5', '1 day -1 hour'), NULL,
            'acquire: a ttl of 1 day -1 hour is accepted');
SELECT ok((SELECT expires_at > clock_timestamp() + interval '21 hours' FROM baton.holders WHERE key = 'tap-iv-sem2'),
          'its holder expires about 23 hours later');

-------------------------------------------------------------------------------
-- create_queue: lease and retry_base.
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '-1 year 361 days')$$, '22023', NULL,
                 'create_queue: a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '1 month -30 days')$$, '22023', NULL,
                 'create_queue: a lease of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '1 minute', 3, '-1 year 361 days')$$, '22023', NULL,
                 'create_queue: a retry_base of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '1 minute', 3, '1 month -30 days')$$, '22023', NULL,
                 'create_queue: a retry_base of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '0')$$, '22023', NULL,
                 'create_queue: a lease of 0 is still refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv_new', '-1 second')$$, '22023', NULL,
                 'create_queue: a lease of -1 second is still refused with 22023');
SELECT is((SELECT count(*) FROM baton._queues WHERE queue = 'tap_iv_new'), 0::bigint,
          'the refused calls created no queue');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv', '-1 year 361 days')$$, '22023', NULL,
                 'create_queue: updating a queue to a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.create_queue('tap_iv', '1 minute', 25, '-1 year 361 days')$$, '22023', NULL,
                 'create_queue: updating a queue to a retry_base of -1 year 361 days is refused with 22023');
SELECT results_eq($$SELECT lease, retry_base FROM baton._queues WHERE queue = 'tap_iv'$$,
                  $$VALUES (interval '1 minute', interval '1 second')$$,
                  'the refused updates left the queue''s lease and retry_base as they were');
SELECT lives_ok($$SELECT baton.create_queue('tap_iv_ok', '1 day -1 hour', 3, '1 day -1 hour')$$,
                'create_queue: a lease and a retry_base of 1 day -1 hour are accepted');
SELECT results_eq($$SELECT lease, retry_base FROM baton._queues WHERE queue = 'tap_iv_ok'$$,
                  $$VALUES (interval '1 day -1 hour', interval '1 day -1 hour')$$,
                  'and stored as given');

-------------------------------------------------------------------------------
-- renew and heartbeat: a refused call leaves the lease as it was.
-------------------------------------------------------------------------------
CREATE TEMP TABLE a1_before AS
    SELECT j.lease_expires_at FROM baton.jobs j JOIN owned o USING (id) WHERE o.name = 'A1';
SELECT throws_ok($$SELECT baton.renew(id, lease_token, '-1 year 361 days') FROM owned WHERE name = 'A1'$$, '22023', NULL,
                 'renew: a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.renew(id, lease_token, '1 month -30 days') FROM owned WHERE name = 'A1'$$, '22023', NULL,
                 'renew: a lease of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.heartbeat('tap-iv-w1', '-1 year 361 days')$$, '22023', NULL,
                 'heartbeat: a lease of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.heartbeat('tap-iv-w1', '1 month -30 days')$$, '22023', NULL,
                 'heartbeat: a lease of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT * FROM baton.heartbeat('tap-iv-w1', '0')$$, '22023', NULL,
                 'heartbeat: a lease of 0 is still refused with 22023');
SELECT is((SELECT j.lease_expires_at FROM baton.jobs j JOIN owned o USING (id) WHERE o.name = 'A1'),
          (SELECT lease_expires_at FROM a1_before),
          'after the refused renews and heartbeats A1''s lease is as it was');
SELECT is((SELECT count(*) FROM baton.jobs
            WHERE queue = 'tap_iv' AND state = 'running' AND lease_expires_at > clock_timestamp()),
          2::bigint, 'A1 and A2 are still running under live leases');
SELECT ok((SELECT baton.renew(id, lease_token, '1 day -1 hour') > clock_timestamp() + interval '21 hours'
             FROM owned WHERE name = 'A1'),
          'renew: a lease of 1 day -1 hour is accepted');

-------------------------------------------------------------------------------
-- The non-negative ones: lock_key and lock_keys timeout, fail's retry_in,
-- purge's older_than. 0 is accepted; an interval that is negative on some
-- date is not.
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT baton.lock_key('tap-iv-k1', '1 month -30 days')$$, '22023', NULL,
                 'lock_key: a timeout of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.lock_key('tap-iv-k1', '-1 year 361 days')$$, '22023', NULL,
                 'lock_key: a timeout of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.lock_keys(ARRAY['tap-iv-k1', 'tap-iv-k2'], '1 month -30 days')$$, '22023', NULL,
                 'lock_keys: a timeout of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.lock_keys(ARRAY['tap-iv-k1', 'tap-iv-k2'], '-1 year 361 days')$$, '22023', NULL,
                 'lock_keys: a timeout of -1 year 361 days is refused with 22023');
SELECT is(baton.key_holder('tap-iv-k1'), NULL, 'the refused lock calls took no key');
SELECT throws_ok($$SELECT baton.fail(id, lease_token, 'e', '1 month -30 days') FROM owned WHERE name = 'A2'$$, '22023', NULL,
                 'fail: a retry_in of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.fail(id, lease_token, 'e', '-1 year 361 days') FROM owned WHERE name = 'A2'$$, '22023', NULL,
                 'fail: a retry_in of -1 year 361 days is refused with 22023');
SELECT is((SELECT j.state FROM baton.jobs j JOIN owned o USING (id) WHERE o.name = 'A2'), 'running',
          'after the refused fails A2 is still running');
SELECT throws_ok($$SELECT baton.purge('tap_iv', '1 month -30 days')$$, '22023', NULL,
                 'purge: an older_than of 1 month -30 days is refused with 22023');
SELECT throws_ok($$SELECT baton.purge('tap_iv', '-1 year 361 days')$$, '22023', NULL,
                 'purge: an older_than of -1 year 361 days is refused with 22023');
SELECT throws_ok($$SELECT baton.lock_key('tap-iv-k1', '-1 second')$$, '22023', NULL,
                 'lock_key: a timeout of -1 second is still refused with 22023');
SELECT lives_ok($$SELECT baton.lock_key('tap-iv-k1', '0')$$, 'lock_key: a timeout of 0 is still accepted');
SELECT lives_ok($$SELECT baton.lock_keys(ARRAY['tap-iv-k2', 'tap-iv-k3'], '0')$$, 'lock_keys: a timeout of 0 is still accepted');
SELECT lives_ok($$SELECT baton.lock_key('tap-iv-k4', '1 day -1 hour')$$, 'lock_key: a timeout of 1 day -1 hour is accepted');
SELECT lives_ok($$SELECT baton.purge('tap_iv', '0')$$, 'purge: an older_than of 0 is still accepted');
SELECT lives_ok($$SELECT baton.purge('tap_iv', '1 day -1 hour')$$, 'purge: an older_than of 1 day -1 hour is accepted');
SELECT is((SELECT baton.fail(id, lease_token, 'e', '0') FROM owned WHERE name = 'A2'), 'ready',
          'fail: a retry_in of 0 is still accepted (the job is ready again)');
SELECT is((SELECT count(*) FROM baton.heartbeat('tap-iv-w1', '1 day -1 hour')), 1::bigint,
          'heartbeat: a lease of 1 day -1 hour is accepted (it extends A1)');

SELECT * FROM finish();
ROLLBACK;
