-- Batch input is checked: enqueue_batch, complete_batch, complete_and_claim
-- and sorted_upsert (docs/contract.md "Enqueue (sorted batch upsert)", "Claim,
-- heartbeat, finish", "Sorted upsert into your own tables") refuse bad input
-- with the contract's SQLSTATE (22004 forbidden NULL, 22023 bad value, 42704
-- unknown queue, 42501 missing privilege), name what is wrong and write
-- nothing; and with good input they do what the contract says: one result row
-- per input element in input order, the first occurrence of a key counts,
-- later ones report the same job (never "ON CONFLICT DO UPDATE command cannot
-- affect row a second time"), and sorted_upsert runs with the caller's
-- privileges and row-level security.
BEGIN;
SELECT plan(304);

-------------------------------------------------------------------------------
-- Fixture.
--   tap_batch: a running job holding key 'held-running' and a ready job
--              holding 'held-ready' (payload {"v": 0}); the refusals run here.
--   tap_t:     a table with a composite primary key for sorted_upsert, and a
--              view on it (not a table).
-------------------------------------------------------------------------------
SELECT baton.create_queue('tap_batch');
SELECT baton.enqueue('tap_batch', '{"v": 0}', unique_key => 'held-running');
CREATE TEMP TABLE held_running AS
    SELECT id, lease_token FROM baton.claim('tap_batch', 'tap-batch-worker');
SELECT baton.enqueue('tap_batch', '{"v": 0}', unique_key => 'held-ready');

CREATE TABLE tap_t (id int NOT NULL, name text NOT NULL, val text, n int,
                    PRIMARY KEY (id, name));
INSERT INTO tap_t VALUES (100, 'fixture', 'keep me', 0);
CREATE VIEW tap_t_view AS SELECT * FROM tap_t;

-- Everything a refused call could have touched.
CREATE TEMP TABLE before_calls AS
SELECT (SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j) AS jobs,
       (SELECT count(*) FROM baton._jobs) AS job_count,
       (SELECT string_agg(t::text, E'\n' ORDER BY t.id, t.name) FROM tap_t t) AS rows;

-------------------------------------------------------------------------------
-- The refusals: the call, its SQLSTATE, and a regular expression the message
-- must match (it names the argument, element or field).
-------------------------------------------------------------------------------
CREATE TEMP TABLE refusal (
    n       serial PRIMARY KEY,
    fn      text NOT NULL,
    call    text NOT NULL,
    errcode char(5) NOT NULL,
    message text NOT NULL,
    rule    text NOT NULL
);

INSERT INTO refusal (fn, call, errcode, message, rule) VALUES
-- enqueue_batch(queue, jobs, on_conflict): the arguments
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', NULL)$$,           '22004', '\mjobs\M.*\mNULL\M', 'NULL jobs'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch(NULL, '[{}]')$$,                '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('bad name!', '[{}]')$$,         '22023', '\mqueue\M',  'an invalid queue name'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_nosuch', '[{}]')$$,        '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{}]', 'bogus')$$, '22023', '\mon_conflict\M', 'an unknown on_conflict'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{}]', '')$$,     '22023', '\mon_conflict\M', 'an empty on_conflict'),
-- jobs: shape
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '"job"')$$,        '22023', '\mjobs\M.*array', 'a JSON string instead of an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '42')$$,           '22023', '\mjobs\M.*array', 'a JSON number instead of an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', 'true')$$,         '22023', '\mjobs\M.*array', 'a JSON boolean instead of an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', 'null')$$,         '22023', '\mjobs\M.*array', 'a JSON null instead of an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '{"payload": {}}')$$, '22023', '\mjobs\M.*array', 'a JSON object instead of an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[]')$$,           '22023', '\mjobs\M.*\m1\M.*10000', 'an empty array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 10001)))$$, '22023', '\mjobs\M.*10000', '10001 elements'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[1]')$$,          '22023', 'element 1.*object', 'an element that is a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '["job"]')$$,      '22023', 'element 1.*object', 'an element that is a string'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[[]]')$$,         '22023', 'element 1.*object', 'an element that is an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[null]')$$,       '22023', 'element 1.*object', 'an element that is JSON null'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{}, {}, true]')$$, '22023', 'element 3.*object', 'a third element that is a boolean'),
-- jobs: fields
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"foo": 1}]')$$, '22023', '\mfoo\M',    'an unknown field'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"id": 1}]')$$,  '22023', '\mid\M',     'a field "id" (not a job field)'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"queue": "tap_batch"}]')$$, '22023', '\mqueue\M', 'a field "queue"'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"state": "running"}]')$$,   '22023', '\mstate\M', 'a field "state"'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"Payload": {}}]')$$,        '22023', '\mPayload\M', 'a field named in the wrong case'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{}, {"payload": {}, "extra": 1}]')$$, '22023', 'element 2.*\mextra\M', 'an unknown field next to a good one, in element 2'),
-- run_at
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": 1700000000}]')$$, '22023', '\mrun_at\M', 'run_at a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": true}]')$$,       '22023', '\mrun_at\M', 'run_at a boolean'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": ["2030-01-01"]}]')$$, '22023', '\mrun_at\M', 'run_at an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": {"at": "2030-01-01"}}]')$$, '22023', '\mrun_at\M', 'run_at an object'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": "not a time"}]')$$, '22023', '\mrun_at\M', 'run_at a string that is no timestamp'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": ""}]')$$,         '22023', '\mrun_at\M', 'run_at an empty string'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": "2030-02-30T00:00:00Z"}]')$$, '22023', '\mrun_at\M', 'run_at February 30'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": "infinity"}]')$$, '22023', '\mrun_at\M', 'run_at infinity'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"run_at": "-infinity"}]')$$, '22023', '\mrun_at\M', 'run_at -infinity'),
-- priority
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": 1.5}]')$$,        '22023', '\mpriority\M', 'priority 1.5'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": "1"}]')$$,        '22023', '\mpriority\M', 'priority the string "1"'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": "high"}]')$$,     '22023', '\mpriority\M', 'priority the string "high"'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": true}]')$$,       '22023', '\mpriority\M', 'priority a boolean'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": [1]}]')$$,        '22023', '\mpriority\M', 'priority an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": 2147483648}]')$$, '22023', '\mpriority\M', 'priority 2^31 (above int range)'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": -2147483649}]')$$, '22023', '\mpriority\M', 'priority -2^31-1 (below int range)'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"priority": 1e20}]')$$,       '22023', '\mpriority\M', 'priority 1e20'),
-- unique_key
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"unique_key": 7}]')$$,        '22023', '\munique_key\M', 'unique_key a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"unique_key": true}]')$$,     '22023', '\munique_key\M', 'unique_key a boolean'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"unique_key": ["k"]}]')$$,    '22023', '\munique_key\M', 'unique_key an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"unique_key": {"k": 1}}]')$$, '22023', '\munique_key\M', 'unique_key an object'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"unique_key": ""}]')$$,       '22023', '\munique_key\M', 'an empty unique_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      jsonb_build_array(jsonb_build_object('unique_key', repeat('k', 513))))$$, '22023', '\munique_key\M', 'a 513-byte unique_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      jsonb_build_array(jsonb_build_object('unique_key', repeat('é', 257))))$$, '22023', '\munique_key\M', 'a unique_key of 257 two-byte characters (514 bytes)'),
-- concurrency_key
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"concurrency_key": 7}]')$$,   '22023', '\mconcurrency_key\M', 'concurrency_key a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"concurrency_key": false}]')$$, '22023', '\mconcurrency_key\M', 'concurrency_key a boolean'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"concurrency_key": {}}]')$$,  '22023', '\mconcurrency_key\M', 'concurrency_key an object'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch', '[{"concurrency_key": ""}]')$$,  '22023', '\mconcurrency_key\M', 'an empty concurrency_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      jsonb_build_array(jsonb_build_object('concurrency_key', repeat('c', 513))))$$, '22023', '\mconcurrency_key\M', 'a 513-byte concurrency_key'),
-- a bad element after good ones: nothing of the batch is written
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      '[{"unique_key": "held-ready", "payload": {"v": 99}}, {"unique_key": "fresh-1"}, {"priority": "x"}]',
                      'replace')$$,                                                           '22023', 'element 3.*\mpriority\M', 'a bad third element after a replace and an insert'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_batch',
                      (SELECT jsonb_agg(CASE WHEN g < 10000 THEN jsonb_build_object('unique_key', 'many-' || g)
                                             ELSE jsonb_build_object('priority', 'x') END ORDER BY g)
                         FROM generate_series(1, 10000) g))$$,                               '22023', 'element 10000.*\mpriority\M', 'a bad last element of 10,000'),

-- complete_batch(ids, lease_tokens)
('complete_batch', $$SELECT * FROM baton.complete_batch(NULL, ARRAY[1]::bigint[])$$,            '22004', '\mids\M.*\mNULL\M', 'NULL ids'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[1]::bigint[], NULL)$$,            '22004', '\mlease_tokens\M.*\mNULL\M', 'NULL lease_tokens'),
('complete_batch', $$SELECT * FROM baton.complete_batch(NULL, NULL)$$,                          '22004', '\mids\M.*\mNULL\M', 'both NULL'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[1, NULL]::bigint[], ARRAY[1, 2]::bigint[])$$, '22004', '\mids\M.*\mNULL\M', 'a NULL element in ids'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[1, 2]::bigint[], ARRAY[NULL, 2]::bigint[])$$, '22004', '\mlease_tokens\M.*\mNULL\M', 'a NULL element in lease_tokens'),
('complete_batch', $$SELECT baton.complete_batch(ARRAY[id, id + 1], ARRAY[lease_token]) FROM held_running$$, '22023', 'same length', 'two ids and one token'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[]::bigint[], ARRAY[1]::bigint[])$$, '22023', 'same length', 'no ids and one token'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[[1, 2], [3, 4]]::bigint[], ARRAY[[1, 2], [3, 4]]::bigint[])$$, '22023', '\mids\M', 'two-dimensional arrays'),

-- complete_and_claim(ids, lease_tokens, queue, worker, n, lease)
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(NULL, ARRAY[]::bigint[], 'tap_batch', 'w')$$,  '22004', '\mids\M.*\mNULL\M', 'NULL ids'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], NULL, 'tap_batch', 'w')$$,  '22004', '\mlease_tokens\M.*\mNULL\M', 'NULL lease_tokens'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[NULL]::bigint[], ARRAY[1]::bigint[], 'tap_batch', 'w')$$, '22004', '\mids\M.*\mNULL\M', 'a NULL element in ids'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[1]::bigint[], ARRAY[]::bigint[], 'tap_batch', 'w')$$, '22023', 'same length', 'mismatched lengths'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], NULL, 'w')$$, '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_nosuch', 'w')$$, '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_batch', NULL)$$, '22004', '\mworker\M.*\mNULL\M', 'a NULL worker'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_batch', '')$$, '22023', '\mworker\M', 'an empty worker'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_batch', 'w', 0)$$, '22023', '\mn\M', 'n = 0'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_batch', 'w', 1001)$$, '22023', '\mn\M', 'n = 1001'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_batch', 'w', 1, '0 seconds')$$, '22023', '\mlease\M', 'a zero lease'),

-- sorted_upsert(target, conflict_columns, rows, update_columns): arguments
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert(NULL, ARRAY['id', 'name'], '[{"id": 1, "name": "a"}]')$$, '22004', '\mtarget\M.*\mNULL\M', 'a NULL target'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', NULL, '[{"id": 1, "name": "a"}]')$$,          '22004', '\mconflict_columns\M.*\mNULL\M', 'NULL conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], NULL)$$,                  '22004', '\mrows\M.*\mNULL\M', 'NULL rows'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', NULL], '[{"id": 1, "name": "a"}]')$$, '22004', '\mconflict_columns\M.*\mNULL\M', 'a NULL element in conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "v"}]', ARRAY[NULL]::text[])$$, '22004', '\mupdate_columns\M.*\mNULL\M', 'a NULL element in update_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY[]::text[], '[{"id": 1, "name": "a"}]')$$, '22023', '\mconflict_columns\M', 'empty conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t_view', ARRAY['id', 'name'], '[{"id": 1, "name": "a"}]')$$, '22023', '\mtarget\M.*table', 'a view as target'),
-- rows: shape
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '{"id": 1, "name": "a"}')$$, '22023', '\mrows\M.*array', 'rows an object instead of an array'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '"row"')$$,              '22023', '\mrows\M.*array', 'rows a string'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[]')$$,                 '22023', '\mrows\M',        'rows an empty array'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a"}, 2]')$$, '22023', 'element 2.*object', 'a row that is not an object'),
-- columns and fields
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['nope'], '[{"id": 1, "name": "a"}]')$$, '22023', '"nope"',         'a conflict column that does not exist'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['ID', 'name'], '[{"id": 1, "name": "a"}]')$$, '22023', '"ID"',     'a misspelled (wrong case) conflict column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'id'], '[{"id": 1, "name": "a"}]')$$, '22023', '"id"',       'a conflict column named twice'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "bogus": 1}]')$$, '22023', '"bogus"', 'a field that is not a column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "xmin": "1"}]')$$, '22023', '"xmin"', 'a field naming a system column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "nmae": "a"}]')$$, '22023', '"nmae"', 'a misspelled field'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "val": "v"}]')$$, '22023', '"name"',  'rows without a conflict column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                      '[{"id": 1, "name": "a", "val": "v"}, {"id": 2, "name": "b"}]')$$,    '22023', 'element 2', 'rows with different field sets (a field missing)'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                      '[{"id": 1, "name": "a"}, {"id": 2, "name": "b", "n": 1}]')$$,       '22023', 'element 2', 'rows with different field sets (a field more)'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": null, "name": "a"}]')$$, '22004', '"id".*null', 'a JSON null in a conflict column'),
-- update_columns
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "v"}]', ARRAY['n'])$$, '22023', '"n"', 'update_columns naming a column that is not a field of rows'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "v"}]', ARRAY['zzz'])$$, '22023', '"zzz"', 'update_columns naming no column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "v"}]', ARRAY['id'])$$, '22023', '"id".*conflict', 'update_columns naming a conflict column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "v"}]', ARRAY['val', 'val'])$$, '22023', '"val"', 'update_columns naming a column twice'),
-- identifiers that look like SQL
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id); DROP TABLE tap_t; --'], '[{"id": 1, "name": "a"}]')$$, '22023', 'DROP TABLE', 'a conflict column that looks like SQL injection'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                      '[{"id": 1, "name": "a", "val\" = null; DROP TABLE tap_t; --": 1}]')$$, '22023', 'DROP TABLE', 'a field that looks like SQL injection'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                      '[{"id": 1, "name": "a", "val": "v"}]', ARRAY['val = null; DROP TABLE tap_t; --'])$$, '22023', 'DROP TABLE', 'an update column that looks like SQL injection'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['"id"', 'name'], '[{"id": 1, "name": "a"}]')$$, '22023', '"id"', 'a conflict column written with its own quotes');

-- Each refusal's SQLSTATE ...
SELECT throws_ok(r.call, r.errcode, NULL,
                 format('%s refuses %s with SQLSTATE %s', r.fn, r.rule, r.errcode))
  FROM (SELECT * FROM refusal ORDER BY n) r;

-- ... and a message that names what is wrong.
SELECT throws_matching(r.call, r.message,
                       format('%s: the error for %s names it (%s)', r.fn, r.rule, r.message))
  FROM (SELECT * FROM refusal ORDER BY n) r;

-- A value that cannot be cast to its column raises the type's own error.
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "n": "notint"}]')$$,
                 '22P02', NULL, 'sorted_upsert: "notint" for an int column raises 22P02 (invalid_text_representation)');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": "one", "name": "a"}]')$$,
                 '22P02', NULL, 'sorted_upsert: "one" for an int conflict column raises 22P02');

-------------------------------------------------------------------------------
-- A refused call writes nothing; SQL-looking identifiers did not run.
-------------------------------------------------------------------------------
SELECT is((SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j),
          (SELECT jobs FROM before_calls), 'refused calls changed no job row');
SELECT is((SELECT count(*) FROM baton._jobs), (SELECT job_count FROM before_calls),
          'refused calls added no job');
SELECT is((SELECT count(*) FROM baton.jobs WHERE unique_key IN ('fresh-1', 'many-1', 'many-9999')), 0::bigint,
          'enqueue_batch: the good elements before a bad one were not inserted');
SELECT is((SELECT payload FROM baton.jobs WHERE unique_key = 'held-ready'), '{"v": 0}'::jsonb,
          'enqueue_batch: a replace before a bad element did not happen');
SELECT is((SELECT state FROM baton.jobs WHERE unique_key = 'held-running'), 'running',
          'complete_batch/complete_and_claim refusals completed nothing');
SELECT has_table('public', 'tap_t', 'tap_t still exists after the SQL-looking identifiers');
SELECT is((SELECT string_agg(t::text, E'\n' ORDER BY t.id, t.name) FROM tap_t t),
          (SELECT rows FROM before_calls), 'refused sorted_upserts changed no row of tap_t');

-------------------------------------------------------------------------------
-- enqueue_batch with good input.
-------------------------------------------------------------------------------
SELECT baton.create_queue('tap_ok');

-- JSON null counts as absent.
CREATE TEMP TABLE r_null (ord int, id bigint, inserted boolean);
SELECT lives_ok($$INSERT INTO r_null SELECT * FROM baton.enqueue_batch('tap_ok',
                    '[{"payload": null, "run_at": null, "priority": null, "unique_key": null, "concurrency_key": null}]')$$,
                'enqueue_batch accepts a job whose every field is JSON null');
SELECT is((SELECT jsonb_build_object('payload', j.payload, 'priority', j.priority, 'unique_key', j.unique_key,
                                     'concurrency_key', j.concurrency_key, 'state', j.state, 'inserted', r.inserted)
             FROM r_null r JOIN baton.jobs j ON j.id = r.id),
          '{"payload": {}, "priority": 0, "unique_key": null, "concurrency_key": null, "state": "ready", "inserted": true}'::jsonb,
          'enqueue_batch: JSON null fields mean the defaults (payload {}, priority 0, no keys)');
SELECT ok((SELECT j.run_at BETWEEN clock_timestamp() - interval '1 minute' AND clock_timestamp()
             FROM r_null r JOIN baton.jobs j ON j.id = r.id),
          'enqueue_batch: a JSON null run_at means now');
SELECT lives_ok($$SELECT * FROM baton.enqueue_batch('tap_ok', '[{}]', NULL)$$,
                'enqueue_batch: a NULL on_conflict means keep');

-- payload is any JSON.
CREATE TEMP TABLE r_payload AS
    SELECT * FROM baton.enqueue_batch('tap_ok',
        '[{"payload": 5}, {"payload": "text"}, {"payload": [1, {"a": null}]}, {"payload": false},
          {"payload": {"a": {"b": [1, 2]}}}, {"payload": 1.5e300}]');
SELECT is(ARRAY(SELECT j.payload FROM r_payload r JOIN baton.jobs j ON j.id = r.id ORDER BY r.ord),
          ARRAY['5', '"text"', '[1, {"a": null}]', 'false', '{"a": {"b": [1, 2]}}', '1.5e300']::jsonb[],
          'enqueue_batch: payload may be any JSON (number, string, array, boolean, object) and is stored as given');

-- The fields are stored; the boundaries are accepted.
CREATE TEMP TABLE r_fields AS
    SELECT * FROM baton.enqueue_batch('tap_ok',
        '[{"run_at": "2030-01-02T03:04:05Z", "priority": -7, "unique_key": "k-fields", "concurrency_key": "c-fields"},
          {"priority": 2147483647}, {"priority": -2147483648}, {"priority": 0}]');
SELECT is((SELECT jsonb_build_object('run_at', j.run_at = '2030-01-02 03:04:05+00', 'priority', j.priority,
                                     'unique_key', j.unique_key, 'concurrency_key', j.concurrency_key)
             FROM r_fields r JOIN baton.jobs j ON j.id = r.id WHERE r.ord = 1),
          '{"run_at": true, "priority": -7, "unique_key": "k-fields", "concurrency_key": "c-fields"}'::jsonb,
          'enqueue_batch: run_at, priority, unique_key and concurrency_key are stored');
SELECT is(ARRAY(SELECT j.priority FROM r_fields r JOIN baton.jobs j ON j.id = r.id WHERE r.ord > 1 ORDER BY r.ord),
          ARRAY[2147483647, -2147483648, 0],
          'enqueue_batch: priority accepts the whole int range');
SELECT lives_ok($$SELECT * FROM baton.enqueue_batch('tap_ok',
                    jsonb_build_array(jsonb_build_object('unique_key', repeat('k', 512), 'concurrency_key', repeat('c', 512)),
                                      jsonb_build_object('unique_key', repeat('é', 256))))$$,
                'enqueue_batch accepts 512-byte keys (ASCII and two-byte characters)');

-- One row per input element, in input order, ord 1-based.
CREATE TEMP TABLE r_order AS
    SELECT * FROM baton.enqueue_batch('tap_ok',
        '[{"unique_key": "o-m", "payload": {"i": 1}}, {"payload": {"i": 2}}, {"unique_key": "o-c", "payload": {"i": 3}},
          {"unique_key": "o-x", "payload": {"i": 4}}, {"payload": {"i": 5}}, {"unique_key": "o-a", "payload": {"i": 6}}]')
    WITH ORDINALITY AS r(ord, id, inserted, pos);
SELECT is(ARRAY(SELECT ord FROM r_order ORDER BY pos), ARRAY[1, 2, 3, 4, 5, 6],
          'enqueue_batch: one row per element, in input order, ord 1-based');
SELECT is((SELECT count(DISTINCT id) FROM r_order), 6::bigint, 'enqueue_batch: six new jobs, six ids');
SELECT ok((SELECT bool_and(inserted) FROM r_order), 'enqueue_batch: all six inserted');
SELECT is(ARRAY(SELECT (j.payload->>'i')::int FROM r_order r JOIN baton.jobs j ON j.id = r.id ORDER BY r.ord),
          ARRAY[1, 2, 3, 4, 5, 6], 'enqueue_batch: each row''s id is the job made from that element');

-- In-batch duplicate keys: the first occurrence counts.
CREATE TEMP TABLE r_dup (ord int, id bigint, inserted boolean);
SELECT lives_ok($$INSERT INTO r_dup SELECT * FROM baton.enqueue_batch('tap_ok',
                    '[{"unique_key": "dup", "payload": {"n": 1}}, {"unique_key": "dup-other", "payload": {"n": 2}},
                      {"unique_key": "dup", "payload": {"n": 3}}, {"unique_key": "dup", "payload": {"n": 4}}]')$$,
                'enqueue_batch (keep) with a key three times raises no error (no "cannot affect row a second time")');
SELECT is(ARRAY(SELECT inserted FROM r_dup ORDER BY ord), ARRAY[true, true, false, false],
          'enqueue_batch (keep): later occurrences of a key report inserted = false');
SELECT is((SELECT count(DISTINCT id) FROM r_dup WHERE ord IN (1, 3, 4)), 1::bigint,
          'enqueue_batch (keep): every occurrence of the key reports the same id');
SELECT is((SELECT payload FROM baton.jobs WHERE queue = 'tap_ok' AND unique_key = 'dup'), '{"n": 1}'::jsonb,
          'enqueue_batch (keep): one job for the key, made from its first occurrence');

CREATE TEMP TABLE r_dup_new (ord int, id bigint, inserted boolean);
SELECT lives_ok($$INSERT INTO r_dup_new SELECT * FROM baton.enqueue_batch('tap_ok',
                    '[{"unique_key": "rdup", "payload": {"n": 1}}, {"unique_key": "rdup", "payload": {"n": 2}}]', 'replace')$$,
                'enqueue_batch (replace) with a new key twice raises no error');
SELECT is(ARRAY(SELECT inserted FROM r_dup_new ORDER BY ord), ARRAY[true, false],
          'enqueue_batch (replace): the second occurrence of a new key reports inserted = false');
SELECT is((SELECT count(DISTINCT id) FROM r_dup_new), 1::bigint, 'enqueue_batch (replace): both report the same id');
SELECT is((SELECT payload FROM baton.jobs WHERE queue = 'tap_ok' AND unique_key = 'rdup'), '{"n": 1}'::jsonb,
          'enqueue_batch (replace): the first occurrence of a new key counts');

SELECT baton.enqueue('tap_ok', '{"n": 0}', priority => 1, unique_key => 'rdup-old', concurrency_key => 'c-old');
CREATE TEMP TABLE r_dup_old (ord int, id bigint, inserted boolean);
SELECT lives_ok($$INSERT INTO r_dup_old SELECT * FROM baton.enqueue_batch('tap_ok',
                    '[{"unique_key": "rdup-old", "payload": {"n": 1}, "priority": 3},
                      {"unique_key": "rdup-old", "payload": {"n": 2}, "priority": 4}]', 'replace')$$,
                'enqueue_batch (replace) with an existing ready key twice raises no error');
SELECT is(ARRAY(SELECT inserted FROM r_dup_old ORDER BY ord), ARRAY[false, false],
          'enqueue_batch (replace): both occurrences of an existing key report inserted = false');
SELECT is(ARRAY(SELECT DISTINCT id FROM r_dup_old),
          ARRAY(SELECT id FROM baton.jobs WHERE queue = 'tap_ok' AND unique_key = 'rdup-old'),
          'enqueue_batch (replace): both report the existing job''s id, and it is the only job with the key');
SELECT is((SELECT jsonb_build_object('payload', payload, 'priority', priority, 'concurrency_key', concurrency_key)
             FROM baton.jobs WHERE queue = 'tap_ok' AND unique_key = 'rdup-old'),
          '{"payload": {"n": 1}, "priority": 3, "concurrency_key": null}'::jsonb,
          'enqueue_batch (replace): the first occurrence replaced payload, priority and concurrency_key');

-- replace overwrites run_at too; keep changes nothing.
SELECT baton.enqueue('tap_ok', '{"n": 0}', now() + interval '1 hour', 1, 'rep-keep', 'c-old');
SELECT is((SELECT row(id, inserted)::text FROM baton.enqueue_batch('tap_ok',
             '[{"unique_key": "rep-keep", "payload": {"n": 9}, "priority": 9}]', 'keep')),
          (SELECT row(id, false)::text FROM baton.jobs WHERE unique_key = 'rep-keep'),
          'enqueue_batch (keep) on an existing key reports that job, inserted = false');
SELECT is((SELECT jsonb_build_object('payload', payload, 'priority', priority, 'concurrency_key', concurrency_key)
             FROM baton.jobs WHERE unique_key = 'rep-keep'),
          '{"payload": {"n": 0}, "priority": 1, "concurrency_key": "c-old"}'::jsonb,
          'enqueue_batch (keep) changed nothing');
SELECT is((SELECT inserted FROM baton.enqueue_batch('tap_ok',
             '[{"unique_key": "rep-keep", "payload": {"n": 9}, "run_at": "2031-01-01T00:00:00Z", "concurrency_key": "c-new"}]',
             'replace')), false, 'enqueue_batch (replace) on a ready job reports inserted = false');
SELECT is((SELECT jsonb_build_object('payload', payload, 'priority', priority, 'concurrency_key', concurrency_key,
                                     'run_at', run_at = '2031-01-01 00:00:00+00')
             FROM baton.jobs WHERE unique_key = 'rep-keep'),
          '{"payload": {"n": 9}, "priority": 0, "concurrency_key": "c-new", "run_at": true}'::jsonb,
          'enqueue_batch (replace) overwrote payload, run_at, priority (absent: 0) and concurrency_key');

-- A running job is kept as it is.
SELECT is((SELECT row(b.id, b.inserted)::text FROM baton.enqueue_batch('tap_batch',
             '[{"unique_key": "held-running", "payload": {"v": 5}, "priority": 5}]', 'replace') b),
          (SELECT row(id, false)::text FROM held_running),
          'enqueue_batch (replace) on a running job reports it, inserted = false');
SELECT is((SELECT jsonb_build_object('payload', payload, 'priority', priority, 'state', state)
             FROM baton.jobs WHERE unique_key = 'held-running'),
          '{"payload": {"v": 0}, "priority": 0, "state": "running"}'::jsonb,
          'enqueue_batch (replace) left the running job as it was');

-- unique_key dedupes among unfinished jobs only.
SELECT is(baton.complete_batch(ARRAY[id], ARRAY[lease_token]), id, 'the running job completes')
  FROM held_running;
SELECT is((SELECT row(b.id <> h.id, b.inserted)::text
             FROM baton.enqueue_batch('tap_batch', '[{"unique_key": "held-running"}]') b, held_running h),
          '(t,t)', 'enqueue_batch: a finished job''s key is free again (new job, inserted = true)');

-- 10,000 jobs in one call, keys in descending order.
CREATE TEMP TABLE r_big (ord int, id bigint, inserted boolean, pos bigint);
SELECT baton.create_queue('tap_big');
SELECT lives_ok($$INSERT INTO r_big SELECT * FROM baton.enqueue_batch('tap_big',
                    (SELECT jsonb_agg(jsonb_build_object('unique_key', 'bulk-' || lpad(g::text, 5, '0'),
                                                         'payload', jsonb_build_object('g', g)) ORDER BY g DESC)
                       FROM generate_series(1, 10000) g)) WITH ORDINALITY$$,
                'enqueue_batch accepts 10,000 jobs in one call');
SELECT is((SELECT jsonb_build_object('rows', count(*), 'ids', count(DISTINCT id), 'inserted', count(*) FILTER (WHERE inserted),
                                     'in_order', bool_and(ord = pos))
             FROM r_big),
          '{"rows": 10000, "ids": 10000, "inserted": 10000, "in_order": true}'::jsonb,
          'enqueue_batch: 10,000 rows back, in input order, 10,000 new jobs');
SELECT is((SELECT count(*) FROM baton.jobs j JOIN r_big r ON r.id = j.id
            WHERE j.queue = 'tap_big' AND (j.payload->>'g')::int = 10001 - r.ord
              AND j.unique_key = 'bulk-' || lpad((10001 - r.ord)::text, 5, '0')),
          10000::bigint, 'enqueue_batch: each of the 10,000 ids is the job made from its element');

-------------------------------------------------------------------------------
-- complete_batch: ids actually completed, each once.
-------------------------------------------------------------------------------
SELECT baton.create_queue('tap_cb');
SELECT baton.enqueue('tap_cb', jsonb_build_object('i', g)) FROM generate_series(1, 7) g;
CREATE TEMP TABLE cb AS
    SELECT row_number() OVER (ORDER BY id) AS k, id, lease_token AS token
      FROM baton.claim('tap_cb', 'tap-cb-worker', 7);
CREATE FUNCTION pg_temp.cb_id(k int) RETURNS bigint LANGUAGE sql AS $$ SELECT id FROM cb WHERE cb.k = $1 $$;
CREATE FUNCTION pg_temp.cb_tok(k int) RETURNS bigint LANGUAGE sql AS $$ SELECT token FROM cb WHERE cb.k = $1 $$;

SELECT is((SELECT count(*) FROM baton.complete_batch(ARRAY[]::bigint[], ARRAY[]::bigint[])), 0::bigint,
          'complete_batch: empty arrays complete nothing');
SELECT is(ARRAY(SELECT * FROM baton.complete_batch(ARRAY[pg_temp.cb_id(1), pg_temp.cb_id(1)],
                                                   ARRAY[pg_temp.cb_tok(1), pg_temp.cb_tok(1)])),
          ARRAY[pg_temp.cb_id(1)], 'complete_batch: an id given twice is completed and returned once');
SELECT is(ARRAY(SELECT * FROM baton.complete_batch(ARRAY[pg_temp.cb_id(2), pg_temp.cb_id(3)],
                                                   ARRAY[pg_temp.cb_tok(2) + 1000000, pg_temp.cb_tok(3)])),
          ARRAY[pg_temp.cb_id(3)], 'complete_batch: a stale token is skipped, the good one completes');
SELECT is((SELECT state FROM baton.jobs WHERE id = pg_temp.cb_id(2)), 'running',
          'complete_batch: the job with the stale token is still running');
SELECT is(ARRAY(SELECT * FROM baton.complete_batch(ARRAY[pg_temp.cb_id(1), -5, pg_temp.cb_id(2), pg_temp.cb_id(4)],
                                                   ARRAY[pg_temp.cb_tok(1), 1, pg_temp.cb_tok(2), pg_temp.cb_tok(5)])),
          ARRAY[pg_temp.cb_id(2)],
          'complete_batch: returns only ids it completed (not an already completed one, a missing one or another job''s token)');
SELECT is(ARRAY(SELECT * FROM baton.complete_batch(ARRAY[pg_temp.cb_id(5), pg_temp.cb_id(5)],
                                                   ARRAY[pg_temp.cb_tok(5) + 1000000, pg_temp.cb_tok(5)])),
          ARRAY[pg_temp.cb_id(5)], 'complete_batch: an id given with a stale and a good token completes once');
SELECT is(ARRAY(SELECT x FROM baton.complete_batch(ARRAY[pg_temp.cb_id(7), pg_temp.cb_id(6)],
                                                  ARRAY[pg_temp.cb_tok(7), pg_temp.cb_tok(6)]) x ORDER BY x),
          ARRAY[pg_temp.cb_id(6), pg_temp.cb_id(7)], 'complete_batch: ids in descending order complete');
SELECT is((SELECT string_agg(state || ':' || (finished_at IS NOT NULL), ',' ORDER BY id) FROM baton.jobs WHERE queue = 'tap_cb'),
          'completed:true,completed:true,completed:true,running:false,completed:true,completed:true,completed:true',
          'complete_batch: exactly the returned jobs are completed (job 4 was only named with job 5''s token)');
-- A lease that has passed no longer owns the job.
SELECT baton.enqueue('tap_cb', '{"i": 8}');
CREATE TEMP TABLE cb_short AS SELECT id, lease_token AS token FROM baton.claim('tap_cb', 'tap-cb-worker', 1, '1 millisecond');
SELECT pg_sleep(0.05);
SELECT is((SELECT count(*) FROM cb_short, baton.complete_batch(ARRAY[id], ARRAY[token])), 0::bigint,
          'complete_batch: a token whose lease has expired completes nothing');

-------------------------------------------------------------------------------
-- complete_and_claim: completes like complete_batch, claims like claim.
-------------------------------------------------------------------------------
SELECT baton.create_queue('tap_cac');
SELECT baton.enqueue('tap_cac', jsonb_build_object('a', g)) FROM generate_series(1, 2) g;
CREATE TEMP TABLE cac_done AS SELECT id, lease_token AS token FROM baton.claim('tap_cac', 'tap-cac-w1', 2);
SELECT baton.enqueue('tap_cac', '{"b": 1}', priority => 1, unique_key => 'b1');
SELECT baton.enqueue('tap_cac', '{"b": 2}', priority => 5, unique_key => 'b2');
SELECT baton.enqueue('tap_cac', '{"b": 3}', priority => 0, unique_key => 'b3');

CREATE TEMP TABLE cac_got AS
    SELECT * FROM baton.complete_and_claim(
        (SELECT array_agg(id ORDER BY id DESC) FROM cac_done), (SELECT array_agg(token ORDER BY id DESC) FROM cac_done),
        'tap_cac', 'tap-cac-w2', 2)
      WITH ORDINALITY AS r(id, queue, payload, attempt, lease_token, lease_expires_at,
                           priority, unique_key, concurrency_key, enqueued_at, pos);
SELECT is((SELECT count(*) FROM baton.jobs j JOIN cac_done d ON d.id = j.id WHERE j.state = 'completed'), 2::bigint,
          'complete_and_claim: completed the two jobs it was given (ids in descending order)');
SELECT is(ARRAY(SELECT unique_key FROM cac_got ORDER BY pos), ARRAY['b2', 'b1'],
          'complete_and_claim: claimed n = 2 jobs in claim order (higher priority first)');
SELECT ok((SELECT bool_and(j.state = 'running' AND j.worker = 'tap-cac-w2' AND j.attempt = 1
                           AND j.lease_token = g.lease_token AND g.attempt = 1
                           AND g.lease_token > (SELECT max(token) FROM cac_done)
                           AND g.lease_expires_at > clock_timestamp() AND g.queue = 'tap_cac')
             FROM cac_got g JOIN baton.jobs j ON j.id = g.id),
          'complete_and_claim: the claimed jobs run under the worker with new tokens and unexpired leases');
SELECT is((SELECT count(*) FROM baton.complete_and_claim(ARRAY[]::bigint[], ARRAY[]::bigint[], 'tap_cac', 'tap-cac-w3')),
          1::bigint, 'complete_and_claim: empty arrays are allowed; n defaults to 1');
SELECT is((SELECT worker FROM baton.jobs WHERE unique_key = 'b3'), 'tap-cac-w3',
          'complete_and_claim with empty arrays claimed the last ready job');
SELECT is((SELECT count(*) FROM baton.complete_and_claim(
              ARRAY[(SELECT id FROM cac_got WHERE unique_key = 'b1')],
              ARRAY[(SELECT lease_token FROM cac_got WHERE unique_key = 'b1') + 1000000], 'tap_cac', 'tap-cac-w2', 5)),
          0::bigint, 'complete_and_claim: nothing left to claim returns no rows');
SELECT is((SELECT state FROM baton.jobs WHERE unique_key = 'b1'), 'running',
          'complete_and_claim: a stale token completes nothing');
SELECT throws_ok($$SELECT * FROM baton.complete_and_claim(
                     ARRAY[(SELECT id FROM cac_got WHERE unique_key = 'b1')],
                     ARRAY[(SELECT lease_token FROM cac_got WHERE unique_key = 'b1')], 'tap_nosuch', 'tap-cac-w2')$$,
                 '42704', NULL, 'complete_and_claim with an unknown queue raises 42704 ...');
SELECT is((SELECT state FROM baton.jobs WHERE unique_key = 'b1'), 'running',
          '... and the completion it was given did not happen either (one transaction)');
SELECT is((SELECT count(*) FROM baton.complete_and_claim(
              ARRAY[(SELECT id FROM cac_got WHERE unique_key = 'b1')],
              ARRAY[(SELECT lease_token FROM cac_got WHERE unique_key = 'b1')], 'tap_cac', 'tap-cac-w2', 5)),
          0::bigint, 'complete_and_claim: completing the last running job claims nothing ...');
SELECT is((SELECT state FROM baton.jobs WHERE unique_key = 'b1'), 'completed', '... but completes it');

-------------------------------------------------------------------------------
-- sorted_upsert with good input.
-------------------------------------------------------------------------------
CREATE TEMP TABLE su (step text, ord int, inserted boolean, pos bigint);

-- A composite key; results in input order.
SELECT lives_ok($$INSERT INTO su SELECT 'composite', * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                    '[{"id": 3, "name": "c", "val": "v3"}, {"id": 1, "name": "a", "val": "v1"},
                      {"id": 2, "name": "b", "val": "v2"}, {"id": 1, "name": "b", "val": "v1b"}]') WITH ORDINALITY$$,
                'sorted_upsert into a table with a composite key');
SELECT is(ARRAY(SELECT ord FROM su WHERE step = 'composite' ORDER BY pos), ARRAY[1, 2, 3, 4],
          'sorted_upsert: one row per element, in input order, ord 1-based');
SELECT is(ARRAY(SELECT inserted FROM su WHERE step = 'composite' ORDER BY pos), ARRAY[true, true, true, true],
          'sorted_upsert: four new keys (1,a) and (1,b) differ in the second column');
SELECT is((SELECT string_agg(format('%s%s=%s', id, name, val), ' ' ORDER BY id, name) FROM tap_t WHERE id < 100),
          '1a=v1 1b=v1b 2b=v2 3c=v3', 'sorted_upsert wrote the four rows');

SELECT lives_ok($$INSERT INTO su SELECT 'mixed', * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                    '[{"id": 4, "name": "d", "val": "w4"}, {"id": 1, "name": "a", "val": "w1"},
                      {"id": 5, "name": "e", "val": "w5"}, {"id": 3, "name": "c", "val": "w3"}]') WITH ORDINALITY$$,
                'sorted_upsert with new and existing keys mixed');
SELECT is(ARRAY(SELECT format('%s:%s', ord, inserted) FROM su WHERE step = 'mixed' ORDER BY pos),
          ARRAY['1:t', '2:f', '3:t', '4:f'],
          'sorted_upsert: inserted = true for new keys, false for updated ones, in input order');
SELECT is((SELECT string_agg(format('%s%s=%s', id, name, val), ' ' ORDER BY id, name) FROM tap_t WHERE id < 100),
          '1a=w1 1b=v1b 2b=v2 3c=w3 4d=w4 5e=w5', 'sorted_upsert updated the existing rows and inserted the new');

-- In-batch duplicate keys: the first occurrence counts.
SELECT lives_ok($$INSERT INTO su SELECT 'dup', * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                    '[{"id": 6, "name": "f", "val": "first"}, {"id": 1, "name": "a", "val": "x1"},
                      {"id": 6, "name": "f", "val": "second"}, {"id": 1, "name": "a", "val": "x2"}]') WITH ORDINALITY$$,
                'sorted_upsert with duplicate keys raises no error (no "cannot affect row a second time")');
SELECT is(ARRAY(SELECT format('%s:%s', ord, inserted) FROM su WHERE step = 'dup' ORDER BY pos),
          ARRAY['1:t', '2:f', '3:f', '4:f'],
          'sorted_upsert: later occurrences of a key report inserted = false');
SELECT is((SELECT string_agg(format('%s%s=%s', id, name, val), ' ' ORDER BY id, name) FROM tap_t WHERE (id, name) IN ((1, 'a'), (6, 'f'))),
          '1a=x1 6f=first', 'sorted_upsert: the first occurrence of each key is the one written');

-- update_columns: '{}' is DO NOTHING; NULL updates every non-conflict field; a list updates those.
SELECT is(ARRAY(SELECT format('%s:%s', ord, inserted) FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                  '[{"id": 1, "name": "a", "val": "nothing"}, {"id": 7, "name": "g", "val": "new"}]', '{}')),
          ARRAY['1:f', '2:t'], 'sorted_upsert with update_columns {}: the existing key reports false, the new one true');
SELECT is((SELECT string_agg(format('%s%s=%s', id, name, val), ' ' ORDER BY id, name) FROM tap_t WHERE (id, name) IN ((1, 'a'), (7, 'g'))),
          '1a=x1 7g=new', 'sorted_upsert with update_columns {}: DO NOTHING (the existing row is unchanged)');
SELECT lives_ok($$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "all", "n": 5}]', NULL)$$,
                'sorted_upsert with update_columns NULL');
SELECT is((SELECT format('%s/%s', val, n) FROM tap_t WHERE (id, name) = (1, 'a')), 'all/5',
          'sorted_upsert with update_columns NULL updates every non-conflict column present');
SELECT lives_ok($$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "only"}]')$$,
                'sorted_upsert with rows that lack a column');
SELECT is((SELECT format('%s/%s', val, n) FROM tap_t WHERE (id, name) = (1, 'a')), 'only/5',
          'sorted_upsert: a column absent from rows is left as it is');
SELECT lives_ok($$SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'],
                    '[{"id": 1, "name": "a", "val": "ignored", "n": "8"}]', ARRAY['n'])$$,
                'sorted_upsert with update_columns {n}');
SELECT is((SELECT format('%s/%s', val, n) FROM tap_t WHERE (id, name) = (1, 'a')), 'only/8',
          'sorted_upsert with update_columns {n} updates n only (and casts "8" to int)');

-- Identifiers that need quoting; a table whose name looks like SQL.
CREATE TABLE "tap Weird; DROP TABLE tap_t; --" ("Weird Col" text PRIMARY KEY, "x""y" int, "select" text);
SELECT is(ARRAY(SELECT inserted FROM baton.sorted_upsert('"tap Weird; DROP TABLE tap_t; --"', ARRAY['Weird Col'],
                  '[{"Weird Col": "a", "x\"y": 1, "select": "s"}, {"Weird Col": "b", "x\"y": 2, "select": "t"}]')),
          ARRAY[true, true], 'sorted_upsert into columns named "Weird Col", "x""y" and "select" (insert)');
SELECT is(ARRAY(SELECT inserted FROM baton.sorted_upsert('"tap Weird; DROP TABLE tap_t; --"', ARRAY['Weird Col'],
                  '[{"Weird Col": "a", "x\"y": 3, "select": "u"}]')),
          ARRAY[false], 'sorted_upsert into columns that need quoting (update)');
SELECT is((SELECT string_agg(format('%s/%s/%s', "Weird Col", "x""y", "select"), ' ' ORDER BY "Weird Col")
             FROM "tap Weird; DROP TABLE tap_t; --"),
          'a/3/u b/2/t', 'sorted_upsert wrote the quoted columns');
SELECT has_table('public', 'tap_t', 'tap_t still exists after an upsert into a table whose name looks like SQL');

-------------------------------------------------------------------------------
-- sorted_upsert runs with the caller's rights: privileges and row-level
-- security apply. The roles exist only inside this transaction.
-------------------------------------------------------------------------------
CREATE ROLE baton_tap_bic_reader;
CREATE ROLE baton_tap_bic_rls;
GRANT USAGE ON SCHEMA baton TO baton_tap_bic_reader, baton_tap_bic_rls;
GRANT EXECUTE ON FUNCTION baton.sorted_upsert(regclass, text[], jsonb, text[]) TO baton_tap_bic_reader, baton_tap_bic_rls;
GRANT SELECT ON tap_t TO baton_tap_bic_reader;
CREATE TEMP TABLE before_priv AS SELECT count(*) AS n, string_agg(t::text, ',' ORDER BY id, name) AS rows FROM tap_t t;

SELECT throws_ok($$SET LOCAL ROLE baton_tap_bic_reader;
                   SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 50, "name": "p", "val": "x"}]')$$,
                 '42501', NULL, 'sorted_upsert by a role without INSERT on the table raises 42501');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_bic_reader;
                   SELECT * FROM baton.sorted_upsert('tap_t', ARRAY['id', 'name'], '[{"id": 1, "name": "a", "val": "x"}]')$$,
                 '42501', NULL, 'sorted_upsert by a role without INSERT/UPDATE, on an existing key, raises 42501');
SELECT is(current_user::text, session_user::text, 'the role switch ended with the failed call');
SELECT is((SELECT string_agg(t::text, ',' ORDER BY id, name) FROM tap_t t), (SELECT rows FROM before_priv),
          'the refused role wrote nothing');

CREATE TABLE tap_rls (id int PRIMARY KEY, owner text NOT NULL, val text);
INSERT INTO tap_rls VALUES (1, 'other', 'hidden');
ALTER TABLE tap_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY tap_rls_mine ON tap_rls FOR ALL TO baton_tap_bic_rls
    USING (owner = 'me') WITH CHECK (owner = 'me');
GRANT SELECT, INSERT, UPDATE ON tap_rls TO baton_tap_bic_rls;

SELECT throws_ok($$SET LOCAL ROLE baton_tap_bic_rls;
                   SELECT * FROM baton.sorted_upsert('tap_rls', ARRAY['id'], '[{"id": 2, "owner": "other", "val": "x"}]')$$,
                 '42501', NULL, 'sorted_upsert: a new row the policy forbids raises 42501 (WITH CHECK)');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_bic_rls;
                   SELECT * FROM baton.sorted_upsert('tap_rls', ARRAY['id'], '[{"id": 1, "owner": "me", "val": "taken"}]')$$,
                 '42501', NULL, 'sorted_upsert: updating a row the policy hides raises 42501 (USING)');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_bic_rls;
                   SELECT * FROM baton.sorted_upsert('tap_rls', ARRAY['id'],
                     '[{"id": 3, "owner": "me", "val": "mine"}, {"id": 4, "owner": "other", "val": "x"}]')$$,
                 '42501', NULL, 'sorted_upsert: one forbidden row among allowed ones raises 42501');
SELECT lives_ok($$SET LOCAL ROLE baton_tap_bic_rls;
                  SELECT * FROM baton.sorted_upsert('tap_rls', ARRAY['id'], '[{"id": 5, "owner": "me", "val": "mine"}]');
                  RESET ROLE$$,
                'sorted_upsert: a row the policy allows is written');
SELECT is(current_user::text, session_user::text, 'the role switch ended');
SELECT is((SELECT string_agg(format('%s/%s/%s', id, owner, val), ' ' ORDER BY id) FROM tap_rls),
          '1/other/hidden 5/me/mine', 'row-level security: only the allowed row was written, the hidden one is unchanged');

-------------------------------------------------------------------------------
-- Target columns named like baton's own internal aliases ("ord",
-- "baton_ord", "baton_inserted") work; a partitioned table is refused (it
-- cannot report inserted rows through RETURNING xmax).
-------------------------------------------------------------------------------
CREATE TABLE tap_lines (ord int PRIMARY KEY, val text, baton_ord int, baton_inserted int);
CREATE TABLE tap_parted (id int PRIMARY KEY, val text) PARTITION BY RANGE (id);
CREATE TABLE tap_parted_1 PARTITION OF tap_parted FOR VALUES FROM (0) TO (1000);
SELECT results_eq(
    $$SELECT ord, inserted FROM baton.sorted_upsert('tap_lines', ARRAY['ord'],
        '[{"ord": 1, "val": "x", "baton_ord": 7, "baton_inserted": 8},
          {"ord": 1, "val": "y", "baton_ord": 7, "baton_inserted": 8}]')$$,
    $$VALUES (1, true), (2, false)$$,
    'sorted_upsert into a table with columns named ord, baton_ord and baton_inserted');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_parted', ARRAY['id'], '[{"id": 1, "val": "x"}]')$$,
                 '0A000', NULL, 'sorted_upsert refuses a partitioned table with 0A000');

SELECT * FROM finish();
ROLLBACK;
