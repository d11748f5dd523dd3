-- Each backend remembers where it last found a queue's row in
-- baton._queues and reads it there while its snapshot still sees it there
-- (src/rows.cpp, find_queue). A queue whose settings changed, or that was
-- dropped and created again elsewhere in the table, is read anew; a place
-- that VACUUM truncated away is never read.
SELECT baton.create_queue('qc', max_attempts => 3);
SELECT baton.enqueue('qc') > 0 AS enqueued;              -- remembered
SELECT baton.create_queue('qc', max_attempts => 5);       -- new settings: a new row version
SELECT baton.enqueue('qc') > 0 AS enqueued;
SELECT max_attempts, count(*) FROM baton.jobs WHERE queue = 'qc' GROUP BY 1 ORDER BY 1;

-- Many queues, so that the last one's row is on a later page; all dropped
-- and the table vacuumed (its pages truncated); the queue created again.
SELECT count(baton.create_queue('qc_' || g)) AS created FROM generate_series(1, 400) g;
SELECT baton.enqueue('qc_400') > 0 AS enqueued;          -- remembered on a later page
SELECT (ctid::text::point)[0] > 0 AS on_a_later_page FROM baton._queues WHERE queue = 'qc_400';
SELECT count(baton.drop_queue('qc_' || g, force => true)) AS dropped FROM generate_series(1, 400) g;
VACUUM baton._queues;
SELECT pg_relation_size('baton._queues') < 8192 * 4 AS truncated;
SELECT baton.create_queue('qc_400', max_attempts => 7);
SELECT baton.enqueue('qc_400') > 0 AS enqueued;          -- the remembered place is gone
SELECT max_attempts FROM baton.jobs WHERE queue = 'qc_400';
SELECT count(*) AS claimed FROM baton.claim('qc_400', 'w');
SELECT baton.drop_queue('qc_400', force => true);
SELECT baton.drop_queue('qc', force => true);
