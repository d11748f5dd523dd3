-- unique_key dedupes among unfinished jobs; keep and replace.
SELECT baton.create_queue('uk');
SELECT baton.enqueue('uk', '{"v": 1}', unique_key => 'k') AS k1 \gset
SELECT baton.enqueue('uk', '{"v": 2}', unique_key => 'k') = :k1 AS keep_returns_existing;
SELECT payload FROM baton.jobs WHERE id = :k1;
SELECT baton.enqueue('uk', '{"v": 3}', unique_key => 'k', priority => 7,
                     concurrency_key => 'c', on_conflict => 'replace') = :k1 AS replace_same_id;
SELECT payload, priority, concurrency_key FROM baton.jobs WHERE id = :k1;

-- a running job is kept as it is by replace
SELECT lease_token AS t FROM baton.claim('uk', 'w') \gset
SELECT baton.enqueue('uk', '{"v": 4}', unique_key => 'k', on_conflict => 'replace') = :k1 AS running_kept;
SELECT payload, state FROM baton.jobs WHERE id = :k1;

-- once finished, the key is free again
SELECT baton.complete(:k1, :t);
SELECT baton.enqueue('uk', '{"v": 5}', unique_key => 'k') <> :k1 AS new_job_after_finish;

-- retry of the finished one is refused while another holds the key
SELECT id AS k2 FROM baton.jobs WHERE queue = 'uk' AND state = 'ready' \gset
SELECT baton.cancel(:k2);
SELECT baton.enqueue('uk', '{"v": 6}', unique_key => 'k') AS k3 \gset
SELECT baton.retry(:k2) AS retry_refused_key_taken;
SELECT state FROM baton.jobs WHERE id = :k2;

-- keys are per queue
SELECT baton.create_queue('uk2');
SELECT baton.enqueue('uk2', '{}', unique_key => 'k') <> :k3 AS other_queue_other_job;

SELECT baton.drop_queue('uk', force => true);
SELECT baton.drop_queue('uk2', force => true);
