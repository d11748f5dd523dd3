-- baton 0.1.0 -> 0.2.0. CREATE EXTENSION baton runs 0.1.0's script and then
-- this one; ALTER EXTENSION baton UPDATE runs this one on a live install.
-- It changes no table: jobs, leases, holders and tokens stay as they are.
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
