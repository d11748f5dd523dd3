-- baton 0.1.0: job-queue concurrency guarantees inside PostgreSQL.
-- The contract is docs/contract.md; this script is its single SQL source.
\echo Use "CREATE EXTENSION baton" to load this file. \quit

-------------------------------------------------------------------------------
-- Storage. Internal tables start with "_": callers reach them only through
-- the functions and views below, which run with the extension owner's rights.
-------------------------------------------------------------------------------

CREATE TABLE baton._queues (
    queue        text        NOT NULL PRIMARY KEY,
    lease        interval    NOT NULL,
    max_attempts int         NOT NULL,
    retry_base   interval    NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE SEQUENCE baton._job_id_seq;
-- One increasing sequence for every fencing token baton issues.
CREATE SEQUENCE baton._token_seq;

-- Fixed-width columns first (no alignment padding), wide ones last.
-- fillfactor 50 leaves room on each page for a new version of every row:
-- a claim's and a completion's new versions stay on their page (where the
-- next visit prunes the old ones) and a heartbeat stays a HOT update even
-- when one worker renews every job of a page at once. Measured (make bench):
-- at 80, 64% of such heartbeats were HOT and the table grew larger.
CREATE TABLE baton._jobs (
    id               bigint      NOT NULL,
    priority         int         NOT NULL,
    attempt          int         NOT NULL DEFAULT 0,
    max_attempts     int         NOT NULL,
    run_at           timestamptz NOT NULL,
    enqueued_at      timestamptz NOT NULL,
    lease_token      bigint,
    lease_expires_at timestamptz,
    -- The lease expiry as set at claim time, lowered (never raised) by a
    -- renew that shortens the lease: always <= lease_expires_at. It is the
    -- indexed column that finds expired leases, so a heartbeat, which moves
    -- only lease_expires_at, changes no indexed column and stays HOT.
    reclaim_after    timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    queue            text        NOT NULL,
    state            text        NOT NULL,
    worker           text,
    unique_key       text,
    concurrency_key  text,
    error            text,
    payload          jsonb       NOT NULL,
    result           jsonb,
    PRIMARY KEY (id, queue),
    CONSTRAINT _jobs_state_check
        CHECK (state IN ('ready', 'running', 'completed', 'dead', 'cancelled'))
) WITH (fillfactor = 50);

-- claim: due jobs in claim order; the scan stops after n rows, whatever the
-- backlog behind them.
CREATE INDEX _jobs_ready ON baton._jobs (queue, priority DESC, run_at, id)
    WHERE state = 'ready';
-- The IS NOT NULL in the next two predicates is there for the planner: only
-- a query that names the column (reclaim_after <= ..., worker = ...) can use
-- the index, so a lookup by id (complete, fail, renew) never picks one of
-- them by mistake when its statistics say few jobs are running.
-- claim: leases that may have expired (see reclaim_after).
CREATE INDEX _jobs_running ON baton._jobs (queue, reclaim_after)
    WHERE state = 'running' AND reclaim_after IS NOT NULL;
-- heartbeat: the jobs of one worker.
CREATE INDEX _jobs_worker ON baton._jobs (worker)
    WHERE state = 'running' AND worker IS NOT NULL;
-- unique_key dedupes among unfinished jobs of a queue.
CREATE UNIQUE INDEX _jobs_unique_key ON baton._jobs (queue, unique_key)
    WHERE state IN ('ready', 'running') AND unique_key IS NOT NULL;
-- No index on finished jobs: every completion would pay for it, and only
-- purge, a maintenance call, would read it.

-- Running jobs per concurrency key: the job side of a semaphore's slots.
CREATE INDEX _jobs_concurrency ON baton._jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;

-- Semaphores: slots per key (default 1) and explicit holders.
CREATE TABLE baton._limits (
    key   text NOT NULL PRIMARY KEY,
    slots int  NOT NULL CHECK (slots >= 0)
);

CREATE TABLE baton._holders (
    key              text        NOT NULL,
    token            bigint      NOT NULL,
    owner            text        NOT NULL,
    acquired_at      timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    application_name text,
    host             text,
    PRIMARY KEY (key, token)
);

-- pg_dump keeps the rows of extension tables only when told to.
SELECT pg_catalog.pg_extension_config_dump('baton._queues', '');
SELECT pg_catalog.pg_extension_config_dump('baton._jobs', '');
SELECT pg_catalog.pg_extension_config_dump('baton._job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('baton._token_seq', '');
SELECT pg_catalog.pg_extension_config_dump('baton._limits', '');
SELECT pg_catalog.pg_extension_config_dump('baton._holders', '');

-------------------------------------------------------------------------------
-- Readable relations.
-------------------------------------------------------------------------------

CREATE VIEW baton.jobs AS
SELECT id, queue, state, payload, result, error, priority, run_at, attempt,
       max_attempts, lease_token, lease_expires_at, worker, unique_key,
       concurrency_key, enqueued_at, started_at, finished_at
  FROM baton._jobs;

CREATE VIEW baton.queue_stats AS
WITH now AS (SELECT pg_catalog.clock_timestamp() AS t)
SELECT q.queue,
       count(*) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t)         AS ready,
       count(*) FILTER (WHERE j.state = 'ready' AND j.run_at > now.t)          AS scheduled,
       count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at > now.t)  AS running,
       count(*) FILTER (WHERE j.state = 'running' AND j.lease_expires_at <= now.t) AS expired_leases,
       count(*) FILTER (WHERE j.state = 'dead')                                AS dead,
       now.t - min(j.run_at) FILTER (WHERE j.state = 'ready' AND j.run_at <= now.t) AS oldest_ready_age
  FROM baton._queues q
  CROSS JOIN now
  LEFT JOIN baton._jobs j
         ON j.queue = q.queue AND j.state IN ('ready', 'running', 'dead')
 GROUP BY q.queue, now.t;

CREATE TYPE baton.claimed_job AS (
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

-------------------------------------------------------------------------------
-- Argument checks shared by the SQL-language functions (the C++ functions
-- apply the same rules in src/args.cpp).
-------------------------------------------------------------------------------

CREATE FUNCTION baton._check_queue_name(queue text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF queue IS NULL THEN
        RAISE EXCEPTION 'baton: queue must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF queue !~ '^[A-Za-z0-9_.:-]{1,63}$' THEN
        RAISE EXCEPTION 'baton: invalid queue name: a queue name is 1 to 63 characters of A-Z a-z 0-9 _ . : -'
            USING ERRCODE = '22023';
    END IF;
END $$;

CREATE FUNCTION baton._queue_must_exist(queue text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._check_queue_name(queue);
    IF NOT EXISTS (SELECT 1 FROM baton._queues q WHERE q.queue = _queue_must_exist.queue) THEN
        RAISE EXCEPTION 'baton: queue "%" does not exist', queue
            USING ERRCODE = '42704', HINT = 'Create it with baton.create_queue().';
    END IF;
END $$;

CREATE FUNCTION baton._check_interval(name text, value interval, positive boolean) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF positive AND value <= interval '0' THEN
        RAISE EXCEPTION 'baton: % must be greater than zero, got %', name, value
            USING ERRCODE = '22023';
    ELSIF NOT positive AND value < interval '0' THEN
        RAISE EXCEPTION 'baton: % must not be negative, got %', name, value
            USING ERRCODE = '22023';
    END IF;
END $$;

-------------------------------------------------------------------------------
-- Queues.
-------------------------------------------------------------------------------

CREATE FUNCTION baton.create_queue(queue text,
                                   lease interval DEFAULT '30 seconds',
                                   max_attempts int DEFAULT 25,
                                   retry_base interval DEFAULT '1 second')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM baton._check_queue_name(queue);
    lease        := coalesce(lease, interval '30 seconds');
    max_attempts := coalesce(max_attempts, 25);
    retry_base   := coalesce(retry_base, interval '1 second');
    PERFORM baton._check_interval('lease', lease, true);
    PERFORM baton._check_interval('retry_base', retry_base, true);
    IF max_attempts < 1 THEN
        RAISE EXCEPTION 'baton: max_attempts must be at least 1, got %', max_attempts
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO baton._queues AS q (queue, lease, max_attempts, retry_base)
    VALUES (create_queue.queue, create_queue.lease, create_queue.max_attempts, create_queue.retry_base)
    ON CONFLICT ON CONSTRAINT _queues_pkey DO UPDATE
       SET lease = EXCLUDED.lease, max_attempts = EXCLUDED.max_attempts,
           retry_base = EXCLUDED.retry_base;
END $$;

CREATE FUNCTION baton.drop_queue(queue text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
    DELETE FROM baton._jobs j WHERE j.queue = drop_queue.queue;
    DELETE FROM baton._queues q WHERE q.queue = drop_queue.queue;
END $$;

CREATE FUNCTION baton.purge(queue text, older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM baton._queue_must_exist(queue);
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'baton: older_than must not be NULL' USING ERRCODE = '22004';
    END IF;
    PERFORM baton._check_interval('older_than', older_than, false);
    DELETE FROM baton._jobs j
     WHERE j.queue = purge.queue
       AND j.state IN ('completed', 'dead', 'cancelled')
       AND j.finished_at < clock_timestamp() - older_than;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-------------------------------------------------------------------------------
-- Jobs: the hot paths are C++ (src/), with plans prepared once per backend.
-------------------------------------------------------------------------------

CREATE FUNCTION baton.enqueue(queue text,
                              payload jsonb DEFAULT '{}',
                              run_at timestamptz DEFAULT NULL,
                              priority int DEFAULT 0,
                              unique_key text DEFAULT NULL,
                              concurrency_key text DEFAULT NULL,
                              on_conflict text DEFAULT 'keep')
RETURNS bigint
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_enqueue';

CREATE FUNCTION baton.enqueue_batch(queue text, jobs jsonb, on_conflict text DEFAULT 'keep')
RETURNS TABLE (ord int, id bigint, inserted boolean)
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_enqueue_batch';

CREATE FUNCTION baton.claim(queue text, worker text, n int DEFAULT 1,
                            lease interval DEFAULT NULL)
RETURNS SETOF baton.claimed_job
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1
AS 'MODULE_PATHNAME', 'baton_claim';

CREATE FUNCTION baton.heartbeat(worker text, lease interval DEFAULT NULL)
RETURNS TABLE (id bigint, lease_token bigint, lease_expires_at timestamptz)
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1
AS 'MODULE_PATHNAME', 'baton_heartbeat';

CREATE FUNCTION baton.renew(id bigint, lease_token bigint, lease interval DEFAULT NULL)
RETURNS timestamptz
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_renew';

CREATE FUNCTION baton.complete(id bigint, lease_token bigint, result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_complete';

CREATE FUNCTION baton.complete_batch(ids bigint[], lease_tokens bigint[])
RETURNS SETOF bigint
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_complete_batch';

CREATE FUNCTION baton.complete_and_claim(ids bigint[], lease_tokens bigint[], queue text,
                                         worker text, n int DEFAULT 1,
                                         lease interval DEFAULT NULL)
RETURNS SETOF baton.claimed_job
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1
AS 'MODULE_PATHNAME', 'baton_complete_and_claim';

CREATE FUNCTION baton.fail(id bigint, lease_token bigint, error text DEFAULT NULL,
                           retry_in interval DEFAULT NULL)
RETURNS text
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_fail';

CREATE FUNCTION baton.cancel(id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'baton: id must not be NULL' USING ERRCODE = '22004';
    END IF;
    UPDATE baton._jobs j
       SET state = 'cancelled', finished_at = clock_timestamp()
     WHERE j.id = cancel.id AND j.state IN ('ready', 'running');
    RETURN FOUND;
END $$;

CREATE FUNCTION baton.retry(id bigint)
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
    PERFORM pg_notify('baton', q);
    RETURN true;
END $$;

-------------------------------------------------------------------------------
-- Sorted upsert into the caller's own tables: runs with the caller's rights.
-------------------------------------------------------------------------------

CREATE FUNCTION baton.sorted_upsert(target regclass, conflict_columns text[], rows jsonb,
                                    update_columns text[] DEFAULT NULL)
RETURNS TABLE (ord int, inserted boolean)
LANGUAGE c VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_sorted_upsert';

-------------------------------------------------------------------------------
-- Concurrency keys and semaphores (durable, cross-transaction).
-------------------------------------------------------------------------------

CREATE FUNCTION baton.set_limit(key text, slots int)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'baton: key must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF slots IS NULL THEN
        RAISE EXCEPTION 'baton: slots must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF octet_length(key) NOT BETWEEN 1 AND 512 THEN
        RAISE EXCEPTION 'baton: key must be 1 to 512 bytes long, got %', octet_length(key)
            USING ERRCODE = '22023';
    END IF;
    IF slots < 0 THEN
        RAISE EXCEPTION 'baton: slots must not be negative, got %', slots USING ERRCODE = '22023';
    END IF;
    INSERT INTO baton._limits AS l (key, slots) VALUES (set_limit.key, set_limit.slots)
    ON CONFLICT ON CONSTRAINT _limits_pkey DO UPDATE SET slots = EXCLUDED.slots;
END $$;

CREATE FUNCTION baton.acquire(key text, owner text, ttl interval)
RETURNS bigint
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_acquire';

CREATE FUNCTION baton.extend(key text, token bigint, ttl interval)
RETURNS boolean
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_extend';

CREATE FUNCTION baton.release(key text, token bigint)
RETURNS boolean
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_release';

-- Who holds the slots now: explicit holders and running keyed jobs alike.
CREATE VIEW baton.holders AS
WITH now AS (SELECT pg_catalog.clock_timestamp() AS t)
SELECT h.key, h.owner, h.token, NULL::bigint AS job_id, h.acquired_at, h.expires_at,
       h.application_name, h.host
  FROM baton._holders h, now
 WHERE h.expires_at > now.t
UNION ALL
SELECT j.concurrency_key, j.worker, j.lease_token, j.id, j.started_at, j.lease_expires_at,
       NULL::text, NULL::text
  FROM baton._jobs j, now
 WHERE j.state = 'running' AND j.concurrency_key IS NOT NULL AND j.lease_expires_at > now.t;

-------------------------------------------------------------------------------
-- Transaction-scoped key locks, in a lock space of baton's own.
-------------------------------------------------------------------------------

CREATE FUNCTION baton.lock_key(key text, timeout interval DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_lock_key';

CREATE FUNCTION baton.try_lock_key(key text)
RETURNS boolean
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_try_lock_key';

CREATE FUNCTION baton.lock_keys(keys text[], timeout interval DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_lock_keys';

CREATE FUNCTION baton.try_lock_keys(keys text[])
RETURNS boolean
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_try_lock_keys';

CREATE FUNCTION baton.key_holder(key text)
RETURNS int
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_key_holder';

-- drop_queue's exclusive side of the per-queue guard that enqueuers share.
CREATE FUNCTION baton._queue_guard(queue text)
RETURNS void
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'baton_queue_guard';

-- Tests the C++/Postgres boundary itself (granted to nobody).
CREATE FUNCTION baton._boundary_selftest(what text)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'baton_boundary_selftest';

-------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC. docs/security.md lists the grants for a
-- producer, a worker and an administrator role.
-------------------------------------------------------------------------------

REVOKE ALL ON SCHEMA baton FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA baton FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA baton FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA baton FROM PUBLIC;
-- The row types of tables and views keep PostgreSQL's default USAGE for
-- PUBLIC: nobody reaches them without USAGE on the schema, and pg_dump cannot
-- carry a revoke on them (it warns about every such pg_init_privs entry).
REVOKE ALL ON TYPE baton.claimed_job FROM PUBLIC;
