-- baton 0.1.0 -> 0.2.0. CREATE EXTENSION baton runs 0.1.0's script and then
-- this one; ALTER EXTENSION baton UPDATE runs this one on a live install.
-- Jobs, leases, holders and tokens stay as they are; baton._jobs gains a
-- column and its ready index is rebuilt (briefly locking the table).
\echo Use "ALTER EXTENSION baton UPDATE TO '0.2.0'" to load this file. \quit

-- holders hides expired holders: a cheap function in a caller's WHERE
-- clause must not see the rows the view filters out.
ALTER VIEW baton.holders SET (security_barrier = true);

-- One rule for intervals, in C++ (src/args.cpp): an interval must have the
-- same sign on every date ('-1 year 361 days' is not a positive lease).
CREATE OR REPLACE FUNCTION baton._check_interval(name text, value interval, positive boolean)
RETURNS void
LANGUAGE c IMMUTABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_check_interval';

-- NOTIFY baton, '<queue>' unless the transaction turned baton.notify off
-- (two-phase commit cannot prepare a transaction that notified).
CREATE FUNCTION baton._notify_due(queue text)
RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_notify_due';
REVOKE ALL ON FUNCTION baton._notify_due(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION baton.retry(id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'baton: id must not be NULL' USING ERRCODE = '22004';
    END IF;
    BEGIN
        UPDATE baton._jobs j
           SET state = 'ready', attempt = 0, run_at = clock_timestamp(),
               lease_expires_at = NULL, reclaim_after = NULL, worker = NULL,
               started_at = NULL, finished_at = NULL
         WHERE j.id = retry.id AND j.state IN ('dead', 'cancelled')
        RETURNING j.queue INTO q;
    EXCEPTION WHEN unique_violation THEN
        -- another unfinished job holds its unique_key
        RETURN false;
    END;
    IF q IS NULL THEN
        RETURN false;
    END IF;
    PERFORM baton._notify_due(q);
    RETURN true;
END $$;

-------------------------------------------------------------------------------
-- Parked jobs. A ready job whose concurrency key is full when a claim meets
-- it is parked: blocked_until is set to the moment a slot may free by itself
-- (a lease or ttl ending; 'infinity' for a key with 0 slots), and the job
-- leaves _jobs_ready, so that claims do not walk it again and again. It is
-- due again at blocked_until, or at once when a slot of its key is freed
-- (complete, fail, cancel, release, set_limit: baton._wake_parked).
-------------------------------------------------------------------------------

ALTER TABLE baton._jobs ADD COLUMN blocked_until timestamptz;

DROP INDEX baton._jobs_ready;
CREATE INDEX _jobs_ready ON baton._jobs (queue, priority DESC, run_at, id)
    WHERE state = 'ready' AND blocked_until IS NULL;
-- claim: parked jobs whose blocked_until has passed.
CREATE INDEX _jobs_blocked ON baton._jobs (queue, blocked_until)
    WHERE state = 'ready' AND blocked_until IS NOT NULL;
-- a freed slot wakes the best parked job of its key.
CREATE INDEX _jobs_blocked_key ON baton._jobs (concurrency_key, priority DESC, run_at, id)
    WHERE state = 'ready' AND blocked_until IS NOT NULL;

CREATE FUNCTION baton._wake_parked(key text, n bigint)
RETURNS void
LANGUAGE c VOLATILE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_wake_parked';
REVOKE ALL ON FUNCTION baton._wake_parked(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION baton.cancel(id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    was text;
    k text;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'baton: id must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT j.state, j.concurrency_key INTO was, k FROM baton._jobs j
     WHERE j.id = cancel.id AND j.state IN ('ready', 'running')
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE baton._jobs j
       SET state = 'cancelled', finished_at = clock_timestamp(), blocked_until = NULL
     WHERE j.id = cancel.id;
    IF was = 'running' AND k IS NOT NULL THEN
        PERFORM baton._wake_parked(k, 1);  -- its slot is free
    END IF;
    RETURN true;
END $$;

-- The key rule of the C++ functions (src/args.cpp), for set_limit.
CREATE FUNCTION baton._check_key(key text)
RETURNS void
LANGUAGE c IMMUTABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_check_key';
REVOKE ALL ON FUNCTION baton._check_key(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION baton.set_limit(key text, slots int)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._check_key(key);
    IF slots IS NULL THEN
        RAISE EXCEPTION 'baton: slots must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF slots < 0 THEN
        RAISE EXCEPTION 'baton: slots must not be negative, got %', slots USING ERRCODE = '22023';
    END IF;
    INSERT INTO baton._limits AS l (key, slots) VALUES (set_limit.key, set_limit.slots)
    ON CONFLICT ON CONSTRAINT _limits_pkey DO UPDATE SET slots = EXCLUDED.slots;
    -- More slots may be free now: claims decide, parked jobs get a look.
    PERFORM baton._wake_parked(set_limit.key, set_limit.slots);
END $$;

CREATE OR REPLACE FUNCTION baton.drop_queue(queue text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    freed_keys text[];
    freed_slots bigint[];
BEGIN
    PERFORM baton._queue_must_exist(queue);
    force := coalesce(force, false);
    -- Wait for this queue's in-flight enqueuers and keep new ones out (they
    -- hold the queue's guard shared until they commit), so that no job can
    -- be added to the queue after it is gone. Other queues are not touched.
    PERFORM baton._queue_guard(queue);
    IF NOT force AND EXISTS (SELECT 1 FROM baton._jobs j
                              WHERE j.queue = drop_queue.queue
                                AND j.state IN ('ready', 'running')) THEN
        RAISE EXCEPTION 'baton: queue "%" still holds ready or running jobs', queue
            USING ERRCODE = '55006',
                  HINT = 'Wait for them to finish, or call baton.drop_queue(queue, force => true).';
    END IF;
    -- The slots its running jobs held are free for other queues' jobs,
    -- woken once this queue's own parked jobs are gone.
    SELECT array_agg(r.k), array_agg(r.n) INTO freed_keys, freed_slots
      FROM (SELECT j.concurrency_key AS k, count(*) AS n FROM baton._jobs j
             WHERE j.queue = drop_queue.queue AND j.state = 'running'
               AND j.concurrency_key IS NOT NULL
             GROUP BY j.concurrency_key) r;
    DELETE FROM baton._jobs j WHERE j.queue = drop_queue.queue;
    DELETE FROM baton._queue_access a WHERE a.queue = drop_queue.queue;
    DELETE FROM baton._queues q WHERE q.queue = drop_queue.queue;
    PERFORM baton._wake_parked(f.k, f.n) FROM unnest(freed_keys, freed_slots) AS f(k, n);
END $$;


-------------------------------------------------------------------------------
-- What \df+ and \dv+ show (docs/contract.md has the whole contract).
-------------------------------------------------------------------------------

COMMENT ON FUNCTION baton.create_queue(text, interval, int, interval) IS
    'Creates a queue, or updates its lease, max_attempts and retry_base.';
COMMENT ON FUNCTION baton.drop_queue(text, boolean) IS
    'Drops a queue; refuses (55006) while it holds ready or running jobs, unless force.';
COMMENT ON FUNCTION baton.purge(text, interval) IS
    'Deletes the queue''s finished jobs (completed, dead, cancelled) finished longer ago than older_than.';
COMMENT ON FUNCTION baton.enqueue(text, jsonb, timestamptz, int, text, text, text) IS
    'Adds a job; a unique_key dedupes among the queue''s unfinished jobs (on_conflict keep or replace).';
COMMENT ON FUNCTION baton.enqueue_batch(text, jsonb, text) IS
    'Adds up to 10,000 jobs, locking keys in byte order: never deadlocks with another batch.';
COMMENT ON FUNCTION baton.claim(text, text, int, interval) IS
    'Takes up to n due jobs with a lease and a new fencing token each, never waiting for a row.';
COMMENT ON FUNCTION baton.heartbeat(text, interval) IS
    'Extends every unexpired lease the worker holds; returns exactly those.';
COMMENT ON FUNCTION baton.renew(bigint, bigint, interval) IS
    'Extends one lease while its token owns the job: the new expiry, or NULL.';
COMMENT ON FUNCTION baton.complete(bigint, bigint, jsonb) IS
    'Completes the job if the token owns its unexpired lease: true exactly once.';
COMMENT ON FUNCTION baton.complete_batch(bigint[], bigint[]) IS
    'Completes the (id, token) pairs that still own their jobs, in ascending id order; the ids completed.';
COMMENT ON FUNCTION baton.complete_and_claim(bigint[], bigint[], text, text, int, interval) IS
    'complete_batch, then claim, in one call and one commit.';
COMMENT ON FUNCTION baton.fail(bigint, bigint, text, interval) IS
    'Gives the job up if the token owns it: ready again after a back-off, or dead at the last attempt.';
COMMENT ON FUNCTION baton.cancel(bigint) IS
    'Cancels a ready or running job (a running job''s token stops working).';
COMMENT ON FUNCTION baton.retry(bigint) IS
    'Makes a dead or cancelled job ready again with attempt 0.';
COMMENT ON FUNCTION baton.sorted_upsert(regclass, text[], jsonb, text[]) IS
    'INSERT ... ON CONFLICT into the caller''s table in the unique index''s key order: never deadlocks.';
COMMENT ON FUNCTION baton.set_limit(text, int) IS
    'Sets the slots of a semaphore key (default 1; 0 pauses it).';
COMMENT ON FUNCTION baton.acquire(text, text, interval) IS
    'Takes a slot of a semaphore key for ttl: a token, or NULL when every slot is held.';
COMMENT ON FUNCTION baton.extend(text, bigint, interval) IS
    'Extends an unexpired semaphore slot held by that token.';
COMMENT ON FUNCTION baton.release(text, bigint) IS
    'Releases an unexpired semaphore slot held by that token.';
COMMENT ON FUNCTION baton.lock_key(text, interval) IS
    'Locks a key until the transaction ends (safe behind a pooler); 55P03 after timeout.';
COMMENT ON FUNCTION baton.try_lock_key(text) IS
    'Locks a key until the transaction ends if it is free; never waits.';
COMMENT ON FUNCTION baton.lock_keys(text[], interval) IS
    'Locks several keys, all or none, in one canonical order (no deadlock between overlapping sets).';
COMMENT ON FUNCTION baton.try_lock_keys(text[]) IS
    'lock_keys without waiting: all or none.';
COMMENT ON FUNCTION baton.key_holder(text) IS
    'The pid holding a key lock, 0 for a prepared transaction, or NULL.';
COMMENT ON VIEW baton.jobs IS 'Every job, with its state, lease and result.';
COMMENT ON VIEW baton.queue_stats IS 'Per queue: ready, scheduled, running, expired leases, dead, oldest ready age.';
COMMENT ON VIEW baton.holders IS 'Who holds semaphore slots now: explicit holders and running keyed jobs.';
COMMENT ON TYPE baton.claimed_job IS 'A job as claim and complete_and_claim return it.';
COMMENT ON TABLE baton._queues IS 'Internal: queues and their settings (use the functions).';
COMMENT ON TABLE baton._jobs IS 'Internal: jobs (read baton.jobs; change them through the functions).';
COMMENT ON TABLE baton._limits IS 'Internal: semaphore slots per key (set_limit).';
COMMENT ON TABLE baton._holders IS 'Internal: explicit semaphore holders (acquire).';

-------------------------------------------------------------------------------
-- Queue controls for operators, and a producer's view of one job.
-------------------------------------------------------------------------------

-- A paused queue gives claims nothing; everything else works as usual.
ALTER TABLE baton._queues ADD COLUMN paused boolean NOT NULL DEFAULT false;

CREATE FUNCTION baton.pause(queue text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    UPDATE baton._queues q SET paused = true WHERE q.queue = pause.queue AND NOT q.paused;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION baton.pause(text) IS
    'Claims take nothing from the queue until resume(); true if it was not paused.';

CREATE FUNCTION baton.resume(queue text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    UPDATE baton._queues q SET paused = false WHERE q.queue = resume.queue AND q.paused;
    IF FOUND THEN
        PERFORM baton._notify_due(queue);  -- its due jobs can be claimed again
    END IF;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION baton.resume(text) IS 'Lets claims take jobs from a paused queue again; true if it was paused.';

-- Every unfinished job of the queue (only the ready ones with only_ready)
-- becomes cancelled, rows locked in ascending id order; the slots of the
-- running keyed jobs are freed.
CREATE FUNCTION baton.cancel_all(queue text, only_ready boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    freed_keys text[];
    freed_slots bigint[];
BEGIN
    PERFORM baton._queue_must_exist(queue);
    only_ready := coalesce(only_ready, false);
    WITH locked AS (
        SELECT j.id, j.queue, j.state AS was, j.concurrency_key FROM baton._jobs j
         WHERE j.queue = cancel_all.queue
           AND j.state IN ('ready', CASE WHEN only_ready THEN 'ready' ELSE 'running' END)
         ORDER BY j.id FOR NO KEY UPDATE),
    done AS (
        UPDATE baton._jobs j SET state = 'cancelled', finished_at = clock_timestamp(), blocked_until = NULL
          FROM locked l WHERE j.id = l.id AND j.queue = l.queue
        RETURNING l.was, l.concurrency_key),
    per_key AS (
        SELECT d.concurrency_key AS k, count(*) AS total, count(*) FILTER (WHERE d.was = 'running') AS running
          FROM done d GROUP BY d.concurrency_key)
    SELECT coalesce(sum(p.total), 0),
           array_agg(p.k) FILTER (WHERE p.k IS NOT NULL AND p.running > 0),
           array_agg(p.running) FILTER (WHERE p.k IS NOT NULL AND p.running > 0)
      INTO n, freed_keys, freed_slots
      FROM per_key p;
    -- The slots its running keyed jobs held, for other queues' parked jobs.
    PERFORM baton._wake_parked(f.k, f.n) FROM unnest(freed_keys, freed_slots) AS f(k, n);
    RETURN n;
END $$;
COMMENT ON FUNCTION baton.cancel_all(text, boolean) IS
    'Cancels the queue''s unfinished jobs (only the ready ones with only_ready); how many.';

-- Every dead job of the queue becomes ready again, as retry() makes one;
-- one whose unique_key another unfinished job holds stays dead.
CREATE FUNCTION baton.retry_all(queue text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    -- retry() itself, job by job in id order (its NOTIFYs fold into one).
    RETURN (SELECT count(*) FILTER (WHERE baton.retry(d.id))
              FROM (SELECT j.id FROM baton._jobs j
                     WHERE j.queue = retry_all.queue AND j.state = 'dead' ORDER BY j.id) d);
END $$;
COMMENT ON FUNCTION baton.retry_all(text) IS
    'Makes the queue''s dead jobs ready again (attempt 0); how many.';

-- What became of one job, for its producer: no lease token, no worker.
CREATE FUNCTION baton.job(job_id bigint)
RETURNS TABLE (id bigint, queue text, state text, attempt int, max_attempts int, result jsonb,
               error text, enqueued_at timestamptz, run_at timestamptz, started_at timestamptz,
               lease_expires_at timestamptz, finished_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF job_id IS NULL THEN
        RAISE EXCEPTION 'baton: job_id must not be NULL' USING ERRCODE = '22004';
    END IF;
    RETURN QUERY
    SELECT j.id, j.queue, j.state, j.attempt, j.max_attempts, j.result, j.error, j.enqueued_at,
           j.run_at, j.started_at, j.lease_expires_at, j.finished_at
      FROM baton._jobs j WHERE j.id = job_id;
END $$;
COMMENT ON FUNCTION baton.job(bigint) IS
    'One job''s state, attempt, result, error and times, without its lease token or worker; no row if unknown.';

REVOKE ALL ON FUNCTION baton.pause(text), baton.resume(text), baton.cancel_all(text, boolean),
    baton.retry_all(text), baton.job(bigint) FROM PUBLIC;

CREATE OR REPLACE VIEW baton.queue_stats AS
WITH now AS (SELECT pg_catalog.clock_timestamp() AS t)
SELECT q.queue,
       count(*) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t)         AS ready,
       count(*) FILTER (WHERE j.state = 'ready' AND j.run_at > now.t)          AS scheduled,
       count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at > now.t)  AS running,
       count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at <= now.t) AS expired_leases,
       count(*) FILTER (WHERE j.state = 'dead')                                AS dead,
       now.t - min(j.run_at) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t) AS oldest_ready_age,
       q.paused
  FROM baton._queues q
  CROSS JOIN now
  LEFT JOIN baton._jobs j
         ON j.queue = q.queue AND j.state IN ('ready', 'running', 'dead')
 GROUP BY q.queue, q.paused, now.t;

-------------------------------------------------------------------------------
-- The worker loop with results, and with refused completions reported.
-- New forms beside the old ones (which keep their results and rows): with
-- results jsonb[] (aligned with ids; a NULL element stores no result).
-- complete_and_claim's new form returns baton.loop_row: first one row per
-- completion that was refused (refused = true, only id set: the worker lost
-- that lease), then the claimed jobs (refused = false).
-------------------------------------------------------------------------------

CREATE TYPE baton.loop_row AS (
    refused          boolean,
    id               bigint,
    queue            text,
    payload          jsonb,
    attempt          int,
    lease_token      bigint,
    lease_expires_at timestamptz,
    priority         int,
    unique_key       text,
    concurrency_key  text,
    enqueued_at      timestamptz
);
REVOKE ALL ON TYPE baton.loop_row FROM PUBLIC;
COMMENT ON TYPE baton.loop_row IS
    'A row of complete_and_claim with results: a refused completion (refused, id) or a claimed job.';

CREATE FUNCTION baton.complete_batch(ids bigint[], lease_tokens bigint[], results jsonb[])
RETURNS SETOF bigint
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'baton_complete_batch';
COMMENT ON FUNCTION baton.complete_batch(bigint[], bigint[], jsonb[]) IS
    'complete_batch, storing each job''s result; the ids completed.';

CREATE FUNCTION baton.complete_and_claim(ids bigint[], lease_tokens bigint[], queue text,
                                         worker text, n int, lease interval, results jsonb[])
RETURNS SETOF baton.loop_row
LANGUAGE c VOLATILE SECURITY DEFINER
ROWS 2
AS 'MODULE_PATHNAME', 'baton_complete_and_claim';
COMMENT ON FUNCTION baton.complete_and_claim(bigint[], bigint[], text, text, int, interval, jsonb[]) IS
    'complete_batch with results, then claim: refused completions first (refused = true), then the claimed jobs.';

REVOKE ALL ON FUNCTION baton.complete_batch(bigint[], bigint[], jsonb[]),
    baton.complete_and_claim(bigint[], bigint[], text, text, int, interval, jsonb[]) FROM PUBLIC;

-------------------------------------------------------------------------------
-- Per-queue access. A queue is open to every role with EXECUTE on the
-- functions (as in 0.1.0) until grant_queue restricts it: from then on only
-- superusers and members of the roles granted it may enqueue to it
-- (produce) or claim from it (work); everything else (heartbeat, complete,
-- fail) follows the lease token as before.
-------------------------------------------------------------------------------

ALTER TABLE baton._queues ADD COLUMN restricted boolean NOT NULL DEFAULT false;

CREATE TABLE baton._queue_access (
    queue   text    NOT NULL,  -- no foreign key: pg_dump loads config tables in any order
    grantee regrole NOT NULL,
    produce boolean NOT NULL,
    work    boolean NOT NULL,
    PRIMARY KEY (queue, grantee)
);
SELECT pg_catalog.pg_extension_config_dump('baton._queue_access', '');
REVOKE ALL ON baton._queue_access FROM PUBLIC;
COMMENT ON TABLE baton._queue_access IS 'Internal: the roles a restricted queue admits (grant_queue).';

CREATE FUNCTION baton.grant_queue(queue text, role regrole, produce boolean DEFAULT true,
                                  work boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    IF role IS NULL THEN
        RAISE EXCEPTION 'baton: role must not be NULL' USING ERRCODE = '22004';
    END IF;
    INSERT INTO baton._queue_access AS a (queue, grantee, produce, work)
    VALUES (grant_queue.queue, grant_queue.role, coalesce(grant_queue.produce, true),
            coalesce(grant_queue.work, true))
    ON CONFLICT ON CONSTRAINT _queue_access_pkey DO UPDATE SET produce = EXCLUDED.produce, work = EXCLUDED.work;
    UPDATE baton._queues q SET restricted = true WHERE q.queue = grant_queue.queue AND NOT q.restricted;
END $$;
COMMENT ON FUNCTION baton.grant_queue(text, regrole, boolean, boolean) IS
    'Restricts the queue to the roles granted it: members of role may enqueue (produce) and claim (work).';

CREATE FUNCTION baton.revoke_queue(queue text, role regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    DELETE FROM baton._queue_access a WHERE a.queue = revoke_queue.queue AND a.grantee = revoke_queue.role;
    RETURN FOUND;  -- the queue stays restricted: unrestrict_queue opens it again
END $$;
COMMENT ON FUNCTION baton.revoke_queue(text, regrole) IS
    'Takes a role''s grant on a restricted queue away (the queue stays restricted).';

CREATE FUNCTION baton.unrestrict_queue(queue text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    DELETE FROM baton._queue_access a WHERE a.queue = unrestrict_queue.queue;
    UPDATE baton._queues q SET restricted = false WHERE q.queue = unrestrict_queue.queue;
END $$;
COMMENT ON FUNCTION baton.unrestrict_queue(text) IS
    'Opens a restricted queue to every role with EXECUTE on the functions again.';

REVOKE ALL ON FUNCTION baton.grant_queue(text, regrole, boolean, boolean), baton.revoke_queue(text, regrole),
    baton.unrestrict_queue(text) FROM PUBLIC;

-------------------------------------------------------------------------------
-- Backups by the database owner (last: every table above): pg_dump reads the extension's tables and
-- sequences (their rows are dumped: pg_extension_config_dump), so the
-- database's owner, when not a superuser, may read them. The owner can read
-- everything in its database that it can dump; nobody else gains anything.
-- A database that changes owners later: GRANT the same to the new owner.
-------------------------------------------------------------------------------

DO $$
DECLARE
    owner regrole := (SELECT datdba::regrole FROM pg_catalog.pg_database WHERE datname = current_database());
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = owner) THEN
        EXECUTE format('GRANT USAGE ON SCHEMA baton TO %s', owner);
        EXECUTE format('GRANT SELECT ON baton._queues, baton._jobs, baton._limits, baton._holders,'
                       ' baton._queue_access, baton._job_id_seq, baton._token_seq TO %s', owner);
    END IF;
END $$;

-------------------------------------------------------------------------------
-- Retention: claims of a queue delete its finished jobs (completed, dead,
-- cancelled) older than the queue's retention, a batch at a time (src/
-- retention.cpp), so that nobody has to call purge. New queues keep them
-- 7 days; queues created before 0.2.0 keep them until purged, as they did.
-------------------------------------------------------------------------------

ALTER TABLE baton._queues ADD COLUMN retention interval;
ALTER TABLE baton._queues ALTER COLUMN retention SET DEFAULT interval '7 days';

CREATE FUNCTION baton.set_retention(queue text, keep interval)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._queue_must_exist(queue);
    IF keep IS NOT NULL THEN
        PERFORM baton._check_interval('keep', keep, false);
    END IF;
    UPDATE baton._queues q SET retention = keep WHERE q.queue = set_retention.queue;
END $$;
COMMENT ON FUNCTION baton.set_retention(text, interval) IS
    'Finished jobs of the queue are deleted once older than keep (NULL: kept until purge).';
REVOKE ALL ON FUNCTION baton.set_retention(text, interval) FROM PUBLIC;

-- What a claim runs (src/retention.cpp): up to max_rows of the queue's
-- finished jobs finished before `before`, oldest first, along _jobs_finished
-- whatever the table's statistics say (a fresh or never-analyzed table made
-- the planner read every finished job of the queue and sort them, for every
-- batch); rows another transaction holds are skipped. Returns how many.
CREATE FUNCTION baton._delete_finished(queue text, before timestamptz, max_rows int)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off
AS $$
    WITH gone AS (
        DELETE FROM baton._jobs j WHERE j.ctid = ANY (ARRAY(
            SELECT f.ctid FROM baton._jobs f
             WHERE f.queue = $1 AND f.finished_at IS NOT NULL AND f.finished_at < $2
               AND f.state IN ('completed', 'dead', 'cancelled')
             ORDER BY f.finished_at LIMIT $3 FOR UPDATE SKIP LOCKED))
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION baton._delete_finished(text, timestamptz, int) IS
    'Internal: one batch of retention (claims call it).';
REVOKE ALL ON FUNCTION baton._delete_finished(text, timestamptz, int) FROM PUBLIC;

-------------------------------------------------------------------------------
-- Wake-ups (src/notify.cpp): a commit that makes a job due now notifies the
-- queue's own channel, and only when a session waits for the queue: one that
-- called listen(queue) and whose last claim of it found nothing. 0.1.0's
-- NOTIFY baton, '<queue>' to every listener of every queue is gone.
-------------------------------------------------------------------------------

CREATE FUNCTION baton.listen(queue text)
RETURNS text
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'baton_listen';
COMMENT ON FUNCTION baton.listen(text) IS
    'LISTENs (from the commit on) to the queue''s channel, which it returns; claims of the queue that find nothing then register this session for a NOTIFY.';

CREATE FUNCTION baton.unlisten(queue text)
RETURNS void
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'baton_unlisten';
COMMENT ON FUNCTION baton.unlisten(text) IS 'Stops listening to the queue''s channel (listen).';
REVOKE ALL ON FUNCTION baton.listen(text), baton.unlisten(text) FROM PUBLIC;

-------------------------------------------------------------------------------
-- No CHECK on _jobs.state: PostgreSQL parses and plans a table's CHECK
-- expressions again for every statement that writes it (every enqueue,
-- claim and completion), about a tenth of an enqueue's CPU. Only baton's
-- functions write the table (the owner aside), each with a literal state
-- of the contract's five.
-------------------------------------------------------------------------------

ALTER TABLE baton._jobs DROP CONSTRAINT IF EXISTS _jobs_state_check;

-------------------------------------------------------------------------------
-- Recent finishes, for queue_stats: jobs that finished (completed, dead,
-- cancelled) are found by queue and finished_at, so counting the last hour
-- reads that hour's finishes only, whatever the history. A completion adds
-- this one entry (it is not a HOT update anyway); claims and heartbeats
-- add none (finished_at is NULL while a job is unfinished).
-------------------------------------------------------------------------------

CREATE INDEX _jobs_finished ON baton._jobs (queue, finished_at) WHERE finished_at IS NOT NULL;

CREATE OR REPLACE VIEW baton.queue_stats AS
WITH now AS (SELECT pg_catalog.clock_timestamp() AS t)
SELECT q.queue, u.ready, u.scheduled, u.running, u.expired_leases, u.dead, u.oldest_ready_age, q.paused,
       f.completed_last_minute, f.completed_last_hour, f.dead_last_hour, f.cancelled_last_hour,
       round(f.completed_last_minute / 60.0, 2) AS completed_per_second, q.retention
  FROM baton._queues q
  CROSS JOIN now
  CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t)         AS ready,
             count(*) FILTER (WHERE j.state = 'ready' AND j.run_at > now.t)          AS scheduled,
             count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at > now.t)  AS running,
             count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at <= now.t) AS expired_leases,
             count(*) FILTER (WHERE j.state = 'dead')                                AS dead,
             now.t - min(j.run_at) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t) AS oldest_ready_age
        FROM baton._jobs j
       WHERE j.queue = q.queue AND j.state IN ('ready', 'running', 'dead')) u
  CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE j.state = 'completed' AND j.finished_at > now.t - interval '1 minute')
                 AS completed_last_minute,
             count(*) FILTER (WHERE j.state = 'completed') AS completed_last_hour,
             count(*) FILTER (WHERE j.state = 'dead')      AS dead_last_hour,
             count(*) FILTER (WHERE j.state = 'cancelled') AS cancelled_last_hour
        FROM baton._jobs j
       WHERE j.queue = q.queue AND j.finished_at > now.t - interval '1 hour') f;
COMMENT ON VIEW baton.queue_stats IS
    'Per queue: ready, scheduled, running, expired leases, dead, oldest ready age, paused, the last minute''s and hour''s finishes, and the retention of finished jobs.';

-------------------------------------------------------------------------------
-- The SECURITY DEFINER functions written in C pin search_path themselves,
-- around every statement they run and while triggers a superuser added to
-- baton._jobs fire (src/spi.hpp), instead of by a SET clause: the GUC set
-- and reset of a SET clause cost each call about 12 us, more than an
-- enqueue's insert. (Those created above have no SET clause.)
-------------------------------------------------------------------------------

ALTER FUNCTION baton.enqueue(text, jsonb, timestamptz, int, text, text, text) RESET search_path;
ALTER FUNCTION baton.enqueue_batch(text, jsonb, text) RESET search_path;
ALTER FUNCTION baton.claim(text, text, int, interval) RESET search_path;
ALTER FUNCTION baton.heartbeat(text, interval) RESET search_path;
ALTER FUNCTION baton.renew(bigint, bigint, interval) RESET search_path;
ALTER FUNCTION baton.complete(bigint, bigint, jsonb) RESET search_path;
ALTER FUNCTION baton.complete_batch(bigint[], bigint[]) RESET search_path;
ALTER FUNCTION baton.complete_and_claim(bigint[], bigint[], text, text, int, interval) RESET search_path;
ALTER FUNCTION baton.fail(bigint, bigint, text, interval) RESET search_path;
ALTER FUNCTION baton.acquire(text, text, interval) RESET search_path;
ALTER FUNCTION baton.extend(text, bigint, interval) RESET search_path;
ALTER FUNCTION baton.release(text, bigint) RESET search_path;
ALTER FUNCTION baton.lock_key(text, interval) RESET search_path;
ALTER FUNCTION baton.try_lock_key(text) RESET search_path;
ALTER FUNCTION baton.lock_keys(text[], interval) RESET search_path;
ALTER FUNCTION baton.try_lock_keys(text[]) RESET search_path;
ALTER FUNCTION baton.key_holder(text) RESET search_path;
ALTER FUNCTION baton._queue_guard(text) RESET search_path;

-------------------------------------------------------------------------------
-- Floors (src/floors.hpp): each backend remembers, per queue and priority,
-- where the entries of _jobs_ready a claim could take begin, so that claims
-- do not walk the entries of the jobs claimed before them (dead, until
-- VACUUM). A write that may put a ready entry below a floor (a run_at more
-- than 0.1 s before the moment it is written) moves this epoch before it
-- commits, and claims that see it moved forget their floors. baton's own
-- inserts check that rule; every SQL statement that inserts into or updates
-- baton._jobs (retry, replace, unparking, a superuser's UPDATE) moves it.
-------------------------------------------------------------------------------

CREATE SEQUENCE baton._ready_epoch;
REVOKE ALL ON SEQUENCE baton._ready_epoch FROM PUBLIC;
COMMENT ON SEQUENCE baton._ready_epoch IS
    'Moved by every write that may put a ready job below where claims start reading (src/floors.hpp).';

CREATE FUNCTION baton._ready_epoch_moves()
RETURNS trigger
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'baton_ready_epoch_moves';
REVOKE ALL ON FUNCTION baton._ready_epoch_moves() FROM PUBLIC;
COMMENT ON FUNCTION baton._ready_epoch_moves() IS
    'Statement trigger of baton._jobs: an SQL write moves the epoch of the claims'' floors.';

CREATE TRIGGER _jobs_written_by_sql AFTER INSERT OR UPDATE ON baton._jobs
    FOR EACH STATEMENT EXECUTE FUNCTION baton._ready_epoch_moves();
