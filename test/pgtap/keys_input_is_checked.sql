-- Keys, semaphores and key locks: their input is checked (docs/contract.md "General
-- rules": 22004 for a forbidden NULL, NULL array elements included; 22023 for
-- any other bad value: an empty key, a key over 512 bytes, an empty keys
-- array, negative slots, a ttl that is not > 0, a negative timeout), and what
-- the checks let through behaves as docs/contract.md "Concurrency keys and semaphores"
-- and "Transaction-scoped key locks" say: set_limit 0 pauses a key, the
-- holders view shows job slots and explicit holders as documented, key locks
-- live in baton's own lock space (pg_locks: advisory, objsubid 16980) and end
-- with the (sub)transaction that took them.
--
-- The whole file is one transaction (rolled back at the end). Tests that
-- need a second session (a key held by another transaction, timeout 0
-- against a held key, release at commit) are in the isolation specs
-- key_locks_never_deadlock, concurrency_limit_is_never_exceeded and
-- semaphore_takeover.
BEGIN;
SELECT plan(130);

-- A live explicit holder, for extend and release; a queue with a job whose
-- key is 'tap-pause' (priority 1) and an unkeyed job; the backend's pid.
CREATE TEMP TABLE held AS SELECT baton.acquire('tap-keys-sem', 'tap-keys-owner', '1 minute') AS token;
DO $$
BEGIN
    PERFORM baton.create_queue('tap_keys');
    PERFORM baton.enqueue('tap_keys', '{"n": 1}', priority => 1, concurrency_key => 'tap-pause');
    PERFORM baton.enqueue('tap_keys', '{"n": 2}');
END $$;
CREATE TEMP TABLE backend AS SELECT pg_backend_pid() AS pid;

-------------------------------------------------------------------------------
-- Refusals: the call and its SQLSTATE.
-------------------------------------------------------------------------------
CREATE TEMP TABLE refusal (
    n       serial PRIMARY KEY,
    call    text NOT NULL,
    errcode char(5) NOT NULL,
    rule    text NOT NULL
);

INSERT INTO refusal (call, errcode, rule) VALUES
-- NULL keys
($$SELECT baton.set_limit(NULL, 1)$$,                               '22004', 'set_limit: a NULL key'),
($$SELECT baton.acquire(NULL, 'o', '1 minute')$$,                   '22004', 'acquire: a NULL key'),
($$SELECT baton.extend(NULL, token, '1 minute') FROM held$$,        '22004', 'extend: a NULL key'),
($$SELECT baton.release(NULL, token) FROM held$$,                   '22004', 'release: a NULL key'),
($$SELECT baton.lock_key(NULL)$$,                                   '22004', 'lock_key: a NULL key'),
($$SELECT baton.lock_key(NULL, '1 second')$$,                       '22004', 'lock_key: a NULL key with a timeout'),
($$SELECT baton.try_lock_key(NULL)$$,                               '22004', 'try_lock_key: a NULL key'),
($$SELECT baton.key_holder(NULL)$$,                                 '22004', 'key_holder: a NULL key'),
($$SELECT baton.lock_keys(NULL)$$,                                  '22004', 'lock_keys: a NULL keys array'),
($$SELECT baton.lock_keys(NULL, '1 second')$$,                      '22004', 'lock_keys: a NULL keys array with a timeout'),
($$SELECT baton.try_lock_keys(NULL)$$,                              '22004', 'try_lock_keys: a NULL keys array'),
-- NULL array elements, first, middle, last, only
($$SELECT baton.lock_keys(ARRAY[NULL, 'tap-k1'])$$,                 '22004', 'lock_keys: a NULL first element'),
($$SELECT baton.lock_keys(ARRAY['tap-k1', NULL, 'tap-k2'])$$,       '22004', 'lock_keys: a NULL middle element'),
($$SELECT baton.lock_keys(ARRAY['tap-k1', NULL])$$,                 '22004', 'lock_keys: a NULL last element'),
($$SELECT baton.lock_keys(ARRAY[NULL]::text[])$$,                   '22004', 'lock_keys: an array of one NULL'),
($$SELECT baton.try_lock_keys(ARRAY[NULL, 'tap-k1'])$$,             '22004', 'try_lock_keys: a NULL first element'),
($$SELECT baton.try_lock_keys(ARRAY['tap-k1', NULL])$$,             '22004', 'try_lock_keys: a NULL last element'),
($$SELECT baton.try_lock_keys(ARRAY[NULL]::text[])$$,               '22004', 'try_lock_keys: an array of one NULL'),
-- empty arrays
($$SELECT baton.lock_keys(ARRAY[]::text[])$$,                       '22023', 'lock_keys: an empty array'),
($$SELECT baton.lock_keys('{}')$$,                                  '22023', 'lock_keys: an empty array literal'),
($$SELECT baton.lock_keys('{}', '1 second')$$,                      '22023', 'lock_keys: an empty array with a timeout'),
($$SELECT baton.try_lock_keys(ARRAY[]::text[])$$,                   '22023', 'try_lock_keys: an empty array'),
($$SELECT baton.try_lock_keys('{}')$$,                              '22023', 'try_lock_keys: an empty array literal'),
-- two-dimensional arrays
($$SELECT baton.lock_keys(ARRAY[['tap-k1', 'tap-k2'], ['tap-k3', 'tap-k4']])$$, '22023', 'lock_keys: a two-dimensional array'),
($$SELECT baton.try_lock_keys(ARRAY[['tap-k1', 'tap-k2']])$$,       '22023', 'try_lock_keys: a two-dimensional array'),
-- empty keys
($$SELECT baton.set_limit('', 1)$$,                                 '22023', 'set_limit: an empty key'),
($$SELECT baton.acquire('', 'o', '1 minute')$$,                     '22023', 'acquire: an empty key'),
($$SELECT baton.extend('', token, '1 minute') FROM held$$,          '22023', 'extend: an empty key'),
($$SELECT baton.release('', token) FROM held$$,                     '22023', 'release: an empty key'),
($$SELECT baton.lock_key('')$$,                                     '22023', 'lock_key: an empty key'),
($$SELECT baton.try_lock_key('')$$,                                 '22023', 'try_lock_key: an empty key'),
($$SELECT baton.key_holder('')$$,                                   '22023', 'key_holder: an empty key'),
($$SELECT baton.lock_keys(ARRAY['tap-k1', ''])$$,                   '22023', 'lock_keys: an empty key element'),
($$SELECT baton.try_lock_keys(ARRAY['', 'tap-k1'])$$,               '22023', 'try_lock_keys: an empty key element'),
($$SELECT baton.enqueue('tap_keys', concurrency_key => '')$$,       '22023', 'enqueue: an empty concurrency_key'),
-- keys of 513 bytes (ASCII) ...
($$SELECT baton.set_limit(repeat('k', 513), 1)$$,                   '22023', 'set_limit: a 513-byte key'),
($$SELECT baton.acquire(repeat('k', 513), 'o', '1 minute')$$,       '22023', 'acquire: a 513-byte key'),
($$SELECT baton.extend(repeat('k', 513), token, '1 minute') FROM held$$, '22023', 'extend: a 513-byte key'),
($$SELECT baton.release(repeat('k', 513), token) FROM held$$,       '22023', 'release: a 513-byte key'),
($$SELECT baton.lock_key(repeat('k', 513))$$,                       '22023', 'lock_key: a 513-byte key'),
($$SELECT baton.try_lock_key(repeat('k', 513))$$,                   '22023', 'try_lock_key: a 513-byte key'),
($$SELECT baton.key_holder(repeat('k', 513))$$,                     '22023', 'key_holder: a 513-byte key'),
($$SELECT baton.lock_keys(ARRAY['tap-k1', repeat('k', 513)])$$,     '22023', 'lock_keys: a 513-byte key element'),
($$SELECT baton.try_lock_keys(ARRAY[repeat('k', 513)])$$,           '22023', 'try_lock_keys: a 513-byte key element'),
($$SELECT baton.enqueue('tap_keys', concurrency_key => repeat('k', 513))$$, '22023', 'enqueue: a 513-byte concurrency_key'),
-- ... and of 513 bytes in 257 characters (the limit is in bytes)
($$SELECT baton.set_limit(repeat('é', 256) || 'k', 1)$$,            '22023', 'set_limit: a key of 257 characters, 513 bytes'),
($$SELECT baton.acquire(repeat('é', 256) || 'k', 'o', '1 minute')$$, '22023', 'acquire: a key of 257 characters, 513 bytes'),
($$SELECT baton.lock_key(repeat('é', 256) || 'k')$$,                '22023', 'lock_key: a key of 257 characters, 513 bytes'),
($$SELECT baton.try_lock_key(repeat('é', 256) || 'k')$$,            '22023', 'try_lock_key: a key of 257 characters, 513 bytes'),
($$SELECT baton.lock_keys(ARRAY[repeat('é', 256) || 'k'])$$,        '22023', 'lock_keys: a key element of 257 characters, 513 bytes'),
-- owners
($$SELECT baton.acquire('tap-keys-sem2', NULL, '1 minute')$$,       '22004', 'acquire: a NULL owner'),
($$SELECT baton.acquire('tap-keys-sem2', '', '1 minute')$$,         '22023', 'acquire: an empty owner'),
($$SELECT baton.acquire('tap-keys-sem2', repeat('o', 513), '1 minute')$$, '22023', 'acquire: a 513-byte owner'),
-- slots
($$SELECT baton.set_limit('tap-keys-lim', -1)$$,                    '22023', 'set_limit: slots -1'),
($$SELECT baton.set_limit('tap-keys-lim', -2147483648)$$,           '22023', 'set_limit: slots -2147483648'),
($$SELECT baton.set_limit('tap-keys-lim', NULL)$$,                  '22004', 'set_limit: NULL slots'),
-- ttl
($$SELECT baton.acquire('tap-keys-sem2', 'o', '0 seconds')$$,       '22023', 'acquire: a zero ttl'),
($$SELECT baton.acquire('tap-keys-sem2', 'o', '-1 second')$$,       '22023', 'acquire: a negative ttl'),
($$SELECT baton.acquire('tap-keys-sem2', 'o', '1 month -30 days')$$, '22023', 'acquire: a ttl that equals zero (1 month -30 days)'),
($$SELECT baton.acquire('tap-keys-sem2', 'o', '1 day -86401 seconds')$$, '22023', 'acquire: a ttl that is negative overall (1 day -86401 seconds)'),
($$SELECT baton.acquire('tap-keys-sem2', 'o', NULL)$$,              '22004', 'acquire: a NULL ttl'),
($$SELECT baton.extend('tap-keys-sem', token, '0 seconds') FROM held$$, '22023', 'extend: a zero ttl'),
($$SELECT baton.extend('tap-keys-sem', token, '-1 minute') FROM held$$, '22023', 'extend: a negative ttl'),
($$SELECT baton.extend('tap-keys-sem', token, NULL) FROM held$$,    '22004', 'extend: a NULL ttl'),
-- tokens
($$SELECT baton.extend('tap-keys-sem', NULL, '1 minute')$$,         '22004', 'extend: a NULL token'),
($$SELECT baton.release('tap-keys-sem', NULL)$$,                    '22004', 'release: a NULL token'),
-- timeouts
($$SELECT baton.lock_key('tap-k1', '-1 second')$$,                  '22023', 'lock_key: a negative timeout'),
($$SELECT baton.lock_key('tap-k1', '-0.000001 seconds')$$,          '22023', 'lock_key: a timeout of -1 microsecond'),
($$SELECT baton.lock_key('tap-k1', '1 month -31 days')$$,           '22023', 'lock_key: a timeout that is negative overall (1 month -31 days)'),
($$SELECT baton.lock_keys(ARRAY['tap-k1'], '-1 second')$$,          '22023', 'lock_keys: a negative timeout');

SELECT throws_ok(r.call, r.errcode, NULL, format('%s is refused with SQLSTATE %s', r.rule, r.errcode))
  FROM (SELECT * FROM refusal ORDER BY n) r;

SELECT is((SELECT count(*) FROM refusal), 70::bigint, 'all 70 refusals were exercised');
SELECT is((SELECT string_agg(h::text, E'\n') FROM baton._holders h WHERE h.key <> 'tap-keys-sem'), NULL,
          'the refused calls created no holder');
SELECT is((SELECT count(*) FROM baton._limits WHERE key LIKE 'tap-keys%'), 0::bigint,
          'the refused calls set no limit');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16980
              AND pid = pg_backend_pid()), 0::bigint,
          'the refused lock calls took no key lock');

-------------------------------------------------------------------------------
-- What the checks let through.
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.set_limit(repeat('é', 256), 1)$$,
                'set_limit accepts a key of 256 characters, 512 bytes');
SELECT lives_ok($$SELECT baton.lock_key(repeat('é', 256))$$,
                'lock_key accepts a key of 256 characters, 512 bytes');
SELECT lives_ok($$SELECT baton.lock_keys(ARRAY[repeat('k', 512), 'tap-k1', 'tap-k1'])$$,
                'lock_keys accepts a 512-byte key and a key given twice');
SELECT lives_ok($$SELECT baton.lock_keys('[0:1]={tap-k2,tap-k3}'::text[])$$,
                'lock_keys accepts an array whose lower bound is not 1');
SELECT lives_ok($$SELECT baton.lock_key('tap-k4', '0')$$,
                'lock_key accepts a timeout of 0 (a free key is taken at once)');
SELECT lives_ok($$SELECT baton.lock_key('tap-k4', '1 hour -3600 seconds')$$,
                'lock_key accepts a timeout that equals zero, for a key it holds already');
SELECT lives_ok($$SELECT baton.lock_key('tap-k5', NULL)$$, 'lock_key accepts a NULL timeout (the default)');
SELECT lives_ok($$SELECT baton.lock_keys(ARRAY['tap-k5'], NULL)$$, 'lock_keys accepts a NULL timeout');
SELECT is(baton.try_lock_key('tap-k1'), true, 'try_lock_key on a key this transaction holds returns true');
SELECT is(baton.try_lock_keys(ARRAY['tap-k1', 'tap-k6']), true,
          'try_lock_keys with a held key and a free one returns true');
SELECT is(baton.key_holder('tap-k6'), pg_backend_pid(), 'try_lock_keys took the free key');
SELECT is(baton.key_holder('tap-never-locked'), NULL, 'key_holder of a key nobody holds is NULL');
SELECT is(baton.extend('tap-keys-sem', -1, '1 minute'), false, 'extend of an unknown token returns false');
SELECT is(baton.release('tap-keys-sem', -1), false, 'release of an unknown token returns false');
SELECT is(baton.acquire('tap-keys-sem3', repeat('é', 256), '1 minute') IS NOT NULL, true,
          'acquire accepts a 512-byte owner');

-------------------------------------------------------------------------------
-- set_limit(key, 0) pauses the key; set_limit(key, 1) resumes it.
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.set_limit('tap-pause', 0)$$, 'set_limit accepts 0 slots');
SELECT is((SELECT slots FROM baton._limits WHERE key = 'tap-pause'), 0, 'the key has 0 slots');
SELECT is(ARRAY(SELECT payload->>'n' FROM baton.claim('tap_keys', 'tap-w1', 2)), ARRAY['2'],
          'a claim of 2 skips the paused key''s job (priority 1) and takes only the unkeyed one');
SELECT is(baton.acquire('tap-pause', 'tap-o', '1 minute'), NULL, 'acquire on a paused key returns NULL');
SELECT is((SELECT count(*) FROM baton.holders WHERE key = 'tap-pause'), 0::bigint,
          'nothing holds the paused key');
SELECT lives_ok($$SELECT baton.set_limit('tap-pause', 1)$$, 'set_limit back to 1');
SELECT is((SELECT slots FROM baton._limits WHERE key = 'tap-pause'), 1, 'set_limit updated the existing limit');
CREATE TEMP TABLE paused_job AS SELECT * FROM baton.claim('tap_keys', 'tap-w1', 2);
SELECT is(ARRAY(SELECT payload->>'n' FROM paused_job), ARRAY['1'], 'after set_limit 1 the keyed job is claimed');
SELECT is(baton.acquire('tap-pause', 'tap-o', '1 minute'), NULL,
          'the running job holds the one slot: acquire returns NULL');

-------------------------------------------------------------------------------
-- The holders view.
-------------------------------------------------------------------------------
SELECT results_eq(
    $$SELECT key, owner, token, job_id, acquired_at, expires_at, application_name, host
        FROM baton.holders WHERE key = 'tap-pause'$$,
    $$SELECT 'tap-pause'::text, 'tap-w1'::text, lease_token, id, (SELECT started_at FROM baton.jobs j WHERE j.id = p.id),
             lease_expires_at, NULL::text, NULL::text
        FROM paused_job p$$,
    'a job''s slot shows its key, its worker as owner, its lease token as token, its id as job_id, its start and lease expiry');
CREATE TEMP TABLE explicit AS
    SELECT baton.acquire('tap-explicit', 'tap-owner', '10 minutes') AS token, clock_timestamp() AS after_acquire;
SELECT results_eq(
    $$SELECT key, owner, token, job_id, application_name, host FROM baton.holders WHERE key = 'tap-explicit'$$,
    $$SELECT 'tap-explicit'::text, 'tap-owner'::text, token, NULL::bigint,
             current_setting('application_name'), host(inet_client_addr()) FROM explicit$$,
    'an explicit holder shows its owner and token, a NULL job_id, the session''s application_name and client host');
SELECT ok((SELECT h.expires_at - h.acquired_at = interval '10 minutes'
                  AND h.acquired_at <= e.after_acquire
                  AND h.acquired_at > e.after_acquire - interval '1 minute'
             FROM baton.holders h, explicit e WHERE h.key = 'tap-explicit'),
          'an explicit holder''s expires_at is acquired_at + ttl, acquired_at the time of the call');
SELECT is(baton.extend('tap-explicit', (SELECT token FROM explicit), '1 hour'), true, 'extend by the holder returns true');
SELECT ok((SELECT expires_at > clock_timestamp() + interval '59 minutes' FROM baton.holders WHERE key = 'tap-explicit'),
          'extend moved expires_at to now + ttl');
UPDATE baton._holders SET expires_at = clock_timestamp() - interval '1 second' WHERE key = 'tap-explicit';
SELECT is((SELECT count(*) FROM baton.holders WHERE key = 'tap-explicit'), 0::bigint,
          'an expired holder is not in the view');
SELECT is(baton.extend('tap-explicit', (SELECT token FROM explicit), '1 hour'), false,
          'an expired holder cannot extend');
SELECT is(baton.release('tap-explicit', (SELECT token FROM explicit)), false,
          'an expired holder cannot release');
SELECT isnt(baton.acquire('tap-explicit', 'tap-owner2', '1 minute'), NULL, 'the expired holder''s slot is free');
SELECT is((SELECT count(*) FROM baton._holders WHERE key = 'tap-explicit'), 1::bigint,
          'the acquire removed the expired holder');
SELECT ok((SELECT token > (SELECT token FROM explicit) FROM baton.holders WHERE key = 'tap-explicit'),
          'the new holder''s token is greater');

-------------------------------------------------------------------------------
-- Key locks in pg_locks, and their end with the subtransaction.
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.lock_key('tap-lk')$$, 'lock_key takes a free key');
SELECT is(baton.key_holder('tap-lk'), pg_backend_pid(), 'key_holder returns this backend''s pid');
SELECT is((SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND objsubid = 16980 AND pid = pg_backend_pid()
              AND mode = 'ExclusiveLock' AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),
          9::bigint,
          'pg_locks shows one granted advisory ExclusiveLock with objsubid 16980 per key held (9 distinct keys)');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid IN (1, 2)
              AND pid = pg_backend_pid()), 0::bigint,
          'none of them in pg_advisory_*''s spaces (objsubid 1 and 2)');
SELECT ok((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16981
              AND pid = pg_backend_pid()) >= 1,
          'semaphore decisions hold locks with objsubid 16981 until the transaction ends');
SELECT lives_ok($$SELECT baton.lock_key('tap-lk', '0')$$, 'lock_key with timeout 0 on a key this transaction holds returns at once');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16980
              AND pid = pg_backend_pid()), 9::bigint,
          'taking a held key again adds no lock');
SELECT is(current_setting('lock_timeout'), '0', 'lock_timeout is unchanged by the key lock calls');

-- A savepoint rolled back releases the keys taken after it. pgTAP results
-- recorded inside the savepoint would be rolled back with it: the values are
-- kept in psql variables and tested after the rollback.
SAVEPOINT tap_sp;
SELECT baton.lock_key('tap-sp1');
SELECT baton.try_lock_keys(ARRAY['tap-sp2', 'tap-sp3']) AS sp_try \gset
SELECT baton.key_holder('tap-sp1') = pg_backend_pid() AS sp1_held,
       baton.key_holder('tap-sp3') = pg_backend_pid() AS sp3_held,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16980
           AND pid = pg_backend_pid()) AS sp_count \gset
ROLLBACK TO SAVEPOINT tap_sp;
SELECT is(:'sp_try'::boolean, true, 'inside the savepoint try_lock_keys took two free keys');
SELECT is(:'sp1_held'::boolean, true, 'inside the savepoint the key taken there was held');
SELECT is(:'sp3_held'::boolean, true, 'inside the savepoint the keys taken by try_lock_keys were held');
SELECT is(:'sp_count'::bigint, 12::bigint, 'inside the savepoint pg_locks showed 3 more baton key locks');
SELECT is(baton.key_holder('tap-sp1'), NULL, 'ROLLBACK TO SAVEPOINT released the key taken by lock_key');
SELECT is(baton.key_holder('tap-sp2'), NULL, 'ROLLBACK TO SAVEPOINT released the keys taken by try_lock_keys');
SELECT is(baton.key_holder('tap-lk'), pg_backend_pid(), 'the key taken before the savepoint is still held');
SELECT is((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 16980
              AND pid = pg_backend_pid()), 9::bigint,
          'pg_locks is back to the 9 keys held before the savepoint');

-- RELEASE SAVEPOINT keeps them (they belong to the transaction from then on).
SAVEPOINT tap_sp2;
SELECT baton.lock_key('tap-sp4');
RELEASE SAVEPOINT tap_sp2;
SELECT is(baton.key_holder('tap-sp4'), pg_backend_pid(), 'a key taken in a released savepoint is still held');

-- An error caught in a PL/pgSQL block (a subtransaction) releases the keys
-- taken in that block.
CREATE FUNCTION pg_temp.lock_then_fail(OUT held_inside boolean, OUT caught text) LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM baton.lock_keys(ARRAY['tap-sub1', 'tap-sub2']);
        held_inside := baton.key_holder('tap-sub1') = pg_backend_pid()
                   AND baton.key_holder('tap-sub2') = pg_backend_pid();
        PERFORM baton.lock_key('');
    EXCEPTION WHEN invalid_parameter_value THEN
        caught := SQLSTATE;
    END;
END $$;
SELECT results_eq($$SELECT * FROM pg_temp.lock_then_fail()$$, $$VALUES (true, '22023'::text)$$,
                  'keys taken in a block are held there; the block''s error is 22023');
SELECT is(baton.key_holder('tap-sub1'), NULL, 'the failed block released its first key');
SELECT is(baton.key_holder('tap-sub2'), NULL, 'the failed block released its second key');
SELECT is(pg_backend_pid(), (SELECT pid FROM backend), 'the same backend answered every call');

SELECT * FROM finish();
ROLLBACK;
