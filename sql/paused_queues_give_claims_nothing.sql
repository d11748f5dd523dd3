-- A paused queue gives claims nothing; enqueue, heartbeat, complete and fail
-- go on as usual; queue_stats shows it; resume lets claims take jobs again.
SELECT baton.create_queue('pq', lease => '1 hour');
SELECT baton.enqueue('pq', '{"n": 1}') AS j1 \gset
SELECT id AS held, lease_token AS token FROM baton.claim('pq', 'w') \gset
SELECT baton.enqueue('pq', '{"n": 2}') > 0 AS enqueued;
SELECT baton.pause('pq') AS paused, baton.pause('pq') AS paused_again;
SELECT count(*) AS claimed_while_paused FROM baton.claim('pq', 'w', 10);
SELECT count(*) AS claimed_by_complete_and_claim
  FROM baton.complete_and_claim('{}'::bigint[], '{}'::bigint[], 'pq', 'w', 10);
SELECT baton.enqueue('pq', '{"n": 3}') > 0 AS enqueue_works;
SELECT count(*) AS heartbeat_works FROM baton.heartbeat('w');
SELECT baton.complete(:held, :token) AS complete_works;
SELECT queue, ready, paused FROM baton.queue_stats WHERE queue = 'pq';
SELECT baton.resume('pq') AS resumed, baton.resume('pq') AS resumed_again;
SELECT payload FROM baton.claim('pq', 'w', 10) ORDER BY id;
SELECT baton.pause('no_such_queue');
SELECT baton.drop_queue('pq', force => true);
