-- The worker loop's completions with results: complete_batch and
-- complete_and_claim store each job's result (a NULL element stores none);
-- complete_and_claim reports every refused completion in its own row
-- (refused = true, only the id) before the jobs it claimed; the old forms
-- keep their rows. Ids and tokens stay in psql variables.
SELECT baton.create_queue('rc', lease => '1 hour');
SELECT count(*) AS enqueued FROM (SELECT baton.enqueue('rc', jsonb_build_object('n', g)) FROM generate_series(1, 6) g) s;
CREATE TEMP TABLE held AS SELECT id, lease_token FROM baton.claim('rc', 'w', 3);
-- a lease lost: the third job is cancelled behind the worker's back
SELECT baton.cancel(max(id)) AS cancelled FROM held;
SELECT refused, payload->>'n' AS claimed, (refused AND id = (SELECT max(id) FROM held)) AS lost_is_reported
  FROM baton.complete_and_claim((SELECT array_agg(id ORDER BY id) FROM held),
                                (SELECT array_agg(lease_token ORDER BY id) FROM held),
                                'rc', 'w', 2, NULL,
                                (SELECT array_agg(CASE WHEN id = (SELECT min(id) FROM held) THEN NULL
                                                       ELSE jsonb_build_object('done', payload_n) END ORDER BY id)
                                   FROM (SELECT h.id, j.payload->>'n' AS payload_n FROM held h
                                           JOIN baton.jobs j USING (id)) x))
 ORDER BY refused DESC, id;
SELECT payload->>'n' AS n, state, result FROM baton.jobs WHERE queue = 'rc' ORDER BY id;
-- complete_batch with results
CREATE TEMP TABLE held2 AS SELECT id, lease_token FROM baton.jobs WHERE queue = 'rc' AND state = 'running';
SELECT count(*) AS completed FROM baton.complete_batch(
    (SELECT array_agg(id ORDER BY id) FROM held2), (SELECT array_agg(lease_token ORDER BY id) FROM held2),
    (SELECT array_agg(jsonb_build_object('batch', true)) FROM held2));
SELECT payload->>'n' AS n, state, result FROM baton.jobs WHERE queue = 'rc' ORDER BY id;
-- the old form of complete_and_claim returns claimed jobs only, as before
SELECT count(*) AS claimed, bool_and(lease_token IS NOT NULL) AS all_with_tokens
  FROM baton.complete_and_claim('{}', '{}', 'rc', 'w', 5);
-- results must be as long as ids
SELECT * FROM baton.complete_batch('{1,2}', '{1,2}', ARRAY['{}'::jsonb]);
SELECT baton.drop_queue('rc', force => true);
