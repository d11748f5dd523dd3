-- create_queue updates settings; drop_queue refuses while work remains;
-- purge deletes finished jobs only.
SELECT baton.create_queue('adm');
SELECT lease, max_attempts, retry_base FROM baton._queues WHERE queue = 'adm';
SELECT baton.create_queue('adm', lease => '5 minutes', max_attempts => 2, retry_base => '3 seconds');
SELECT lease, max_attempts, retry_base FROM baton._queues WHERE queue = 'adm';
-- a NULL for an argument with a default means the default
SELECT baton.create_queue('adm', NULL, NULL, NULL);
SELECT lease, max_attempts, retry_base FROM baton._queues WHERE queue = 'adm';

-- a job keeps the max_attempts its queue had when it was enqueued
SELECT baton.enqueue('adm') AS a1 \gset
SELECT baton.create_queue('adm', max_attempts => 7);
SELECT baton.enqueue('adm') AS a2 \gset
SELECT id = :a2 AS is_a2, max_attempts FROM baton.jobs WHERE queue = 'adm' ORDER BY id;

\set VERBOSITY terse
SELECT baton.drop_queue('adm');
SELECT count(*) AS jobs_kept FROM baton.jobs WHERE queue = 'adm';

SELECT lease_token AS t FROM baton.claim('adm', 'w') \gset
SELECT baton.complete(:a1, :t);
SELECT baton.cancel(:a2);
SELECT baton.purge('adm', '1 hour') AS too_recent;
SELECT baton.purge('adm', '0') AS purged;
SELECT count(*) AS left_over FROM baton.jobs WHERE queue = 'adm';
SELECT baton.drop_queue('adm');
SELECT count(*) AS queue_gone FROM baton.queue_stats WHERE queue = 'adm';
SELECT baton.purge('adm', '0');
SELECT baton.drop_queue('adm');

-- force deletes ready and running jobs; their tokens stop working
SELECT baton.create_queue('adm2');
SELECT baton.enqueue('adm2') AS b1 \gset
SELECT baton.enqueue('adm2') IS NOT NULL AS enqueued;
SELECT lease_token AS tb FROM baton.claim('adm2', 'w') \gset
SELECT baton.drop_queue('adm2', force => true);
SELECT baton.complete(:b1, :tb) AS token_dead;
SELECT count(*) FROM baton.jobs WHERE queue = 'adm2';
