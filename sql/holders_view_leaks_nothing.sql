-- baton.holders leaks nothing it filters out: it is a security_barrier view,
-- so a cheap function a reader puts in WHERE sees only the rows the view
-- shows (live holders), never an expired holder's key or an expired job's
-- slot. Without the barrier the planner pushes the reader's cheaper
-- condition below the view's expiry test, and the function sees every row.
--
-- The reader holds exactly what docs/security.md grants for reading the
-- view: USAGE on schema baton and SELECT on baton.holders. Its function
-- prints every key it is shown.
SELECT coalesce(reloptions @> ARRAY['security_barrier=true'], false) AS security_barrier
  FROM pg_class WHERE oid = 'baton.holders'::regclass;

CREATE ROLE regress_holders_reader NOLOGIN;
GRANT USAGE ON SCHEMA baton TO regress_holders_reader;
GRANT SELECT ON baton.holders TO regress_holders_reader;

-- An explicit holder and a job's slot that have expired, and one live holder.
SELECT baton.create_queue('hv');
SELECT baton.enqueue('hv', concurrency_key => 'hv-expired-job-secret') > 0 AS enqueued;
SELECT count(*) AS claimed FROM baton.claim('hv', 'hv-worker', 1, '1 millisecond');
SELECT baton.acquire('hv-expired-secret', 'hv-o1', '1 millisecond') IS NOT NULL AS acquired;
SELECT pg_sleep(0.05);
SELECT baton.acquire('hv-live', 'hv-o2', '1 hour') IS NOT NULL AS acquired;

SET ROLE regress_holders_reader;
CREATE FUNCTION pg_temp.leak(k text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000000001 AS $$
BEGIN
  RAISE NOTICE 'saw %', k;
  RETURN true;
END $$;
SELECT key, owner FROM baton.holders WHERE pg_temp.leak(key);
-- The same with a function that claims to be immutable.
CREATE FUNCTION pg_temp.leak_immutable(k text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE COST 0.0000000001 AS $$
BEGIN
  RAISE NOTICE 'saw %', k;
  RETURN true;
END $$;
SELECT key, owner FROM baton.holders WHERE pg_temp.leak_immutable(key);
RESET ROLE;

DROP OWNED BY regress_holders_reader;
DROP ROLE regress_holders_reader;
DELETE FROM baton._holders WHERE key LIKE 'hv-%';
SELECT baton.drop_queue('hv', force => true);
