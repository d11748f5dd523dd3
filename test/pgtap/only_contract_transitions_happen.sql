-- Only the contract's transitions happen (docs/contract.md "Jobs", "Claim, heartbeat,
-- finish"): jobs are put in every state through the public functions, then
-- every illegal attempt is refused and leaves the job exactly as it was; the
-- legal transitions (complete once, fail with back-off or to dead, cancel,
-- retry, reclaim of an expired lease, burial of a claim past max_attempts)
-- give exactly the documented results.
BEGIN;
SELECT plan(157);

-- Runs one call of the table below and returns its result as text.
CREATE FUNCTION pg_temp.eval(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE call INTO r;
    RETURN r;
END $$;

-- A job of a fresh queue, claimed for the k-th time (earlier attempts failed
-- with retry_in 0, so every step goes through the public functions).
CREATE FUNCTION pg_temp.job_at_attempt(q text, k int, OUT id bigint, OUT token bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    PERFORM baton.enqueue(q, '{}');
    FOR i IN 1..k LOOP
        SELECT * INTO c FROM baton.claim(q, 'tap-tr-' || q);
        IF c.id IS NULL THEN
            RAISE EXCEPTION 'setup: nothing to claim in % at attempt %', q, i;
        END IF;
        IF c.attempt <> i THEN
            RAISE EXCEPTION 'setup: claim % of % gave attempt %', i, q, c.attempt;
        END IF;
        IF i < k AND baton.fail(c.id, c.lease_token, 'setup', '0 seconds') IS DISTINCT FROM 'ready' THEN
            RAISE EXCEPTION 'setup: fail % of % did not give ready', i, q;
        END IF;
    END LOOP;
    id := c.id;
    token := c.lease_token;
END $$;

-------------------------------------------------------------------------------
-- Jobs in every state, one queue each (so that a claim can only take the job
-- it is meant for). fx holds each job with the token an attacker would use.
-------------------------------------------------------------------------------
SELECT baton.create_queue(q, '30 seconds', 3, '10 seconds')
  FROM unnest(ARRAY['tap_tr_ready', 'tap_tr_run', 'tap_tr_reclaimed', 'tap_tr_done',
                    'tap_tr_cxr', 'tap_tr_cxu', 'tap_tr_exp', 'tap_tr_expu']) AS q;
SELECT baton.create_queue(q, '30 seconds', 1, '10 seconds')
  FROM unnest(ARRAY['tap_tr_dead', 'tap_tr_buried']) AS q;

CREATE TEMP TABLE fx (label text PRIMARY KEY, id bigint, token bigint, ord serial);
CREATE TEMP TABLE claimed (label text PRIMARY KEY, c baton.claimed_job);

-- ready: never claimed.
INSERT INTO fx (label, id) SELECT 'ready', baton.enqueue('tap_tr_ready', '{"s": "ready"}');

-- running: claimed, lease live.
INSERT INTO claimed
SELECT 'running', c FROM baton.enqueue('tap_tr_run', '{"s": "running"}') e,
                         baton.claim('tap_tr_run', 'tap-w-run') c;

-- reclaimed: claimed with a tiny lease that expires, then claimed again.
INSERT INTO claimed
SELECT 'reclaimed-old', c FROM baton.enqueue('tap_tr_reclaimed', '{"s": "reclaimed"}') e,
                               baton.claim('tap_tr_reclaimed', 'tap-w-old', 1, '50 milliseconds') c;
-- expired: a tiny lease nobody reclaims.
INSERT INTO claimed
SELECT 'expired', c FROM baton.enqueue('tap_tr_exp', '{"s": "expired"}') e,
                         baton.claim('tap_tr_exp', 'tap-w-exp', 1, '50 milliseconds') c;
-- buried: max_attempts 1, a tiny lease, then a claim that would be attempt 2.
INSERT INTO claimed
SELECT 'buried-first', c FROM baton.enqueue('tap_tr_buried', '{"s": "buried"}') e,
                              baton.claim('tap_tr_buried', 'tap-w-bury', 1, '50 milliseconds') c;
SELECT pg_sleep(0.2);

INSERT INTO claimed
SELECT 'reclaimed-new', c FROM baton.claim('tap_tr_reclaimed', 'tap-w-new') c;
SELECT is((SELECT count(*) FROM baton.claim('tap_tr_buried', 'tap-w-bury2')), 0::bigint,
          'a claim that would exceed max_attempts returns nothing');

-- completed, dead (fail at the last attempt), cancelled from ready and from running.
INSERT INTO claimed
SELECT 'completed', c FROM baton.enqueue('tap_tr_done', '{"s": "completed"}') e,
                           baton.claim('tap_tr_done', 'tap-w-done') c;
INSERT INTO claimed
SELECT 'dead', c FROM baton.enqueue('tap_tr_dead', '{"s": "dead"}') e,
                      baton.claim('tap_tr_dead', 'tap-w-dead') c;
INSERT INTO claimed
SELECT 'cancelled-running', c FROM baton.enqueue('tap_tr_cxu', '{"s": "cancelled"}') e,
                                   baton.claim('tap_tr_cxu', 'tap-w-cxu') c;
INSERT INTO fx (label, id) SELECT 'cancelled-ready', baton.enqueue('tap_tr_cxr', '{"s": "cancelled"}');
-- expired by the clock, as superuser (test setup): lease_expires_at only.
INSERT INTO claimed
SELECT 'expired-set', c FROM baton.enqueue('tap_tr_expu', '{"s": "expired"}') e,
                             baton.claim('tap_tr_expu', 'tap-w-expu') c;
UPDATE baton._jobs SET lease_expires_at = clock_timestamp() - interval '1 second'
 WHERE id = (SELECT (c).id FROM claimed WHERE label = 'expired-set');

SELECT is((SELECT baton.complete((c).id, (c).lease_token, '{"r": 1}') FROM claimed WHERE label = 'completed'),
          true, 'complete by the owner of a live lease returns true');
SELECT is((SELECT baton.complete((c).id, (c).lease_token, '{"r": 2}') FROM claimed WHERE label = 'completed'),
          false, 'complete a second time with the same token returns false');
SELECT is((SELECT result FROM baton.jobs WHERE id = (SELECT (c).id FROM claimed WHERE label = 'completed')),
          '{"r": 1}'::jsonb, 'the second complete did not overwrite the result');
SELECT is((SELECT baton.fail((c).id, (c).lease_token, 'boom') FROM claimed WHERE label = 'dead'),
          'dead', 'fail at the last attempt returns dead');
SELECT is((SELECT baton.cancel((c).id) FROM claimed WHERE label = 'cancelled-running'),
          true, 'cancel of a running job returns true');
SELECT is((SELECT baton.cancel(id) FROM fx WHERE label = 'cancelled-ready'),
          true, 'cancel of a ready job returns true');

-- The attacker's token for each job: its own last token, or another job's.
INSERT INTO fx (label, id, token)
SELECT label, (c).id, (c).lease_token FROM claimed
 WHERE label IN ('completed', 'dead', 'cancelled-running', 'expired', 'expired-set', 'buried-first');
UPDATE fx SET label = 'dead-by-claim' WHERE label = 'buried-first';
INSERT INTO fx (label, id, token)
SELECT 'running, wrong token', (c).id, (c).lease_token + 1000000 FROM claimed WHERE label = 'running';
INSERT INTO fx (label, id, token)
SELECT 'running, another job''s live token', (r.c).id, (n.c).lease_token
  FROM claimed r, claimed n
 WHERE r.label = 'running' AND n.label = 'reclaimed-new';
INSERT INTO fx (label, id, token)
SELECT 'running, token from before the reclaim', (c).id, (c).lease_token FROM claimed WHERE label = 'reclaimed-old';
UPDATE fx SET token = (SELECT (c).lease_token FROM claimed WHERE label = 'running')
 WHERE label IN ('ready', 'cancelled-ready');

-------------------------------------------------------------------------------
-- The states are the ones the public functions were asked for.
-------------------------------------------------------------------------------
SELECT results_eq(
    $$SELECT f.label, j.state FROM fx f JOIN baton.jobs j ON j.id = f.id ORDER BY f.label$$,
    $$VALUES ('cancelled-ready', 'cancelled'), ('cancelled-running', 'cancelled'),
             ('completed', 'completed'), ('dead', 'dead'), ('dead-by-claim', 'dead'),
             ('expired', 'running'), ('expired-set', 'running'), ('ready', 'ready'),
             ('running, another job''s live token', 'running'),
             ('running, token from before the reclaim', 'running'),
             ('running, wrong token', 'running')$$,
    'setup: one job in each state, through the public functions only');

-- Reclaim of an expired lease: attempt + 1, a strictly greater token.
SELECT is((SELECT (c).attempt FROM claimed WHERE label = 'reclaimed-new'),
          (SELECT (c).attempt + 1 FROM claimed WHERE label = 'reclaimed-old'),
          'a reclaim of an expired job gives attempt + 1');
SELECT cmp_ok((SELECT (c).lease_token FROM claimed WHERE label = 'reclaimed-new'), '>',
              (SELECT (c).lease_token FROM claimed WHERE label = 'reclaimed-old'),
              'a reclaim of an expired job gives a strictly greater lease_token');
SELECT is((SELECT worker FROM baton.jobs WHERE id = (SELECT (c).id FROM claimed WHERE label = 'reclaimed-new')),
          'tap-w-new', 'the reclaimed job belongs to the new worker');
-- Burial: dead, not returned, attempt not counted past max_attempts.
SELECT row_eq($$SELECT state, attempt, finished_at IS NOT NULL FROM baton.jobs
                 WHERE id = (SELECT (c).id FROM claimed WHERE label = 'buried-first')$$,
              ROW('dead'::text, 1, true),
              'the expired job a claim would take past max_attempts is dead, attempt still 1, finished');
SELECT row_eq($$SELECT state, attempt, finished_at IS NOT NULL, lease_expires_at IS NOT NULL
                  FROM baton.jobs WHERE id = (SELECT id FROM fx WHERE label = 'dead')$$,
              ROW('dead'::text, 1, true, true),
              'fail at the last attempt: dead, finished, attempt unchanged');

-------------------------------------------------------------------------------
-- Every illegal attempt, table-driven: (job, attempt, expected result).
-------------------------------------------------------------------------------
CREATE TEMP TABLE snapshot AS SELECT * FROM baton.jobs;

CREATE TEMP TABLE illegal (n serial, job text, what text, call text, expect text);
-- complete, fail and renew with a token that does not own the job.
INSERT INTO illegal (job, what, call, expect)
SELECT f.label, o.what, format(o.tmpl, f.id, f.token), o.expect
  FROM (SELECT * FROM fx ORDER BY ord) f
 CROSS JOIN (VALUES (1, 'complete', 'SELECT baton.complete(%s, %s, ''{"illegal": true}'')::text', 'false'),
                    (2, 'fail',     'SELECT baton.fail(%s, %s, ''illegal'')', NULL),
                    (3, 'fail with retry_in 0', 'SELECT baton.fail(%s, %s, ''illegal'', ''0 seconds'')', NULL),
                    (4, 'renew',    'SELECT baton.renew(%s, %s)::text', NULL),
                    (5, 'renew with a lease', 'SELECT baton.renew(%s, %s, ''1 hour'')::text', NULL)
            ) AS o(k, what, tmpl, expect)
 ORDER BY f.ord, o.k;
-- cancel of a finished job.
INSERT INTO illegal (job, what, call, expect)
SELECT f.label, 'cancel', format('SELECT baton.cancel(%s)::text', f.id), 'false'
  FROM fx f WHERE f.label IN ('completed', 'dead', 'dead-by-claim', 'cancelled-ready', 'cancelled-running')
 ORDER BY f.ord;
-- retry of a job that is not dead or cancelled.
INSERT INTO illegal (job, what, call, expect)
SELECT f.label, 'retry', format('SELECT baton.retry(%s)::text', f.id), 'false'
  FROM fx f WHERE f.label IN ('ready', 'completed', 'running, wrong token', 'expired', 'expired-set',
                              'running, token from before the reclaim')
 ORDER BY f.ord;
-- heartbeat by a worker that holds no live lease: another worker's name, the
-- worker whose lease expired, the worker that lost the job to a reclaim, the
-- worker of a job that was cancelled while it ran.
INSERT INTO illegal (job, what, call, expect) VALUES
    ('running', 'heartbeat by another worker name',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-intruder'')', '0'),
    ('running', 'heartbeat by a name that differs only in case',
     'SELECT count(*)::text FROM baton.heartbeat(''TAP-W-RUN'')', '0'),
    ('expired', 'heartbeat by its worker after the lease expired',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-exp'')', '0'),
    ('expired-set', 'heartbeat by its worker after the lease expired',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-expu'', ''1 hour'')', '0'),
    ('reclaimed', 'heartbeat by the worker that lost the job to a reclaim',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-old'')', '0'),
    ('cancelled-running', 'heartbeat by the worker of a cancelled job',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-cxu'')', '0'),
    ('dead-by-claim', 'heartbeat by the worker of a buried job',
     'SELECT count(*)::text FROM baton.heartbeat(''tap-w-bury'')', '0');

SELECT is(pg_temp.eval(i.call), i.expect,
          format('%s is refused for the %s job (%s)', i.what, i.job,
                 coalesce(i.expect, 'NULL')))
  FROM (SELECT * FROM illegal ORDER BY n) i;

SELECT is((SELECT count(*) FROM illegal), 73::bigint, 'all 73 illegal attempts were made');

-- Nothing moved: each job's row is exactly as it was before the attempts.
SELECT is((SELECT j::text FROM baton.jobs j WHERE j.id = f.id),
          (SELECT s::text FROM snapshot s WHERE s.id = f.id),
          format('the %s job is unchanged after the illegal attempts', f.label))
  FROM (SELECT * FROM fx ORDER BY ord) f;
SELECT is((SELECT count(*) FROM baton.jobs), (SELECT count(*) FROM snapshot),
          'the illegal attempts added or removed no job');

-------------------------------------------------------------------------------
-- The legal transitions still work where they are legal.
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT id FROM baton.heartbeat('tap-w-run')$$,
                  $$SELECT (c).id FROM claimed WHERE label = 'running'$$,
                  'heartbeat by the owner extends exactly its own live job');
SELECT isnt((SELECT baton.renew((c).id, (c).lease_token) FROM claimed WHERE label = 'running'), NULL,
            'renew by the owner of a live lease returns the new expiry');
SELECT is((SELECT baton.complete((c).id, (c).lease_token) FROM claimed WHERE label = 'reclaimed-new'), true,
          'the token of the reclaim completes the job');

-- cancel of a running job: its token stops working.
SELECT row_eq($$SELECT state, finished_at IS NOT NULL FROM baton.jobs
                 WHERE id = (SELECT id FROM fx WHERE label = 'cancelled-running')$$,
              ROW('cancelled'::text, true), 'a cancelled running job is cancelled and finished');

-- retry of dead and cancelled jobs: ready now, attempt 0.
CREATE TEMP TABLE retried AS
SELECT f.label, clock_timestamp() AS t0, baton.retry(f.id) AS ok, clock_timestamp() AS t1, f.id, f.token
  FROM fx f WHERE f.label IN ('dead', 'dead-by-claim', 'cancelled-ready', 'cancelled-running');
SELECT is(r.ok, true, format('retry of a %s job returns true', r.label))
  FROM (SELECT * FROM retried ORDER BY label) r;
SELECT row_eq(format($$SELECT state, attempt, run_at BETWEEN %L::timestamptz AND %L::timestamptz,
                              lease_expires_at, worker, finished_at
                         FROM baton.jobs WHERE id = %s$$, r.t0, r.t1, r.id),
              ROW('ready'::text, 0, true, NULL::timestamptz, NULL::text, NULL::timestamptz),
              format('retry makes the %s job ready now with attempt 0, no lease, not finished', r.label))
  FROM (SELECT * FROM retried ORDER BY label) r;
SELECT is((SELECT baton.complete(id, token) FROM retried WHERE label = 'cancelled-running'), false,
          'the token a job had before it was cancelled and retried does not complete it');
SELECT is((SELECT baton.retry(id) FROM retried WHERE label = 'dead'), false,
          'retry of a job that is ready again returns false');
-- The retried job can be claimed again from attempt 1, with a new token.
SELECT row_eq($$SELECT c.attempt, c.lease_token > (SELECT token FROM retried WHERE label = 'dead')
                  FROM baton.claim('tap_tr_dead', 'tap-w-dead2') c$$,
              ROW(1, true), 'a retried dead job is claimed again at attempt 1 with a greater token');

-- retry is refused while another unfinished job holds the unique_key.
SELECT baton.create_queue('tap_tr_uk', '30 seconds', 3, '1 second');
CREATE TEMP TABLE uk AS SELECT baton.enqueue('tap_tr_uk', '{"n": 1}', unique_key => 'tap-uk') AS first;
SELECT is((SELECT baton.cancel(first) FROM uk), true, 'unique_key: the first job is cancelled');
ALTER TABLE uk ADD COLUMN second bigint;
UPDATE uk SET second = baton.enqueue('tap_tr_uk', '{"n": 2}', unique_key => 'tap-uk');
SELECT isnt((SELECT second FROM uk), (SELECT first FROM uk),
            'unique_key: a new job takes the key once the first is finished');
SELECT is((SELECT baton.retry(first) FROM uk), false,
          'retry returns false while another unfinished job holds the same unique_key');
SELECT results_eq($$SELECT state FROM baton.jobs WHERE id IN (SELECT first FROM uk UNION ALL SELECT second FROM uk) ORDER BY id$$,
                  $$VALUES ('cancelled'::text), ('ready'::text)$$,
                  'the refused retry changed nothing: the first stays cancelled, the holder ready');
-- ... also when the holder is running.
SELECT is((SELECT count(*) FROM baton.claim('tap_tr_uk', 'tap-w-uk')), 1::bigint, 'unique_key: the holder is claimed');
SELECT is((SELECT baton.retry(first) FROM uk), false,
          'retry returns false while a running job holds the same unique_key');
SELECT is((SELECT baton.cancel(second) FROM uk), true, 'unique_key: the holder is cancelled');
SELECT is((SELECT baton.retry(first) FROM uk), true, 'retry succeeds once the key is free');

-------------------------------------------------------------------------------
-- fail before the last attempt: ready after retry_base * 2^(attempt-1),
-- capped at 1 hour; retry_in overrides it.
-------------------------------------------------------------------------------
CREATE TEMP TABLE backoff (queue text, max_attempts int, retry_base interval, attempt int,
                           retry_in interval, expected interval, n serial);
INSERT INTO backoff (queue, max_attempts, retry_base, attempt, retry_in, expected) VALUES
    ('tap_tr_bo1',    5, '10 seconds',       1, NULL, '10 seconds'),
    ('tap_tr_bo2',    5, '10 seconds',       2, NULL, '20 seconds'),
    ('tap_tr_bo3',    5, '10 seconds',       3, NULL, '40 seconds'),
    ('tap_tr_bo4',    5, '10 seconds',       4, NULL, '80 seconds'),
    ('tap_tr_bo_ms',  5, '250 milliseconds', 3, NULL, '1 second'),
    ('tap_tr_cap5',  30, '10 minutes',       5, NULL, '1 hour'),   -- 160 minutes, capped
    ('tap_tr_cap1',  30, '2 hours',          1, NULL, '1 hour'),   -- the base alone is over the cap
    ('tap_tr_cap29', 30, '1 second',        29, NULL, '1 hour'),   -- 2^28 seconds, capped
    ('tap_tr_rin',    5, '10 seconds',       2, '5 minutes', '5 minutes'),  -- retry_in wins
    ('tap_tr_rin2',   5, '10 seconds',       1, '2 hours',   '2 hours');    -- retry_in is not capped
SELECT baton.create_queue(queue, '30 seconds', max_attempts, retry_base) FROM backoff ORDER BY n;

CREATE TEMP TABLE failed AS
SELECT b.*, j.id, clock_timestamp() AS t0,
       baton.fail(j.id, j.token, 'boom', b.retry_in) AS state,
       clock_timestamp() AS t1
  FROM (SELECT * FROM backoff ORDER BY n) b,
       LATERAL pg_temp.job_at_attempt(b.queue, b.attempt) j;

SELECT is(f.state, 'ready', format('fail at attempt %s of %s returns ready', f.attempt, f.max_attempts))
  FROM (SELECT * FROM failed ORDER BY n) f;
SELECT ok(f.run_at BETWEEN f.t0 + f.expected * 0.9 AND f.t1 + f.expected * 1.1 + interval '1 second',
          format('fail at attempt %s with retry_base %s and retry_in %s: run_at = now + %s (got now + %s)',
                 f.attempt, f.retry_base, coalesce(f.retry_in::text, 'NULL'), f.expected, f.run_at - f.t0))
  FROM (SELECT f.*, j.run_at FROM failed f JOIN baton.jobs j ON j.id = f.id ORDER BY f.n) f;
SELECT row_eq(format('SELECT state, attempt, finished_at FROM baton.jobs WHERE id = %s', f.id),
              ROW('ready'::text, f.attempt, NULL::timestamptz),
              format('the job failed at attempt %s is ready, keeps its attempt count, is not finished', f.attempt))
  FROM (SELECT * FROM failed ORDER BY n) f;
SELECT is((SELECT count(*) FROM baton.claim('tap_tr_bo1', 'tap-w-early')), 0::bigint,
          'a failed job is not claimed before its back-off has passed');

-- fail at the last attempt (max_attempts 3) gives dead and the job is not claimed again.
SELECT baton.create_queue('tap_tr_last', '30 seconds', 3, '10 seconds');
CREATE TEMP TABLE last_try AS SELECT * FROM pg_temp.job_at_attempt('tap_tr_last', 3);
SELECT is((SELECT baton.fail(id, token, 'boom', '0 seconds') FROM last_try), 'dead',
          'fail at the last attempt returns dead, even with retry_in 0');
SELECT row_eq($$SELECT state, attempt, finished_at IS NOT NULL, error FROM baton.jobs
                 WHERE id = (SELECT id FROM last_try)$$,
              ROW('dead'::text, 3, true, 'boom'::text),
              'the job failed at its last attempt is dead, finished, with the error');
SELECT is((SELECT count(*) FROM baton.claim('tap_tr_last', 'tap-w-last')), 0::bigint,
          'a dead job is not claimed again');

-- A queue's later max_attempts does not change a job already enqueued.
SELECT baton.create_queue('tap_tr_keep', '30 seconds', 2, '10 seconds');
CREATE TEMP TABLE keep AS SELECT baton.enqueue('tap_tr_keep') AS id;
SELECT baton.create_queue('tap_tr_keep', '30 seconds', 1, '10 seconds');
SELECT is((SELECT baton.fail(c.id, c.lease_token, 'boom') FROM baton.claim('tap_tr_keep', 'tap-w-keep') c),
          'ready', 'a job keeps the max_attempts its queue had when it was enqueued');

SELECT * FROM finish();
ROLLBACK;
