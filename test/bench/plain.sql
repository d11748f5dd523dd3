-- The plain-SQL baseline of `make bench`: the queue table most applications
-- write by hand, with the indexes its canonical SKIP LOCKED claim and its
-- unique keys need. Its statements are in test/bench/loadgen.cpp.
CREATE SCHEMA plain;

CREATE SEQUENCE plain.tokens;

CREATE TABLE plain.jobs (
    id               bigserial PRIMARY KEY,
    queue            text        NOT NULL,
    state            text        NOT NULL,
    payload          jsonb       NOT NULL,
    priority         int         NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempt          int         NOT NULL DEFAULT 0,
    lease_token      bigint,
    lease_expires_at timestamptz,
    worker           text,
    unique_key       text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    result           jsonb
);

-- The claim order, over ready jobs only.
CREATE INDEX jobs_ready ON plain.jobs (queue, priority DESC, run_at, id)
    WHERE state = 'ready';

-- unique_key dedupes among unfinished jobs.
CREATE UNIQUE INDEX jobs_unique_key ON plain.jobs (queue, unique_key)
    WHERE state IN ('ready', 'running');
