-- A claim's work does not grow with jobs it cannot take. Measured in index
-- entries read (this transaction's own counts),
-- not in time: the claim path reads baton._jobs's indexes directly, and
-- pg_stat_get_xact_tuples_returned counts the entries an index returned in
-- this backend since its statistics were last reported (so: a difference).
-- 1. Busy concurrency keys: a claim that finds a key full parks the key's
--    ready job (it leaves the ready index) and keeps no lock for the key, so
--    the next claim reads past none of them; a freed slot wakes the job.
-- 2. Jobs not due yet at a higher priority are not walked.
-- 3. Jobs kept alive by heartbeats are not walked as possibly expired.
-- 4. After a fleet of workers died, a claim of n reads at most n + 100 of
--    the expired leases (those that expired first), not all of them.
-- 5. The lease-index entries completed jobs left behind (dead, until
--    VACUUM) are not walked again by every claim: measured in index pages,
--    since the index no longer returns entries it knows are dead but still
--    reads the pages that hold them. A lease an SQL statement backdates
--    below where claims now start is still found.
CREATE FUNCTION entries_read(index_name text) RETURNS bigint LANGUAGE sql AS $$
    SELECT pg_stat_get_xact_tuples_returned(('baton.' || index_name)::regclass)
$$;
-- Entries of the index one claim of a job from queue q reads. The least of
-- three such claims is what the test reads: index entries a claim finds dead
-- are marked dead in the index for the next claims, unless an older snapshot
-- (autovacuum's, say) still sees their rows at that moment.
CREATE FUNCTION claim_reads(q text, index_name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before bigint := entries_read(index_name);
BEGIN
    PERFORM baton.claim(q, 'w', 1);
    RETURN entries_read(index_name) - before;
END $$;
CREATE FUNCTION locks_held(space int) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_locks
     WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = space
$$;

-- 1. 500 keys, each with one slot held by a running job and one ready job
-- (priority 5), and a keyless job at priority -1 behind them all.
SELECT baton.create_queue('busy');
SELECT count(*) FROM (SELECT baton.enqueue('busy', '{}', priority => 5, concurrency_key => 'busy:' || g)
                        FROM generate_series(1, 500) g) s;
SELECT count(*) AS running FROM baton.claim('busy', 'holder', 1000);
SELECT count(*) FROM (SELECT baton.enqueue('busy', '{}', priority => 5, concurrency_key => 'busy:' || g)
                        FROM generate_series(1, 500) g) s;
SELECT baton.enqueue('busy', '{"free": 1}', priority => -1) > 0 AS enqueued;
BEGIN;
SELECT payload FROM baton.claim('busy', 'w', 1);
-- no key's guard is kept (16981); parking locks are 64 at most (16983)
SELECT locks_held(16981) AS guards_kept, locks_held(16983) <= 64 AS parking_locks_bounded;
COMMIT;
SELECT count(*) AS parked FROM baton._jobs WHERE queue = 'busy' AND blocked_until IS NOT NULL;
-- Claims after it read past none of them: they left the ready index (the
-- first claim after the parking reads past their old entries, once).
SELECT count(*) FROM (SELECT baton.enqueue('busy', '{}', priority => -1) FROM generate_series(1, 3)) s;
SELECT least(claim_reads('busy', '_jobs_ready'), claim_reads('busy', '_jobs_ready'),
             claim_reads('busy', '_jobs_ready')) < 10 AS few_ready_entries_read;
-- A slot frees: the key's parked job is ready again, and claimed.
SELECT baton.complete(id, lease_token) AS completed
  FROM baton.jobs WHERE queue = 'busy' AND concurrency_key = 'busy:7' AND state = 'running';
SELECT concurrency_key, state, blocked_until IS NULL AS woken
  FROM baton._jobs WHERE queue = 'busy' AND concurrency_key = 'busy:7' ORDER BY id;
SELECT concurrency_key FROM baton.claim('busy', 'w', 1);
-- Cancelling a running keyed job and releasing a holder wake, too.
SELECT baton.cancel(id) AS cancelled
  FROM baton.jobs WHERE queue = 'busy' AND concurrency_key = 'busy:8' AND state = 'running';
SELECT concurrency_key FROM baton.claim('busy', 'w', 1);
SELECT baton.acquire('busy:h', 'o', '1 hour') AS token \gset
SELECT baton.enqueue('busy', '{}', priority => 9, concurrency_key => 'busy:h') > 0 AS enqueued;
SELECT count(*) AS claimed FROM baton.claim('busy', 'w', 1);  -- parks it: busy:h is full
SELECT baton.release('busy:h', :token) AS released;
SELECT concurrency_key FROM baton.claim('busy', 'w', 1);
-- A key with no slots parks its job for good, until set_limit gives it one.
SELECT baton.set_limit('busy:zero', 0);
SELECT baton.enqueue('busy', '{}', priority => 9, concurrency_key => 'busy:zero') > 0 AS enqueued;
SELECT count(*) AS claimed FROM baton.claim('busy', 'w', 1);  -- parks it until infinity
SELECT blocked_until = 'infinity' AS parked_for_good FROM baton._jobs WHERE concurrency_key = 'busy:zero';
SELECT baton.set_limit('busy:zero', 1);
SELECT concurrency_key FROM baton.claim('busy', 'w', 1);
SELECT baton.drop_queue('busy', force => true);

-- 2. 2,000 jobs at priority 100 due next year, one due job at priority 0.
SELECT baton.create_queue('later');
SELECT count(*) FROM baton.enqueue_batch('later',
    (SELECT jsonb_agg(jsonb_build_object('priority', 100, 'run_at', (now() + interval '1 year')::text))
       FROM generate_series(1, 2000)));
SELECT count(*) FROM (SELECT baton.enqueue('later', '{}') FROM generate_series(1, 3)) s;
SELECT least(claim_reads('later', '_jobs_ready'), claim_reads('later', '_jobs_ready'),
             claim_reads('later', '_jobs_ready')) < 10 AS few_ready_entries_read;
SELECT baton.drop_queue('later', force => true);
-- Skipping what is not due keeps the claim order among what is.
SELECT baton.create_queue('order');
SELECT count(*) FROM baton.enqueue_batch('order', jsonb_build_array(
    jsonb_build_object('payload', 'p100-later', 'priority', 100, 'run_at', (now() + interval '1 hour')::text),
    jsonb_build_object('payload', 'p100-due', 'priority', 100),
    jsonb_build_object('payload', 'p50-later', 'priority', 50, 'run_at', (now() + interval '1 hour')::text),
    jsonb_build_object('payload', 'p50-due-1', 'priority', 50, 'run_at', (now() - interval '1 minute')::text),
    jsonb_build_object('payload', 'p50-due-2', 'priority', 50),
    jsonb_build_object('payload', 'p7-later', 'priority', 7, 'run_at', (now() + interval '1 hour')::text),
    jsonb_build_object('payload', 'p-3-due', 'priority', -3)));
SELECT string_agg(payload #>> '{}', ' ') AS claim_order FROM baton.claim('order', 'w', 10);
SELECT baton.drop_queue('order', force => true);

-- 3. 300 running jobs whose first lease would have passed, kept alive by a
-- heartbeat: a claim does not read them as possibly expired.
SELECT baton.create_queue('alive', lease => '1 minute');
SELECT count(*) FROM baton.enqueue_batch('alive', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 300)));
SELECT count(*) AS running FROM baton.claim('alive', 'hb', 1000);
-- as if the claim had been a minute ago: the lease was extended since, and
-- reclaim_after (the expiry the claim set) has passed
UPDATE baton._jobs SET reclaim_after = clock_timestamp() - interval '1 second' WHERE queue = 'alive';
SELECT count(*) AS extended FROM baton.heartbeat('hb');
SELECT least(claim_reads('alive', '_jobs_running'), claim_reads('alive', '_jobs_running'),
             claim_reads('alive', '_jobs_running')) < 10 AS few_running_entries_read;
SELECT baton.drop_queue('alive', force => true);

-- 4. 500 running jobs of workers that died: every lease has expired.
SELECT baton.create_queue('fleet', lease => '1 minute');
SELECT count(*) FROM baton.enqueue_batch('fleet', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 500)));
SELECT count(*) AS running FROM baton.claim('fleet', 'gone', 1000);
UPDATE baton._jobs SET lease_expires_at = clock_timestamp() - interval '1 second',
                       reclaim_after = clock_timestamp() - interval '1 second' WHERE queue = 'fleet';
SELECT least(claim_reads('fleet', '_jobs_running'), claim_reads('fleet', '_jobs_running'),
             claim_reads('fleet', '_jobs_running')) < 110 AS few_expired_entries_read;
-- ... and every one of them is taken again in the end, by claims of any size.
SELECT count(*) AS reclaimed FROM baton.claim('fleet', 'new', 200);
SELECT count(*) AS reclaimed FROM baton.claim('fleet', 'new', 200);
SELECT count(*) AS reclaimed FROM baton.claim('fleet', 'new', 200);
SELECT worker, attempt, count(*) FROM baton.jobs WHERE queue = 'fleet' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT baton.drop_queue('fleet', force => true);
-- 5. 6,000 jobs claimed with a lease of 1 second and completed: their
-- entries in _jobs_running are dead and, a second later, all in the range
-- of possibly expired leases.
CREATE FUNCTION claim_pages(q text, index_name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    before bigint := pg_stat_get_xact_blocks_fetched(('baton.' || index_name)::regclass);
BEGIN
    PERFORM baton.claim(q, 'w', 1);
    RETURN pg_stat_get_xact_blocks_fetched(('baton.' || index_name)::regclass) - before;
END $$;
SELECT baton.create_queue('lapsed', lease => '1 second');
SELECT count(*) FROM baton.enqueue_batch('lapsed', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 6000)));
DO $$
BEGIN
    FOR i IN 1..6 LOOP
        PERFORM count(baton.complete(c.id, c.lease_token)) FROM baton.claim('lapsed', 'w', 1000) c;
    END LOOP;
END $$;
SELECT count(*) AS completed FROM baton._jobs WHERE queue = 'lapsed' AND state = 'completed';
SELECT pg_sleep(1.2);
SELECT count(*) FROM (SELECT baton.enqueue('lapsed', '{}') FROM generate_series(1, 5)) s;
-- The first claim reads past them all and marks them dead in the index;
-- the next one reads past the pages of marked entries (about 9 here) and
-- finds no live one: the claims after it start after them. Each claim
-- also writes its new lease's entry (2 pages).
SELECT claim_pages('lapsed', '_jobs_running') > 6 AS first_claim_reads_them;
SELECT least(claim_pages('lapsed', '_jobs_running'), claim_pages('lapsed', '_jobs_running'),
             claim_pages('lapsed', '_jobs_running')) < 6 AS few_lease_pages_read;
-- A running job whose lease a superuser's UPDATE sets an hour back: the
-- statement moves the epoch, and the next claim reclaims it.
SELECT count(*) AS running FROM baton.claim('lapsed', 'slow', 1, lease => '1 hour');
UPDATE baton._jobs SET lease_expires_at = clock_timestamp() - interval '1 hour',
                       reclaim_after = clock_timestamp() - interval '1 hour'
 WHERE queue = 'lapsed' AND worker = 'slow' AND state = 'running';
SELECT attempt AS reclaimed_at_attempt FROM baton.claim('lapsed', 'next', 1);
SELECT baton.drop_queue('lapsed', force => true);
DROP FUNCTION claim_pages(text, text);
DROP FUNCTION claim_reads(text, text);
DROP FUNCTION entries_read(text);
DROP FUNCTION locks_held(int);
