-- cancel_all cancels a queue's unfinished jobs (only the ready ones with
-- only_ready) and frees the slots its running keyed jobs held; retry_all
-- makes its dead jobs ready again, except one whose unique_key is taken.
-- Each returns how many jobs it changed; other queues are untouched.
SELECT baton.create_queue('bulk', lease => '1 hour', max_attempts => 1);
SELECT baton.create_queue('other', lease => '1 hour');
SELECT count(*) AS enqueued FROM (SELECT baton.enqueue('bulk', jsonb_build_object('n', g)) FROM generate_series(1, 3) g) s;
SELECT baton.enqueue('bulk', '{"keyed": true}', priority => 5, concurrency_key => 'bulk-key') > 0 AS enqueued;
SELECT baton.enqueue('other', '{"waits": true}', concurrency_key => 'bulk-key') > 0 AS enqueued;
SELECT count(*) AS running FROM baton.claim('bulk', 'w', 2);
SELECT count(*) AS claimed_elsewhere FROM baton.claim('other', 'w');  -- bulk-key is full
SELECT baton.cancel_all('bulk', only_ready => true) AS cancelled_ready;
SELECT state, count(*) FROM baton.jobs WHERE queue = 'bulk' GROUP BY state ORDER BY state;
SELECT baton.cancel_all('bulk') AS cancelled_rest;
SELECT payload FROM baton.claim('other', 'w');  -- the freed slot woke it
SELECT baton.cancel_all('bulk') AS nothing_left;
-- retry_all
SELECT baton.create_queue('dead', max_attempts => 1);
SELECT count(*) AS enqueued FROM (SELECT baton.enqueue('dead', jsonb_build_object('n', g), unique_key => 'd' || g) FROM generate_series(1, 3) g) s;
SELECT count(*) AS failed FROM (SELECT baton.fail(id, lease_token) FROM baton.claim('dead', 'w', 3)) f;
SELECT baton.enqueue('dead', '{"takes": "d2"}', unique_key => 'd2') > 0 AS d2_taken;
SELECT baton.retry_all('dead') AS retried;
SELECT payload, state, attempt FROM baton.jobs WHERE queue = 'dead' ORDER BY id;
SELECT baton.retry_all('dead') AS nothing_left;
SELECT baton.cancel_all('no_such_queue');
SELECT baton.drop_queue(q, force => true) FROM unnest(ARRAY['bulk', 'other', 'dead']) q;
