-- claim, complete, complete_batch and complete_and_claim write baton._jobs
-- without SQL statements (src/rows.cpp). Row triggers a superuser puts on the
-- table still fire for each of them, as for an UPDATE: BEFORE and AFTER, and
-- UPDATE OF a column they write. Each call commits on its own, so a
-- relation the trigger machinery opened and did not close would show here as
-- a WARNING.
SELECT baton.create_queue('trig');
CREATE TABLE trig_audit (n serial, timing text, old_state text, new_state text);
CREATE FUNCTION trig_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.trig_audit (timing, old_state, new_state) VALUES (TG_WHEN, OLD.state, NEW.state);
  RETURN NEW;
END $$;
CREATE TRIGGER trig_before BEFORE UPDATE OF state ON baton._jobs
  FOR EACH ROW EXECUTE FUNCTION trig_audit();
CREATE TRIGGER trig_after AFTER UPDATE ON baton._jobs
  FOR EACH ROW EXECUTE FUNCTION trig_audit();
-- Never fires: none of these functions writes payload.
CREATE TRIGGER trig_payload BEFORE UPDATE OF payload ON baton._jobs
  FOR EACH ROW EXECUTE FUNCTION trig_audit();

SELECT baton.enqueue('trig', '{"n": 1}') AS j1 \gset
SELECT baton.enqueue('trig', '{"n": 2}') AS j2 \gset
SELECT baton.enqueue('trig', '{"n": 3}') AS j3 \gset
SELECT lease_token AS t1 FROM baton.claim('trig', 'w') \gset
SELECT baton.complete(:j1, :t1);
SELECT lease_token AS t2 FROM baton.claim('trig', 'w') \gset
SELECT count(*) AS claimed FROM baton.complete_and_claim(ARRAY[:j2], ARRAY[:t2], 'trig', 'w');
SELECT lease_token AS t3 FROM baton.jobs WHERE id = :j3 \gset
SELECT id = :j3 AS completed FROM baton.complete_batch(ARRAY[:j3], ARRAY[:t3]) AS id;

SELECT timing, old_state, new_state, count(*) FROM trig_audit
 GROUP BY 1, 2, 3 ORDER BY 1, 2;

DROP TRIGGER trig_before ON baton._jobs;
DROP TRIGGER trig_after ON baton._jobs;
DROP TRIGGER trig_payload ON baton._jobs;
DROP FUNCTION trig_audit();
DROP TABLE trig_audit;
SELECT baton.drop_queue('trig', force => true);
