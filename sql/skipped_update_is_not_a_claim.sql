-- A row update that a BEFORE UPDATE row trigger skips (it returns NULL) did
-- not happen, so it is neither a claim nor a completion: claim returns no
-- job and hands out no token, complete returns false, complete_batch and
-- complete_and_claim report nothing completed; the job stays as it was
-- (ready, or running under its lease). Row triggers fire for these
-- functions as for an UPDATE (sql/row_triggers_fire.sql).
SELECT baton.create_queue('skip');
SELECT baton.enqueue('skip', '{"n": 1}') AS j1 \gset
CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;
END $$;
CREATE TRIGGER skip_all BEFORE UPDATE ON baton._jobs
  FOR EACH ROW EXECUTE FUNCTION skip_update();

-- claim: the skipped update claims nothing; the job stays ready.
SELECT count(*) AS claimed FROM baton.claim('skip', 'w');
SELECT count(*) AS claimed FROM baton.complete_and_claim('{}', '{}', 'skip', 'w');
SELECT state, attempt, worker, lease_token FROM baton.jobs WHERE id = :j1;

-- With the trigger gone the job is claimed; with it back, nothing completes it.
DROP TRIGGER skip_all ON baton._jobs;
SELECT lease_token AS t1 FROM baton.claim('skip', 'w') \gset
CREATE TRIGGER skip_all BEFORE UPDATE ON baton._jobs
  FOR EACH ROW EXECUTE FUNCTION skip_update();
SELECT baton.complete(:j1, :t1) AS completed;
SELECT count(*) AS completed FROM baton.complete_batch(ARRAY[:j1], ARRAY[:t1]);
SELECT count(*) AS claimed FROM baton.complete_and_claim(ARRAY[:j1], ARRAY[:t1], 'skip', 'w');
SELECT state, attempt, worker, lease_token = :t1 AS same_token FROM baton.jobs WHERE id = :j1;

DROP TRIGGER skip_all ON baton._jobs;
DROP FUNCTION skip_update();
-- The job was never completed: its token still completes it.
SELECT baton.complete(:j1, :t1) AS completed;
SELECT baton.drop_queue('skip', force => true);
