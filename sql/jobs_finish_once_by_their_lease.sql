-- The happy path and its refusals, in one queue. Ids and tokens are kept in
-- psql variables so that the output does not depend on sequence values.
SELECT baton.create_queue('life', lease => '1 minute', max_attempts => 3);

SELECT baton.enqueue('life', '{"n": 1}') AS j1 \gset
SELECT baton.enqueue('life', '{"n": 2}', priority => 5) AS j2 \gset
SELECT baton.enqueue('life', '{"n": 3}', run_at => clock_timestamp() + interval '1 hour') AS j3 \gset

SELECT ready, scheduled, running, expired_leases, dead FROM baton.queue_stats WHERE queue = 'life';

-- Higher priority first; the scheduled job is not due.
SELECT id = :j2 AS is_j2, payload, attempt, priority FROM baton.claim('life', 'w1', 1);
SELECT id = :j1 AS is_j1, payload, attempt FROM baton.claim('life', 'w1', 5);
SELECT count(*) AS nothing_due FROM baton.claim('life', 'w1', 5);

SELECT lease_token AS t1 FROM baton.jobs WHERE id = :j1 \gset
SELECT lease_token AS t2 FROM baton.jobs WHERE id = :j2 \gset
SELECT :t2 < :t1 AS tokens_increase_in_claim_order;

-- heartbeat extends exactly the worker's jobs, in id order.
SELECT id = :j1 AS first_is_j1 FROM baton.heartbeat('w1') ORDER BY id LIMIT 1;
SELECT count(*) AS other_worker_extends_nothing FROM baton.heartbeat('w2');

-- renew only with the owner's token.
SELECT baton.renew(:j1, :t1) > clock_timestamp() AS renewed;
SELECT baton.renew(:j1, :t2) IS NULL AS wrong_token_refused;

-- complete exactly once; a wrong token never.
SELECT baton.complete(:j1, :t2) AS wrong_token;
SELECT baton.complete(:j1, :t1, '{"ok": true}') AS first;
SELECT baton.complete(:j1, :t1) AS second;
SELECT state, result, finished_at IS NOT NULL AS finished FROM baton.jobs WHERE id = :j1;

-- fail before the last attempt: ready again after the back-off.
SELECT baton.fail(:j2, :t2, 'boom') AS state;
SELECT state, error, attempt, worker IS NULL AS no_worker,
       run_at > clock_timestamp() AS later FROM baton.jobs WHERE id = :j2;
SELECT baton.fail(:j2, :t2, 'again') IS NULL AS stale_fail_refused;

-- retry_in = 0: due at once, claimable again with attempt 2.
UPDATE baton._jobs SET run_at = clock_timestamp() WHERE id = :j2;
SELECT attempt, lease_token > :t2 AS new_token FROM baton.claim('life', 'w1');
SELECT lease_token AS t2b FROM baton.jobs WHERE id = :j2 \gset
SELECT baton.fail(:j2, :t2b, 'twice', retry_in => '0') AS state;
SELECT attempt, lease_token > :t2b AS new_token FROM baton.claim('life', 'w1');
SELECT lease_token AS t2c FROM baton.jobs WHERE id = :j2 \gset
-- the third attempt is the last: fail makes it dead.
SELECT baton.fail(:j2, :t2c, 'final') AS state;
SELECT state, attempt, error FROM baton.jobs WHERE id = :j2;

-- retry: a dead job is ready again with attempt 0.
SELECT baton.retry(:j2) AS retried;
SELECT state, attempt FROM baton.jobs WHERE id = :j2;
SELECT baton.retry(:j2) AS not_twice;

-- cancel: a ready job, then nothing more.
SELECT baton.cancel(:j3) AS cancelled, baton.cancel(:j3) AS again;
SELECT state FROM baton.jobs WHERE id = :j3;

SELECT ready, scheduled, running, expired_leases, dead FROM baton.queue_stats WHERE queue = 'life';
SELECT baton.drop_queue('life', force => true);
