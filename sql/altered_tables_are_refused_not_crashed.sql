-- A superuser who changes the type of a column of baton's own tables gets an
-- ERROR from the functions that read or write those columns below SQL
-- (src/rows.cpp), never a crashed backend: they check each column's type as
-- well as its name. Only the SQLSTATE is printed (the message is the
-- implementation's). Each change is made in a transaction that is rolled
-- back, so that a crash could not leave the change behind; the extension is
-- installed afresh at the end all the same.
SELECT baton.create_queue('alt');
SELECT baton.enqueue('alt') > 0 AS enqueued;
CREATE FUNCTION pg_temp.outcome(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE call;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE;
END $$;

-- baton._jobs.reclaim_after (timestamptz) as text.
BEGIN;
ALTER TABLE baton._jobs ALTER reclaim_after TYPE text USING reclaim_after::text;
SELECT pg_temp.outcome($$SELECT * FROM baton.claim('alt', 'w')$$) AS claim;
SELECT pg_temp.outcome($$SELECT * FROM baton.complete_and_claim('{}', '{}', 'alt', 'w')$$) AS complete_and_claim;
ROLLBACK;

-- baton._queues.lease (interval) as bigint.
BEGIN;
ALTER TABLE baton._queues ALTER lease TYPE bigint USING extract(epoch from lease)::bigint;
SELECT pg_temp.outcome($$SELECT * FROM baton.claim('alt', 'w')$$) AS claim;
SELECT pg_temp.outcome($$SELECT * FROM baton.complete_and_claim('{}', '{}', 'alt', 'w')$$) AS complete_and_claim;
ROLLBACK;

-- The backend is alive and, the tables restored, claim works again.
SELECT count(*) AS claimed FROM baton.claim('alt', 'w');
SELECT baton.drop_queue('alt', force => true);
DROP EXTENSION baton CASCADE;
CREATE EXTENSION baton;
