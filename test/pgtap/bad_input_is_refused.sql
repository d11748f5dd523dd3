-- Bad input is refused: every argument rule of the contract (docs/contract.md "General
-- rules") raises an ERROR with its SQLSTATE (22004 forbidden NULL, 22023 bad
-- value, 42704 unknown queue), the message names the argument, nothing
-- changes and the backend survives. A NULL for an argument that has a
-- default means that default.
BEGIN;
SELECT plan(503);

-------------------------------------------------------------------------------
-- Fixture: one queue with a running job (so that the checks on renew, fail and
-- complete are made against a job the token really owns) and a ready job.
-------------------------------------------------------------------------------
SELECT baton.create_queue('tap_bad', '30 seconds', 3, '1 second');
SELECT baton.enqueue('tap_bad', '{"n": 1}');
SELECT baton.enqueue('tap_bad', '{"n": 2}');
CREATE TEMP TABLE owned AS
    SELECT id, lease_token FROM baton.claim('tap_bad', 'tap-bad-worker');
-- A table of the caller's own for sorted_upsert, and a view on it.
CREATE TABLE public.tap_bad_upsert (k int PRIMARY KEY, v int, w text);
CREATE VIEW public.tap_bad_upsert_view AS SELECT * FROM public.tap_bad_upsert;
-- A semaphore with a holder, for extend and release.
SELECT baton.set_limit('tap-bad-sem', 2);
CREATE TEMP TABLE held AS SELECT baton.acquire('tap-bad-sem', 'tap-bad-owner', '1 minute') AS token;

-- Everything a refused call could have touched, and the backend's pid.
CREATE TEMP TABLE before_calls AS
SELECT pg_backend_pid() AS pid,
       (SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j) AS jobs,
       (SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q) AS queues,
       (SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l) AS limits,
       (SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h) AS holders,
       (SELECT count(*) FROM public.tap_bad_upsert) AS upserted,
       (SELECT count(*) FROM baton.jobs) AS job_count,
       (SELECT count(*) FROM baton._queues) AS queue_count;

-------------------------------------------------------------------------------
-- The refusals, one row per argument rule: the call, its SQLSTATE, and a
-- regular expression the message must match (it names the argument).
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
-- create_queue(queue, lease, max_attempts, retry_base)
('create_queue', $$SELECT baton.create_queue(NULL)$$,                         '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('create_queue', $$SELECT baton.create_queue('')$$,                           '22023', '\mqueue\M',           'an empty queue name'),
('create_queue', $$SELECT baton.create_queue(repeat('a', 64))$$,              '22023', '\mqueue\M',           'a 64-character queue name'),
('create_queue', $$SELECT baton.create_queue('bad name!')$$,                  '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('create_queue', $$SELECT baton.create_queue('a;drop')$$,                     '22023', '\mqueue\M',           'a queue name with ";"'),
('create_queue', $$SELECT baton.create_queue(E'tap_bad\n')$$,                 '22023', '\mqueue\M',           'a queue name with a trailing newline'),
('create_queue', $$SELECT baton.create_queue('tap_é')$$,                      '22023', '\mqueue\M',           'a queue name with a non-ASCII letter'),
('create_queue', $$SELECT baton.create_queue('tap_q', '0 seconds')$$,         '22023', '\mlease\M.*(zero|positive)', 'a zero lease'),
('create_queue', $$SELECT baton.create_queue('tap_q', '-1 second')$$,         '22023', '\mlease\M.*(zero|positive)', 'a negative lease'),
('create_queue', $$SELECT baton.create_queue('tap_q', '1 month -30 days')$$,  '22023', '\mlease\M.*(zero|positive)', 'a lease that compares equal to zero'),
('create_queue', $$SELECT baton.create_queue('tap_q', '1 second', 0)$$,       '22023', '\mmax_attempts\M',    'max_attempts 0'),
('create_queue', $$SELECT baton.create_queue('tap_q', '1 second', -1)$$,      '22023', '\mmax_attempts\M',    'a negative max_attempts'),
('create_queue', $$SELECT baton.create_queue('tap_q', NULL, NULL, '0 seconds')$$,  '22023', '\mretry_base\M.*(zero|positive)', 'a zero retry_base'),
('create_queue', $$SELECT baton.create_queue('tap_q', NULL, NULL, '-5 seconds')$$, '22023', '\mretry_base\M.*(zero|positive)', 'a negative retry_base'),
-- drop_queue(queue, force)
('drop_queue', $$SELECT baton.drop_queue(NULL)$$,                             '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('drop_queue', $$SELECT baton.drop_queue('')$$,                               '22023', '\mqueue\M',           'an empty queue name'),
('drop_queue', $$SELECT baton.drop_queue(repeat('a', 64))$$,                  '22023', '\mqueue\M',           'a 64-character queue name'),
('drop_queue', $$SELECT baton.drop_queue('bad name!')$$,                      '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('drop_queue', $$SELECT baton.drop_queue('a;drop')$$,                         '22023', '\mqueue\M',           'a queue name with ";"'),
('drop_queue', $$SELECT baton.drop_queue('tap_nosuch')$$,                     '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('drop_queue', $$SELECT baton.drop_queue('tap_nosuch', true)$$,               '42704', '"tap_nosuch".*does not exist', 'an unknown queue even with force'),
('drop_queue', $$SELECT baton.drop_queue('tap_bad', NULL)$$,                  '55006', '"tap_bad"',           'a queue holding ready or running jobs (force NULL means false)'),
-- purge(queue, older_than)
('purge', $$SELECT baton.purge(NULL, '1 day')$$,                              '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('purge', $$SELECT baton.purge('tap_bad', NULL)$$,                            '22004', '\molder_than\M.*\mNULL\M', 'a NULL older_than (it has no default)'),
('purge', $$SELECT baton.purge('', '1 day')$$,                                '22023', '\mqueue\M',           'an empty queue name'),
('purge', $$SELECT baton.purge(repeat('a', 64), '1 day')$$,                   '22023', '\mqueue\M',           'a 64-character queue name'),
('purge', $$SELECT baton.purge('bad name!', '1 day')$$,                       '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('purge', $$SELECT baton.purge('a;drop', '1 day')$$,                          '22023', '\mqueue\M',           'a queue name with ";"'),
('purge', $$SELECT baton.purge('tap_nosuch', '1 day')$$,                      '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('purge', $$SELECT baton.purge('tap_bad', '-1 second')$$,                     '22023', '\molder_than\M.*negative', 'a negative older_than'),
-- enqueue(queue, payload, run_at, priority, unique_key, concurrency_key, on_conflict)
('enqueue', $$SELECT baton.enqueue(NULL)$$,                                   '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('enqueue', $$SELECT baton.enqueue('')$$,                                     '22023', '\mqueue\M',           'an empty queue name'),
('enqueue', $$SELECT baton.enqueue(repeat('a', 64))$$,                        '22023', '\mqueue\M',           'a 64-character queue name'),
('enqueue', $$SELECT baton.enqueue('bad name!')$$,                            '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('enqueue', $$SELECT baton.enqueue('a;drop')$$,                               '22023', '\mqueue\M',           'a queue name with ";"'),
('enqueue', $$SELECT baton.enqueue('tap_nosuch')$$,                           '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('enqueue', $$SELECT baton.enqueue('tap_nosuch', unique_key => 'k')$$,        '42704', '"tap_nosuch".*does not exist', 'an unknown queue (with a unique_key)'),
('enqueue', $$SELECT baton.enqueue('tap_bad', unique_key => '')$$,            '22023', '\munique_key\M',      'an empty unique_key'),
('enqueue', $$SELECT baton.enqueue('tap_bad', unique_key => repeat('k', 513))$$, '22023', '\munique_key\M',   'a 513-byte unique_key'),
('enqueue', $$SELECT baton.enqueue('tap_bad', unique_key => repeat('é', 257))$$, '22023', '\munique_key\M',   'a unique_key of 257 characters but 514 bytes'),
('enqueue', $$SELECT baton.enqueue('tap_bad', concurrency_key => '')$$,       '22023', '\mconcurrency_key\M', 'an empty concurrency_key'),
('enqueue', $$SELECT baton.enqueue('tap_bad', concurrency_key => repeat('k', 513))$$, '22023', '\mconcurrency_key\M', 'a 513-byte concurrency_key'),
('enqueue', $$SELECT baton.enqueue('tap_bad', on_conflict => 'bogus')$$,      '22023', '\mon_conflict\M',     'an unknown on_conflict'),
('enqueue', $$SELECT baton.enqueue('tap_bad', on_conflict => '')$$,           '22023', '\mon_conflict\M',     'an empty on_conflict'),
('enqueue', $$SELECT baton.enqueue('tap_bad', run_at => 'infinity')$$,        '22023', '\mrun_at\M',          'an infinite run_at'),
('enqueue', $$SELECT baton.enqueue('tap_bad', run_at => '-infinity')$$,       '22023', '\mrun_at\M',          'a minus-infinite run_at'),
-- claim(queue, worker, n, lease)
('claim', $$SELECT * FROM baton.claim(NULL, 'w')$$,                           '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('claim', $$SELECT * FROM baton.claim('tap_bad', NULL)$$,                     '22004', '\mworker\M.*\mNULL\M', 'a NULL worker'),
('claim', $$SELECT * FROM baton.claim('', 'w')$$,                             '22023', '\mqueue\M',           'an empty queue name'),
('claim', $$SELECT * FROM baton.claim(repeat('a', 64), 'w')$$,                '22023', '\mqueue\M',           'a 64-character queue name'),
('claim', $$SELECT * FROM baton.claim('bad name!', 'w')$$,                    '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('claim', $$SELECT * FROM baton.claim('a;drop', 'w')$$,                       '22023', '\mqueue\M',           'a queue name with ";"'),
('claim', $$SELECT * FROM baton.claim(E'tap_bad\n', 'w')$$,                   '22023', '\mqueue\M',           'a queue name with a trailing newline'),
('claim', $$SELECT * FROM baton.claim('tap_nosuch', 'w')$$,                   '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('claim', $$SELECT * FROM baton.claim('tap_bad', '')$$,                       '22023', '\mworker\M',          'an empty worker name'),
('claim', $$SELECT * FROM baton.claim('tap_bad', repeat('w', 513))$$,         '22023', '\mworker\M',          'a 513-byte worker name'),
('claim', $$SELECT * FROM baton.claim('tap_bad', repeat('é', 257))$$,         '22023', '\mworker\M',          'a worker name of 257 characters but 514 bytes'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', 0)$$,                   '22023', '\mn\M.*1000',         'n = 0'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', 1001)$$,                '22023', '\mn\M.*1000',         'n = 1001'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', -1)$$,                  '22023', '\mn\M.*1000',         'a negative n'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', 1, '0 seconds')$$,      '22023', '\mlease\M.*(zero|positive)', 'a zero lease'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', 1, '-1 second')$$,      '22023', '\mlease\M.*(zero|positive)', 'a negative lease'),
('claim', $$SELECT * FROM baton.claim('tap_bad', 'w', 1, '1 month -30 days')$$, '22023', '\mlease\M.*(zero|positive)', 'a lease that compares equal to zero'),
-- heartbeat(worker, lease)
('heartbeat', $$SELECT * FROM baton.heartbeat(NULL)$$,                        '22004', '\mworker\M.*\mNULL\M', 'a NULL worker'),
('heartbeat', $$SELECT * FROM baton.heartbeat('')$$,                          '22023', '\mworker\M',          'an empty worker name'),
('heartbeat', $$SELECT * FROM baton.heartbeat(repeat('w', 513))$$,            '22023', '\mworker\M',          'a 513-byte worker name'),
('heartbeat', $$SELECT * FROM baton.heartbeat('tap-bad-worker', '0 seconds')$$, '22023', '\mlease\M.*(zero|positive)', 'a zero lease'),
('heartbeat', $$SELECT * FROM baton.heartbeat('tap-bad-worker', '-1 second')$$, '22023', '\mlease\M.*(zero|positive)', 'a negative lease'),
-- renew(id, lease_token, lease)
('renew', $$SELECT baton.renew(NULL, 1)$$,                                    '22004', '\mid\M.*\mNULL\M',    'a NULL id'),
('renew', $$SELECT baton.renew(1, NULL)$$,                                    '22004', '\mlease_token\M.*\mNULL\M', 'a NULL lease_token'),
('renew', $$SELECT baton.renew(id, lease_token, '0 seconds') FROM owned$$,    '22023', '\mlease\M.*(zero|positive)', 'a zero lease (on a job the token owns)'),
('renew', $$SELECT baton.renew(id, lease_token, '-1 second') FROM owned$$,    '22023', '\mlease\M.*(zero|positive)', 'a negative lease (on a job the token owns)'),
-- complete(id, lease_token, result)
('complete', $$SELECT baton.complete(NULL, 1)$$,                              '22004', '\mid\M.*\mNULL\M',    'a NULL id'),
('complete', $$SELECT baton.complete(1, NULL)$$,                              '22004', '\mlease_token\M.*\mNULL\M', 'a NULL lease_token'),
('complete', $$SELECT baton.complete(NULL, lease_token) FROM owned$$,         '22004', '\mid\M.*\mNULL\M',    'a NULL id next to a live token'),
('complete', $$SELECT baton.complete(id, NULL) FROM owned$$,                  '22004', '\mlease_token\M.*\mNULL\M', 'a NULL lease_token for a running job'),
-- fail(id, lease_token, error, retry_in)
('fail', $$SELECT baton.fail(NULL, 1)$$,                                      '22004', '\mid\M.*\mNULL\M',    'a NULL id'),
('fail', $$SELECT baton.fail(1, NULL)$$,                                      '22004', '\mlease_token\M.*\mNULL\M', 'a NULL lease_token'),
('fail', $$SELECT baton.fail(id, NULL) FROM owned$$,                          '22004', '\mlease_token\M.*\mNULL\M', 'a NULL lease_token for a running job'),
('fail', $$SELECT baton.fail(id, lease_token, 'e', '-1 second') FROM owned$$, '22023', '\mretry_in\M.*negative', 'a negative retry_in (on a job the token owns)'),
-- cancel(id), retry(id)
('cancel', $$SELECT baton.cancel(NULL)$$,                                     '22004', '\mid\M.*\mNULL\M',    'a NULL id'),
('job', $$SELECT * FROM baton.job(NULL)$$,                                     '22004', '\mjob_id\M.*\mNULL\M', 'a NULL job_id'),
('pause', $$SELECT baton.pause(NULL)$$,                                       '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('pause', $$SELECT baton.pause('bad name!')$$,                                '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('pause', $$SELECT baton.pause('tap_nosuch')$$,                               '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('resume', $$SELECT baton.resume(NULL)$$,                                     '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('resume', $$SELECT baton.resume('bad name!')$$,                              '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('resume', $$SELECT baton.resume('tap_nosuch')$$,                             '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('cancel_all', $$SELECT baton.cancel_all(NULL)$$,                             '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('cancel_all', $$SELECT baton.cancel_all('bad name!')$$,                      '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('cancel_all', $$SELECT baton.cancel_all('tap_nosuch', true)$$,               '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('retry_all', $$SELECT baton.retry_all(NULL)$$,                               '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('retry_all', $$SELECT baton.retry_all('bad name!')$$,                        '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('retry_all', $$SELECT baton.retry_all('tap_nosuch')$$,                       '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('grant_queue', $$SELECT baton.grant_queue(NULL, 'postgres')$$,               '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('grant_queue', $$SELECT baton.grant_queue('bad name!', 'postgres')$$,        '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('grant_queue', $$SELECT baton.grant_queue('tap_nosuch', 'postgres')$$,       '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('grant_queue', $$SELECT baton.grant_queue('tap_bad', NULL)$$,                '22004', '\mrole\M.*\mNULL\M',  'a NULL role'),
('revoke_queue', $$SELECT baton.revoke_queue(NULL, 'postgres')$$,             '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('revoke_queue', $$SELECT baton.revoke_queue('bad name!', 'postgres')$$,      '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('revoke_queue', $$SELECT baton.revoke_queue('tap_nosuch', 'postgres')$$,     '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('unrestrict_queue', $$SELECT baton.unrestrict_queue(NULL)$$,                 '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('unrestrict_queue', $$SELECT baton.unrestrict_queue('bad name!')$$,          '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('unrestrict_queue', $$SELECT baton.unrestrict_queue('tap_nosuch')$$,         '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('set_retention', $$SELECT baton.set_retention(NULL, '1 day')$$,              '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('set_retention', $$SELECT baton.set_retention('bad name!', '1 day')$$,       '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('set_retention', $$SELECT baton.set_retention('tap_nosuch', '1 day')$$,      '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('set_retention', $$SELECT baton.set_retention('tap_bad', '-1 second')$$,     '22023', '\mkeep\M.*negative', 'a negative keep'),
('listen', $$SELECT baton.listen(NULL)$$,                                     '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('listen', $$SELECT baton.listen('bad name!')$$,                              '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('listen', $$SELECT baton.listen('tap_nosuch')$$,                             '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('unlisten', $$SELECT baton.unlisten(NULL)$$,                                 '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('unlisten', $$SELECT baton.unlisten('bad name!')$$,                          '22023', '\mqueue\M',           'a queue name with a space and "!"'),
('retry', $$SELECT baton.retry(NULL)$$,                                       '22004', '\mid\M.*\mNULL\M',    'a NULL id'),
-- enqueue_batch(queue, jobs, on_conflict)
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch(NULL, '[{}]')$$,        '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', NULL)$$,     '22004', '\mjobs\M.*\mNULL\M',  'a NULL jobs (it has no default)'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('', '[{}]')$$,          '22023', '\mqueue\M',           'an empty queue name'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch(repeat('a', 64), '[{}]')$$, '22023', '\mqueue\M',       'a 64-character queue name'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('a;drop', '[{}]')$$,    '22023', '\mqueue\M',           'a queue name with ";"'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_nosuch', '[{}]')$$, '42704', '"tap_nosuch".*does not exist', 'an unknown queue'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '{}')$$,     '22023', '\mjobs\M.*array',      'jobs that is an object, not an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '"x"')$$,    '22023', '\mjobs\M.*array',      'jobs that is a scalar'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[]')$$,     '22023', '\mjobs\M',            'an empty jobs array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 10001)))$$,
                                                                              '22023', '\mjobs\M.*10000',      'a jobs array of 10,001 elements'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[1]')$$,    '22023', '\mjobs\M.*object',     'a jobs element that is a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{}, []]')$$, '22023', '\mjobs\M.*object',   'a jobs element that is an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[null]')$$, '22023', '\mjobs\M.*object',     'a jobs element that is null'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"bogus": 1}]')$$, '22023', '\mjobs\M.*\mbogus\M', 'an unknown job field'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"Payload": {}}]')$$, '22023', '\mjobs\M.*\mPayload\M', 'a job field in the wrong case'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"priority": "1"}]')$$, '22023', '\mpriority\M', 'a priority that is a string'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"priority": 1.5}]')$$, '22023', '\mpriority\M', 'a priority that is not an integer'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"priority": 2147483648}]')$$, '22023', '\mpriority\M', 'a priority beyond int'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"priority": true}]')$$, '22023', '\mpriority\M', 'a priority that is a boolean'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"run_at": 1}]')$$, '22023', '\mrun_at\M',    'a run_at that is a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"run_at": "not a time"}]')$$, '22023', '\mrun_at\M', 'a run_at that is not a timestamp'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"run_at": "infinity"}]')$$, '22023', '\mrun_at\M', 'an infinite run_at'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"unique_key": ""}]')$$, '22023', '\munique_key\M', 'an empty unique_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', jsonb_build_array(jsonb_build_object('unique_key', repeat('k', 513))))$$,
                                                                              '22023', '\munique_key\M',      'a 513-byte unique_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"unique_key": 7}]')$$, '22023', '\munique_key\M', 'a unique_key that is a number'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"concurrency_key": ""}]')$$, '22023', '\mconcurrency_key\M', 'an empty concurrency_key'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', jsonb_build_array(jsonb_build_object('concurrency_key', repeat('é', 257))))$$,
                                                                              '22023', '\mconcurrency_key\M', 'a concurrency_key of 514 bytes'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{"concurrency_key": ["a"]}]')$$, '22023', '\mconcurrency_key\M', 'a concurrency_key that is an array'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{}, {"priority": "x"}]')$$, '22023', '\mjobs element 2\M', 'a bad second element (the message names its position)'),
('enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_bad', '[{}]', 'bogus')$$, '22023', '\mon_conflict\M', 'an unknown on_conflict'),
-- complete_batch(ids, lease_tokens)
('complete_batch', $$SELECT * FROM baton.complete_batch(NULL, ARRAY[1::bigint])$$, '22004', '\mids\M.*\mNULL\M', 'a NULL ids'),
('complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[1::bigint], NULL)$$, '22004', '\mlease_tokens\M.*\mNULL\M', 'a NULL lease_tokens'),
('complete_batch', $$SELECT baton.complete_batch(ARRAY[id, NULL], ARRAY[lease_token, 1]) FROM owned$$, '22004', '\mids\M.*\mNULL\M', 'a NULL element in ids'),
('complete_batch', $$SELECT baton.complete_batch(ARRAY[id, 1], ARRAY[lease_token, NULL]) FROM owned$$, '22004', '\mlease_tokens\M.*\mNULL\M', 'a NULL element in lease_tokens'),
('complete_batch', $$SELECT baton.complete_batch(ARRAY[id, 1], ARRAY[lease_token]) FROM owned$$, '22023', '\mids\M.*\mlease_tokens\M', 'ids and lease_tokens of different lengths'),
('complete_batch', $$SELECT baton.complete_batch(ARRAY[[id]], ARRAY[[lease_token]]) FROM owned$$, '22023', '\mids\M', 'two-dimensional arrays'),
-- complete_and_claim(ids, lease_tokens, queue, worker, n, lease)
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(NULL, ARRAY[1::bigint], 'tap_bad', 'w')$$, '22004', '\mids\M.*\mNULL\M', 'a NULL ids'),
('complete_and_claim', $$SELECT * FROM baton.complete_and_claim(ARRAY[1::bigint], NULL, 'tap_bad', 'w')$$, '22004', '\mlease_tokens\M.*\mNULL\M', 'a NULL lease_tokens'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id, NULL], ARRAY[lease_token, 1], 'tap_bad', 'w') FROM owned$$, '22004', '\mids\M.*\mNULL\M', 'a NULL element in ids'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token, 2], 'tap_bad', 'w') FROM owned$$, '22023', '\mids\M.*\mlease_tokens\M', 'ids and lease_tokens of different lengths'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], NULL, 'w') FROM owned$$, '22004', '\mqueue\M.*\mNULL\M', 'a NULL queue'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'bad name!', 'w') FROM owned$$, '22023', '\mqueue\M', 'a queue name with a space and "!"'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], repeat('a', 64), 'w') FROM owned$$, '22023', '\mqueue\M', 'a 64-character queue name'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_nosuch', 'w') FROM owned$$, '42704', '"tap_nosuch".*does not exist', 'an unknown queue (the completion is undone too)'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', NULL) FROM owned$$, '22004', '\mworker\M.*\mNULL\M', 'a NULL worker'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', '') FROM owned$$, '22023', '\mworker\M', 'an empty worker name'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', repeat('w', 513)) FROM owned$$, '22023', '\mworker\M', 'a 513-byte worker name'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', 'w', 0) FROM owned$$, '22023', '\mn\M.*1000', 'n = 0'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', 'w', 1001) FROM owned$$, '22023', '\mn\M.*1000', 'n = 1001'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', 'w', 1, '0 seconds') FROM owned$$, '22023', '\mlease\M.*(zero|positive)', 'a zero lease'),
('complete_and_claim', $$SELECT baton.complete_and_claim(ARRAY[id], ARRAY[lease_token], 'tap_bad', 'w', 1, '-1 second') FROM owned$$, '22023', '\mlease\M.*(zero|positive)', 'a negative lease'),
-- sorted_upsert(target, conflict_columns, rows, update_columns)
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert(NULL, ARRAY['k'], '[{"k": 1}]')$$, '22004', '\mtarget\M.*\mNULL\M', 'a NULL target'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', NULL, '[{"k": 1}]')$$, '22004', '\mconflict_columns\M.*\mNULL\M', 'a NULL conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], NULL)$$, '22004', '\mrows\M.*\mNULL\M', 'a NULL rows'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY[]::text[], '[{"k": 1}]')$$, '22023', '\mconflict_columns\M', 'an empty conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k', NULL], '[{"k": 1}]')$$, '22004', '\mconflict_columns\M.*\mNULL\M', 'a NULL element in conflict_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['nope'], '[{"nope": 1}]')$$, '22023', '\mnope\M', 'a conflict column that is not a column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k', 'k'], '[{"k": 1}]')$$, '22023', '\mk\M.*twice', 'a conflict column named twice'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"v": 1}]')$$, '22023', '\mk\M', 'rows without the conflict column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": null, "v": 1}]')$$, '22004', '\mk\M.*null', 'a null conflict column value'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '{"k": 1}')$$, '22023', '\mrows\M.*array', 'rows that is an object, not an array'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[]')$$, '22023', '\mrows\M', 'an empty rows array'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[1]')$$, '22023', '\mrows\M.*object', 'a rows element that is not an object'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "v": 1}, {"k": 2}]')$$, '22023', '\mrows\M.*same fields', 'rows with different fields'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "bogus": 1}]')$$, '22023', '\mbogus\M', 'a rows field that is not a column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "ctid": "(0,1)"}]')$$, '22023', '\mctid\M', 'a rows field that is a system column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "v": 1}]', ARRAY['w'])$$, '22023', '\mw\M', 'an update column that is not a field of rows'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "v": 1}]', ARRAY['k'])$$, '22023', '\mk\M.*conflict column', 'an update column that is a conflict column'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert', ARRAY['k'], '[{"k": 1, "v": 1}]', ARRAY['v', NULL])$$, '22004', '\mupdate_columns\M.*\mNULL\M', 'a NULL element in update_columns'),
('sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_bad_upsert_view', ARRAY['k'], '[{"k": 1}]')$$, '22023', '\mtarget\M.*table', 'a target that is a view'),
-- set_limit(key, slots)
('set_limit', $$SELECT baton.set_limit(NULL, 1)$$,                           '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('set_limit', $$SELECT baton.set_limit('tap-bad-key', NULL)$$,               '22004', '\mslots\M.*\mNULL\M', 'a NULL slots'),
('set_limit', $$SELECT baton.set_limit('', 1)$$,                             '22023', '\mkey\M',             'an empty key'),
('set_limit', $$SELECT baton.set_limit(repeat('k', 513), 1)$$,               '22023', '\mkey\M',             'a 513-byte key'),
('set_limit', $$SELECT baton.set_limit('tap-bad-key', -1)$$,                 '22023', '\mslots\M',           'negative slots'),
-- acquire(key, owner, ttl)
('acquire', $$SELECT baton.acquire(NULL, 'o', '1 minute')$$,                 '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('acquire', $$SELECT baton.acquire('tap-bad-key', NULL, '1 minute')$$,       '22004', '\mowner\M.*\mNULL\M', 'a NULL owner'),
('acquire', $$SELECT baton.acquire('tap-bad-key', 'o', NULL)$$,              '22004', '\mttl\M.*\mNULL\M',   'a NULL ttl (it has no default)'),
('acquire', $$SELECT baton.acquire('', 'o', '1 minute')$$,                   '22023', '\mkey\M',             'an empty key'),
('acquire', $$SELECT baton.acquire(repeat('k', 513), 'o', '1 minute')$$,     '22023', '\mkey\M',             'a 513-byte key'),
('acquire', $$SELECT baton.acquire('tap-bad-key', '', '1 minute')$$,         '22023', '\mowner\M',           'an empty owner'),
('acquire', $$SELECT baton.acquire('tap-bad-key', repeat('o', 513), '1 minute')$$, '22023', '\mowner\M',     'a 513-byte owner'),
('acquire', $$SELECT baton.acquire('tap-bad-key', 'o', '0 seconds')$$,       '22023', '\mttl\M.*(zero|positive)', 'a zero ttl'),
('acquire', $$SELECT baton.acquire('tap-bad-key', 'o', '-1 second')$$,       '22023', '\mttl\M.*(zero|positive)', 'a negative ttl'),
-- extend(key, token, ttl)
('extend', $$SELECT baton.extend(NULL, token, '1 minute') FROM held$$,       '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('extend', $$SELECT baton.extend('tap-bad-sem', NULL, '1 minute')$$,         '22004', '\mtoken\M.*\mNULL\M', 'a NULL token'),
('extend', $$SELECT baton.extend('tap-bad-sem', token, NULL) FROM held$$,    '22004', '\mttl\M.*\mNULL\M',   'a NULL ttl'),
('extend', $$SELECT baton.extend('', token, '1 minute') FROM held$$,         '22023', '\mkey\M',             'an empty key'),
('extend', $$SELECT baton.extend(repeat('k', 513), token, '1 minute') FROM held$$, '22023', '\mkey\M',       'a 513-byte key'),
('extend', $$SELECT baton.extend('tap-bad-sem', token, '0 seconds') FROM held$$, '22023', '\mttl\M.*(zero|positive)', 'a zero ttl (for a live holder)'),
('extend', $$SELECT baton.extend('tap-bad-sem', token, '-1 second') FROM held$$, '22023', '\mttl\M.*(zero|positive)', 'a negative ttl (for a live holder)'),
-- release(key, token)
('release', $$SELECT baton.release(NULL, token) FROM held$$,                 '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('release', $$SELECT baton.release('tap-bad-sem', NULL)$$,                   '22004', '\mtoken\M.*\mNULL\M', 'a NULL token'),
('release', $$SELECT baton.release('', token) FROM held$$,                   '22023', '\mkey\M',             'an empty key'),
('release', $$SELECT baton.release(repeat('k', 513), token) FROM held$$,     '22023', '\mkey\M',             'a 513-byte key'),
-- lock_key(key, timeout), try_lock_key(key), key_holder(key)
('lock_key', $$SELECT baton.lock_key(NULL)$$,                                '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('lock_key', $$SELECT baton.lock_key('')$$,                                  '22023', '\mkey\M',             'an empty key'),
('lock_key', $$SELECT baton.lock_key(repeat('k', 513))$$,                    '22023', '\mkey\M',             'a 513-byte key'),
('lock_key', $$SELECT baton.lock_key('tap-bad-lock', '-1 second')$$,         '22023', '\mtimeout\M.*negative', 'a negative timeout'),
('try_lock_key', $$SELECT baton.try_lock_key(NULL)$$,                        '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('try_lock_key', $$SELECT baton.try_lock_key('')$$,                          '22023', '\mkey\M',             'an empty key'),
('try_lock_key', $$SELECT baton.try_lock_key(repeat('k', 513))$$,            '22023', '\mkey\M',             'a 513-byte key'),
('key_holder', $$SELECT baton.key_holder(NULL)$$,                            '22004', '\mkey\M.*\mNULL\M',   'a NULL key'),
('key_holder', $$SELECT baton.key_holder('')$$,                              '22023', '\mkey\M',             'an empty key'),
('key_holder', $$SELECT baton.key_holder(repeat('k', 513))$$,                '22023', '\mkey\M',             'a 513-byte key'),
-- lock_keys(keys, timeout), try_lock_keys(keys)
('lock_keys', $$SELECT baton.lock_keys(NULL)$$,                              '22004', '\mkeys\M.*\mNULL\M',  'a NULL keys'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY[]::text[])$$,                   '22023', '\mkeys\M',            'an empty keys array'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY['tap-bad-lock', NULL])$$,       '22004', '\mkeys\M.*\mNULL\M',  'a NULL element in keys'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY['tap-bad-lock', ''])$$,         '22023', '\mkeys\M',            'an empty key in keys'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY['tap-bad-lock', repeat('k', 513)])$$, '22023', '\mkeys\M',      'a 513-byte key in keys'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY[['tap-bad-lock']])$$,           '22023', '\mkeys\M',            'a two-dimensional keys array'),
('lock_keys', $$SELECT baton.lock_keys(ARRAY['tap-bad-lock'], '-1 second')$$, '22023', '\mtimeout\M.*negative', 'a negative timeout'),
('try_lock_keys', $$SELECT baton.try_lock_keys(NULL)$$,                      '22004', '\mkeys\M.*\mNULL\M',  'a NULL keys'),
('try_lock_keys', $$SELECT baton.try_lock_keys(ARRAY[]::text[])$$,           '22023', '\mkeys\M',            'an empty keys array'),
('try_lock_keys', $$SELECT baton.try_lock_keys(ARRAY['tap-bad-lock', NULL])$$, '22004', '\mkeys\M.*\mNULL\M', 'a NULL element in keys'),
('try_lock_keys', $$SELECT baton.try_lock_keys(ARRAY['tap-bad-lock', ''])$$, '22023', '\mkeys\M',            'an empty key in keys');

-- 230 rules: the SQLSTATE of each ...
SELECT throws_ok(r.call, r.errcode, NULL,
                 format('%s refuses %s with SQLSTATE %s', r.fn, r.rule, r.errcode))
  FROM (SELECT * FROM refusal ORDER BY n) r;

-- ... and a message that names the argument.
SELECT throws_matching(r.call, r.message,
                       format('%s: the error for %s names it (%s)', r.fn, r.rule, r.message))
  FROM (SELECT * FROM refusal ORDER BY n) r;

SELECT is((SELECT count(*) FROM refusal), 230::bigint, 'all 230 argument rules were exercised');
SELECT is((SELECT string_agg(p.proname::text, ', ' ORDER BY p.proname)
             FROM pg_proc p
            WHERE p.pronamespace = 'baton'::regnamespace AND p.proname !~ '^_'
              AND p.proname NOT IN (SELECT fn FROM refusal)),
          NULL, 'every function of baton (but the internal _ ones) has refusals in this file');

-------------------------------------------------------------------------------
-- A refused call changes nothing and leaves the session working.
-------------------------------------------------------------------------------
SELECT is((SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j),
          (SELECT jobs FROM before_calls),
          'refused calls changed no job row');
SELECT is((SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q),
          (SELECT queues FROM before_calls),
          'refused calls changed no queue row');
SELECT is((SELECT count(*) FROM baton.jobs), (SELECT job_count FROM before_calls),
          'refused calls added or removed no job');
SELECT is((SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l),
          (SELECT limits FROM before_calls), 'refused calls changed no semaphore limit');
SELECT is((SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h),
          (SELECT holders FROM before_calls), 'refused calls changed no semaphore holder');
SELECT is((SELECT count(*) FROM public.tap_bad_upsert), (SELECT upserted FROM before_calls),
          'refused sorted_upsert calls wrote no row');
SELECT is(baton.key_holder('tap-bad-lock'), NULL,
          'refused lock calls left no key lock behind');
SELECT is((SELECT count(*) FROM baton._queues), (SELECT queue_count FROM before_calls),
          'refused calls added or removed no queue (tap_q was never created)');
SELECT is(pg_backend_pid(), (SELECT pid FROM before_calls),
          'the same backend answers after every refusal');
SELECT is((SELECT count(*) FROM baton.claim('tap_bad', 'tap-bad-worker-2')), 1::bigint,
          'the session still works: the ready job can be claimed after the refusals');
SELECT is((SELECT baton.complete(id, lease_token, '{"ok": true}') FROM owned), true,
          'the job the refused calls were made against is still owned by its token');

-------------------------------------------------------------------------------
-- A NULL for an argument that has a default means that default.
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.create_queue('tap_dflt', NULL, NULL, NULL)$$,
                'create_queue(queue, NULL, NULL, NULL) is accepted');
SELECT row_eq($$SELECT lease, max_attempts, retry_base FROM baton._queues WHERE queue = 'tap_dflt'$$,
              ROW(interval '30 seconds', 25, interval '1 second'),
              'create_queue: NULL lease, max_attempts, retry_base mean 30 seconds, 25, 1 second');

CREATE TEMP TABLE dflt_job AS
    SELECT baton.enqueue('tap_dflt', NULL, NULL, NULL, NULL, NULL, NULL) AS id,
           clock_timestamp() AS after_enqueue;
SELECT isnt((SELECT id FROM dflt_job), NULL, 'enqueue(queue, NULL, ...) returns a job id');
SELECT is((SELECT payload FROM baton.jobs WHERE id = (SELECT id FROM dflt_job)), '{}'::jsonb,
          'enqueue: a NULL payload means {}');
SELECT is((SELECT priority FROM baton.jobs WHERE id = (SELECT id FROM dflt_job)), 0,
          'enqueue: a NULL priority means 0');
SELECT ok((SELECT j.run_at <= d.after_enqueue AND j.run_at > d.after_enqueue - interval '1 minute'
             FROM baton.jobs j, dflt_job d WHERE j.id = d.id),
          'enqueue: a NULL run_at means now');
SELECT is(baton.enqueue('tap_dflt', '{"v": 1}', NULL, NULL, 'tap-key', NULL, NULL),
          baton.enqueue('tap_dflt', '{"v": 2}', NULL, NULL, 'tap-key', NULL, NULL),
          'enqueue: a NULL on_conflict means keep (the second call returns the first job)');
SELECT is((SELECT payload FROM baton.jobs WHERE queue = 'tap_dflt' AND unique_key = 'tap-key'),
          '{"v": 1}'::jsonb, 'enqueue: keep left the first payload as it was');

CREATE TEMP TABLE dflt_claim AS
    SELECT c.*, clock_timestamp() AS after_claim
      FROM baton.claim('tap_dflt', 'tap-dflt-worker', NULL, NULL) c;
SELECT is((SELECT count(*) FROM dflt_claim), 1::bigint,
          'claim(queue, worker, NULL, NULL) takes one job (n NULL means 1)');
SELECT ok((SELECT lease_expires_at BETWEEN after_claim + interval '29 seconds'
                                       AND after_claim + interval '31 seconds' FROM dflt_claim),
          'claim: a NULL lease means the queue''s lease (30 seconds)');
SELECT is((SELECT count(*) FROM baton.heartbeat('tap-dflt-worker', NULL)), 1::bigint,
          'heartbeat(worker, NULL) extends the worker''s job');
SELECT isnt((SELECT baton.renew(id, lease_token, NULL) FROM dflt_claim), NULL,
            'renew(id, token, NULL) renews with the queue''s lease');
SELECT is((SELECT baton.fail(id, lease_token, NULL, NULL) FROM dflt_claim), 'ready',
          'fail(id, token, NULL, NULL) puts the job back with the default back-off');
SELECT is((SELECT baton.complete(c.id, c.lease_token, NULL)
             FROM baton.claim('tap_dflt', 'tap-dflt-worker', 10) c
            WHERE c.unique_key = 'tap-key'), true,
          'complete(id, token, NULL) completes the job');
SELECT is(baton.purge('tap_dflt', '0 seconds'), 1::bigint,
          'purge with older_than 0 is accepted (only negative is refused) and removes the completed job');

-------------------------------------------------------------------------------
-- The limits themselves are accepted (the refusals above are off by one).
-------------------------------------------------------------------------------
SELECT lives_ok($$SELECT baton.create_queue(repeat('a', 63))$$,
                'create_queue accepts a 63-character queue name');
SELECT lives_ok($$SELECT baton.create_queue('Tap_ok.1:x-Y')$$,
                'create_queue accepts every allowed character class');
SELECT lives_ok($$SELECT * FROM baton.claim('tap_dflt', repeat('w', 512), 1000)$$,
                'claim accepts a 512-byte worker name and n = 1000');
SELECT lives_ok($$SELECT * FROM baton.claim('tap_dflt', repeat('é', 256), 1)$$,
                'claim accepts a worker name of 256 two-byte characters (512 bytes)');
SELECT lives_ok($$SELECT baton.enqueue('tap_dflt', unique_key => repeat('k', 512), concurrency_key => repeat('c', 512))$$,
                'enqueue accepts 512-byte keys');
SELECT lives_ok($$SELECT baton.enqueue('tap_dflt', on_conflict => 'replace')$$,
                'enqueue accepts on_conflict replace');
SELECT is((SELECT baton.fail(c.id, c.lease_token, 'x', '0 seconds')
             FROM baton.claim('tap_dflt', 'tap-dflt-worker') c), 'ready',
          'fail accepts retry_in = 0');
SELECT results_eq($$SELECT ord, inserted FROM baton.enqueue_batch('tap_dflt',
                       '[{"payload": null, "run_at": null, "priority": null, "unique_key": null, "concurrency_key": null}]', NULL)$$,
                  $$VALUES (1, true)$$,
                  'enqueue_batch: a field whose value is JSON null counts as absent; on_conflict NULL is accepted');
SELECT is((SELECT count(*) FROM baton.enqueue_batch('tap_dflt', (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 10000)))),
          10000::bigint, 'enqueue_batch accepts 10,000 jobs');
SELECT lives_ok($$SELECT * FROM baton.complete_and_claim('{}', '{}', 'tap_dflt', 'tap-dflt-worker', NULL, NULL)$$,
                'complete_and_claim accepts empty arrays and NULL n and lease');
SELECT lives_ok($$SELECT baton.set_limit('tap-bad-key2', 0)$$, 'set_limit accepts 0 slots (a pause)');
SELECT lives_ok($$SELECT baton.lock_key('tap-bad-lock2', '0 seconds')$$, 'lock_key accepts a timeout of 0');
SELECT lives_ok($$SELECT baton.lock_keys(ARRAY['tap-bad-lock3', repeat('k', 512)], NULL)$$,
                'lock_keys accepts a 512-byte key and a NULL timeout');
SELECT lives_ok($$SELECT baton.drop_queue(repeat('a', 63))$$,
                'drop_queue accepts a 63-character queue name');
SELECT is(pg_backend_pid(), (SELECT pid FROM before_calls),
          'still the same backend at the end');

SELECT * FROM finish();
ROLLBACK;
