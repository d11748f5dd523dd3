-- An index a superuser adds to baton._jobs gets the entries of baton's own
-- writes from the next call on, and a dropped one is no longer written:
-- baton keeps the IndexInfo of the table's indexes across calls
-- (src/indexes.cpp) and builds them again when the indexes change. An
-- expression index is never kept (built per call, as PostgreSQL does).
SELECT baton.create_queue('idx');
SELECT baton.enqueue('idx', '{"n": 1}') > 0 AS enqueued;  -- the kept IndexInfos are built
SET enable_seqscan = off;
SET enable_bitmapscan = off;

-- A plain partial index: kept.
CREATE INDEX tap_idx_worker ON baton._jobs (worker, id) WHERE queue = 'idx';
SELECT baton.enqueue('idx', '{"n": 2}') > 0 AS enqueued;
SELECT count(*) AS claimed FROM baton.claim('idx', 'w-idx', 5);
EXPLAIN (COSTS OFF) SELECT payload FROM baton._jobs WHERE queue = 'idx' AND worker = 'w-idx';
SELECT payload->>'n' AS claimed_n FROM baton._jobs WHERE queue = 'idx' AND worker = 'w-idx' ORDER BY 1;
DROP INDEX baton.tap_idx_worker;

-- An expression index: built per call.
CREATE INDEX tap_idx_n ON baton._jobs ((payload->>'n')) WHERE queue = 'idx';
SELECT baton.enqueue('idx', '{"n": 3}') > 0 AS enqueued;
SELECT baton.enqueue('idx', '{"n": 4}') > 0 AS enqueued;
EXPLAIN (COSTS OFF) SELECT state FROM baton._jobs WHERE queue = 'idx' AND payload->>'n' = '4';
SELECT state FROM baton._jobs WHERE queue = 'idx' AND payload->>'n' IN ('1', '3', '4') ORDER BY payload->>'n';
DROP INDEX baton.tap_idx_n;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Both dropped: the next calls write the indexes that are left.
SELECT baton.enqueue('idx', '{"n": 5}') > 0 AS enqueued;
SELECT count(*) AS claimed FROM baton.claim('idx', 'w-idx', 5);
SELECT baton.drop_queue('idx', force => true);
