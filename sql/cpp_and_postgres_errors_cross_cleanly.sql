-- No C++ exception reaches Postgres, and a Postgres error raised under C++
-- frames unwinds them (their destructors run) and keeps its SQLSTATE.
\set VERBOSITY terse
SELECT baton._boundary_selftest('destructors') AS before \gset
SELECT baton._boundary_selftest('cxx');
SELECT baton._boundary_selftest('pg');
DO $$
BEGIN
    PERFORM baton._boundary_selftest('pg');
EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught SQLSTATE %', SQLSTATE;
END $$;
SELECT baton._boundary_selftest('destructors') - :before AS destructors_ran;
SELECT baton._boundary_selftest('nonsense');
-- the session is still alive
SELECT 1 AS alive;
