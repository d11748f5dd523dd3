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
-- A C++ exception thrown inside a pg::call lambda (against its rule) is an
-- ERROR too: pg::call puts Postgres's exception stack and error context stack
-- back first, so the errors raised after it land in live frames, in the same
-- call and in the same transaction.
SELECT baton._boundary_selftest('destructors') AS before \gset
SELECT baton._boundary_selftest('cxx_in_call');
SELECT baton._boundary_selftest('bad_alloc_in_call');
SELECT baton._boundary_selftest('cxx_in_call_then_pg');
DO $$
BEGIN
    BEGIN
        PERFORM baton._boundary_selftest('cxx_in_call');
    EXCEPTION WHEN internal_error THEN
        RAISE NOTICE 'caught SQLSTATE %: %', SQLSTATE, SQLERRM;
    END;
    BEGIN
        PERFORM baton._boundary_selftest('bad_alloc_in_call');
    EXCEPTION WHEN out_of_memory THEN
        RAISE NOTICE 'caught SQLSTATE %: %', SQLSTATE, SQLERRM;
    END;
    BEGIN
        PERFORM baton._boundary_selftest('cxx_in_call_then_pg');
    EXCEPTION WHEN division_by_zero THEN
        RAISE NOTICE 'caught SQLSTATE %: %', SQLSTATE, SQLERRM;
    END;
    PERFORM 1 / 0;
EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught SQLSTATE % from plain SQL', SQLSTATE;
END $$;
-- pg::call inside pg::call: a value comes back through both, and a Postgres
-- error raised in the inner one keeps its SQLSTATE through the outer one.
SELECT baton._boundary_selftest('nested');
SELECT baton._boundary_selftest('nested_pg');
DO $$
BEGIN
    PERFORM baton._boundary_selftest('nested_pg');
EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'caught SQLSTATE %', SQLSTATE;
END $$;
SELECT baton._boundary_selftest('destructors') - :before AS destructors_ran;
-- the session is still alive
SELECT 1 AS alive;
