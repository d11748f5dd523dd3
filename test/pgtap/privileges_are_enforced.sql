-- Privileges are enforced (docs/contract.md "General rules", docs/security.md): nothing
-- in schema baton is granted to PUBLIC; every function but sorted_upsert is
-- SECURITY DEFINER with a pinned search_path, and sorted_upsert runs with the
-- caller's rights; a role holding exactly the documented producer, worker,
-- key-lock/semaphore or administrator grants can do its job through the
-- functions and nothing else; and a caller's search_path cannot hijack any
-- function with planted operators, functions or relations.
--
-- The GRANT blocks below are copied verbatim from docs/security.md: keep the
-- two identical.
BEGIN;
SELECT plan(207);

-------------------------------------------------------------------------------
-- Nothing in schema baton is granted to PUBLIC (a NULL ACL means the
-- object type's default, which for functions and types includes PUBLIC).
-------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
            WHERE n.nspname = 'baton' AND a.grantee = 0),
          0::bigint, 'schema baton: no privilege for PUBLIC');
SELECT is((SELECT string_agg(format('%s %s', c.relname, a.privilege_type), ', ' ORDER BY c.relname)
             FROM pg_class c,
                  aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
            WHERE c.relnamespace = 'baton'::regnamespace AND a.grantee = 0),
          NULL, 'tables, views and sequences of baton: no privilege for PUBLIC');
SELECT is((SELECT string_agg(format('%s.%s %s', c.relname, t.attname, a.privilege_type), ', ')
             FROM pg_class c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a
            WHERE c.relnamespace = 'baton'::regnamespace AND a.grantee = 0),
          NULL, 'columns of baton''s relations: no privilege for PUBLIC');
SELECT is((SELECT string_agg(format('%s %s', p.oid::regprocedure, a.privilege_type), ', ' ORDER BY p.proname)
             FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
            WHERE p.pronamespace = 'baton'::regnamespace AND a.grantee = 0),
          NULL, 'functions of baton: no EXECUTE for PUBLIC');
-- Array types follow their element type and cannot be granted on. The row
-- types of tables and views keep the default USAGE (unreachable without
-- USAGE on the schema; pg_dump cannot carry a revoke on them).
SELECT is((SELECT string_agg(format('%s %s', t.oid::regtype, a.privilege_type), ', ' ORDER BY t.typname)
             FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
            WHERE t.typnamespace = 'baton'::regnamespace AND t.typcategory <> 'A' AND a.grantee = 0
              AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')),
          NULL, 'types of baton (claimed_job): no USAGE for PUBLIC');
SELECT is((SELECT count(*) FROM pg_default_acl d
            WHERE d.defaclnamespace = 'baton'::regnamespace),
          0::bigint, 'no default privileges grant future objects of baton to anyone');

-- The queue functions run as the extension owner with a pinned search_path:
-- those written in SQL by a SET clause, those written in C by pinning it
-- themselves around every statement they run and while triggers on
-- baton._jobs fire (src/spi.hpp; the hijack test below calls each one);
-- sorted_upsert runs with the caller's rights (and a pinned search_path).
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.proname)
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang, pg_extension e
            WHERE e.extname = 'baton' AND p.pronamespace = 'baton'::regnamespace
              AND p.proname !~ '^_' AND p.proname <> 'sorted_upsert'
              AND NOT (p.prosecdef AND p.proowner = e.extowner
                       AND CASE WHEN l.lanname = 'c' THEN p.proconfig IS NULL
                                ELSE coalesce(p.proconfig = ARRAY['search_path=pg_catalog, pg_temp'], false) END)),
          NULL, 'every queue, lock and semaphore function is SECURITY DEFINER, owned by the extension owner, search_path = pg_catalog, pg_temp (by a SET clause unless written in C)');
SELECT cmp_ok((SELECT count(*) FROM pg_proc p
                WHERE p.pronamespace = 'baton'::regnamespace AND p.proname !~ '^_' AND p.prosecdef),
              '>=', 11::bigint, 'at least the 11 queue functions of the contract are SECURITY DEFINER');
SELECT ok((SELECT NOT prosecdef AND proconfig = ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc
             WHERE oid = 'baton.sorted_upsert(regclass, text[], jsonb, text[])'::regprocedure),
          'sorted_upsert is SECURITY INVOKER (the caller''s rights) with a pinned search_path');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ')
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.pronamespace = 'baton'::regnamespace AND l.lanname <> 'c'
              AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          NULL, 'every function of baton written in SQL or PL/pgSQL pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT string_agg(p.oid::regprocedure::text, ', ')
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.pronamespace = 'baton'::regnamespace AND p.prosecdef AND l.lanname <> 'c'
              AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          NULL, 'no SECURITY DEFINER function of baton runs with the caller''s search_path (C pins it in spi.hpp)');

-------------------------------------------------------------------------------
-- The roles. The GRANT lists are docs/security.md's, verbatim.
-------------------------------------------------------------------------------
CREATE ROLE baton_nobody NOLOGIN;
CREATE ROLE baton_producer NOLOGIN;
CREATE ROLE baton_worker NOLOGIN;
CREATE ROLE baton_admin NOLOGIN;
CREATE ROLE baton_locks NOLOGIN;

-- producer
GRANT USAGE ON SCHEMA baton TO baton_producer;
GRANT EXECUTE ON FUNCTION
    baton.enqueue(text, jsonb, timestamptz, int, text, text, text),
    baton.enqueue_batch(text, jsonb, text),
    baton.cancel(bigint),
    baton.job(bigint)
    TO baton_producer;
GRANT SELECT ON baton.queue_stats TO baton_producer;

-- worker
GRANT USAGE ON SCHEMA baton TO baton_worker;
GRANT EXECUTE ON FUNCTION
    baton.claim(text, text, int, interval),
    baton.heartbeat(text, interval),
    baton.renew(bigint, bigint, interval),
    baton.complete(bigint, bigint, jsonb),
    baton.complete_batch(bigint[], bigint[]),
    baton.complete_batch(bigint[], bigint[], jsonb[]),
    baton.complete_and_claim(bigint[], bigint[], text, text, int, interval),
    baton.complete_and_claim(bigint[], bigint[], text, text, int, interval, jsonb[]),
    baton.fail(bigint, bigint, text, interval),
    baton.listen(text),
    baton.unlisten(text)
    TO baton_worker;
GRANT SELECT ON baton.jobs, baton.queue_stats TO baton_worker;

-- key locks and semaphores
GRANT USAGE ON SCHEMA baton TO baton_locks;
GRANT EXECUTE ON FUNCTION
    baton.lock_key(text, interval),
    baton.try_lock_key(text),
    baton.lock_keys(text[], interval),
    baton.try_lock_keys(text[]),
    baton.key_holder(text),
    baton.acquire(text, text, interval),
    baton.extend(text, bigint, interval),
    baton.release(text, bigint)
    TO baton_locks;
GRANT SELECT ON baton.holders TO baton_locks;

-- administrator
GRANT USAGE ON SCHEMA baton TO baton_admin;
GRANT EXECUTE ON FUNCTION
    baton.create_queue(text, interval, int, interval),
    baton.drop_queue(text, boolean),
    baton.purge(text, interval),
    baton.set_retention(text, interval),
    baton.enqueue(text, jsonb, timestamptz, int, text, text, text),
    baton.enqueue_batch(text, jsonb, text),
    baton.claim(text, text, int, interval),
    baton.heartbeat(text, interval),
    baton.renew(bigint, bigint, interval),
    baton.complete(bigint, bigint, jsonb),
    baton.complete_batch(bigint[], bigint[]),
    baton.complete_batch(bigint[], bigint[], jsonb[]),
    baton.complete_and_claim(bigint[], bigint[], text, text, int, interval),
    baton.complete_and_claim(bigint[], bigint[], text, text, int, interval, jsonb[]),
    baton.fail(bigint, bigint, text, interval),
    baton.listen(text),
    baton.unlisten(text),
    baton.cancel(bigint),
    baton.retry(bigint),
    baton.job(bigint),
    baton.pause(text),
    baton.resume(text),
    baton.cancel_all(text, boolean),
    baton.retry_all(text),
    baton.grant_queue(text, regrole, boolean, boolean),
    baton.revoke_queue(text, regrole),
    baton.unrestrict_queue(text),
    baton.set_limit(text, int),
    baton.lock_key(text, interval),
    baton.try_lock_key(text),
    baton.lock_keys(text[], interval),
    baton.try_lock_keys(text[]),
    baton.key_holder(text),
    baton.acquire(text, text, interval),
    baton.extend(text, bigint, interval),
    baton.release(text, bigint),
    baton.sorted_upsert(regclass, text[], jsonb, text[])
    TO baton_admin;
GRANT SELECT ON baton.jobs, baton.queue_stats, baton.holders TO baton_admin;

-- Test harness only: let the roles record pgTAP results and read fixtures.
GRANT ALL ON TABLE __tcache__ TO baton_nobody, baton_producer, baton_worker, baton_admin, baton_locks;
GRANT ALL ON SEQUENCE __tcache___id_seq, __tresults___numb_seq
    TO baton_nobody, baton_producer, baton_worker, baton_admin, baton_locks;

-- Fixture, as superuser: a queue with jobs for each role to work on.
SELECT baton.create_queue('tap_priv', '30 seconds', 3, '1 second');
CREATE TEMP TABLE fx AS
SELECT baton.enqueue('tap_priv', '{"n": 1}') AS j1,
       baton.enqueue('tap_priv', '{"n": 2}') AS j2,
       baton.enqueue('tap_priv', '{"n": 3}') AS j3,
       baton.enqueue('tap_priv', '{"n": 4}') AS j4;
GRANT SELECT ON fx TO baton_nobody, baton_producer, baton_worker, baton_admin, baton_locks;
-- A table of the administrator's application, for sorted_upsert (which runs
-- with the caller's rights: no privilege on it yet).
CREATE TABLE public.tap_priv_up (k int PRIMARY KEY, v int);
-- Calls every function and reads every relation of baton as the current
-- role, with NULL arguments; returns those that did not raise 42501.
CREATE FUNCTION pg_temp.not_denied() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    o record;
    bad text[] := '{}';
BEGIN
    FOR o IN
        SELECT format('SELECT baton.%I(%s)', p.proname,
                      (SELECT string_agg('NULL::' || format_type(t, NULL), ', ' ORDER BY k)
                         FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, k))) AS call
          FROM pg_proc p WHERE p.pronamespace = 'baton'::regnamespace
        UNION ALL
        SELECT format('SELECT 1 FROM baton.%I', c.relname)
          FROM pg_class c WHERE c.relnamespace = 'baton'::regnamespace AND c.relkind IN ('r', 'v', 'S')
        ORDER BY 1
    LOOP
        BEGIN
            EXECUTE o.call;
            bad := bad || (o.call || ': no error');
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        WHEN OTHERS THEN
            bad := bad || (o.call || ': ' || SQLSTATE);
        END;
    END LOOP;
    RETURN nullif(array_to_string(bad, '; '), '');
END $f$;

-- Refusals run as a role: (role, what, call); every one must be 42501.
CREATE TEMP TABLE denied (n serial, role text, what text, call text);
GRANT SELECT ON denied TO baton_nobody, baton_producer, baton_worker, baton_admin, baton_locks;

-- A role with no grants: every function and every relation of baton.
INSERT INTO denied (role, what, call) VALUES
('baton_nobody', 'create_queue', $$SELECT baton.create_queue('tap_priv_x')$$),
('baton_nobody', 'drop_queue',   $$SELECT baton.drop_queue('tap_priv')$$),
('baton_nobody', 'purge',        $$SELECT baton.purge('tap_priv', '0 seconds')$$),
('baton_nobody', 'set_retention', $$SELECT baton.set_retention('tap_priv', '1 day')$$),
('baton_nobody', 'listen',       $$SELECT baton.listen('tap_priv')$$),
('baton_nobody', 'unlisten',     $$SELECT baton.unlisten('tap_priv')$$),
('baton_nobody', 'enqueue',      $$SELECT baton.enqueue('tap_priv')$$),
('baton_nobody', 'claim',        $$SELECT * FROM baton.claim('tap_priv', 'tap-nobody')$$),
('baton_nobody', 'heartbeat',    $$SELECT * FROM baton.heartbeat('tap-nobody')$$),
('baton_nobody', 'renew',        $$SELECT baton.renew(1, 1)$$),
('baton_nobody', 'complete',     $$SELECT baton.complete(1, 1)$$),
('baton_nobody', 'fail',         $$SELECT baton.fail(1, 1)$$),
('baton_nobody', 'cancel',       $$SELECT baton.cancel(j1) FROM fx$$),
('baton_nobody', 'retry',        $$SELECT baton.retry(j1) FROM fx$$),
('baton_nobody', '_check_queue_name', $$SELECT baton._check_queue_name('x')$$),
('baton_nobody', '_queue_must_exist', $$SELECT baton._queue_must_exist('tap_priv')$$),
('baton_nobody', '_check_interval',   $$SELECT baton._check_interval('x', '1 second', true)$$),
('baton_nobody', '_boundary_selftest', $$SELECT baton._boundary_selftest('cxx')$$),
('baton_nobody', 'SELECT baton.jobs',        $$SELECT * FROM baton.jobs$$),
('baton_nobody', 'SELECT baton.queue_stats', $$SELECT * FROM baton.queue_stats$$),
('baton_nobody', 'SELECT baton._jobs',       $$SELECT * FROM baton._jobs$$),
('baton_nobody', 'SELECT baton._queues',     $$SELECT * FROM baton._queues$$),
('baton_nobody', 'nextval baton._token_seq', $$SELECT nextval('baton._token_seq')$$),
('baton_nobody', 'the type baton.claimed_job', $$SELECT NULL::baton.claimed_job$$),
-- A worker: nothing but its functions and the two views.
('baton_worker', 'INSERT INTO baton.jobs',
 $$INSERT INTO baton.jobs (id, queue, state, payload, priority, run_at, attempt, max_attempts, enqueued_at)
   VALUES (-1, 'tap_priv', 'ready', '{}', 0, now(), 0, 1, now())$$),
('baton_worker', 'UPDATE baton.jobs', $$UPDATE baton.jobs SET state = 'completed'$$),
('baton_worker', 'DELETE FROM baton.jobs', $$DELETE FROM baton.jobs$$),
('baton_worker', 'SELECT baton.jobs FOR UPDATE', $$SELECT id FROM baton.jobs FOR UPDATE$$),
('baton_worker', 'LOCK baton.jobs', $$LOCK TABLE baton.jobs IN ACCESS EXCLUSIVE MODE$$),
('baton_worker', 'SELECT baton._jobs', $$SELECT * FROM baton._jobs$$),
('baton_worker', 'INSERT INTO baton._jobs',
 $$INSERT INTO baton._jobs (id, queue, state, payload, priority, run_at, max_attempts, enqueued_at)
   VALUES (-1, 'tap_priv', 'ready', '{}', 0, now(), 1, now())$$),
('baton_worker', 'UPDATE baton._jobs', $$UPDATE baton._jobs SET state = 'completed'$$),
('baton_worker', 'DELETE FROM baton._jobs', $$DELETE FROM baton._jobs$$),
('baton_worker', 'TRUNCATE baton._jobs', $$TRUNCATE baton._jobs$$),
('baton_worker', 'LOCK baton._jobs', $$LOCK TABLE baton._jobs IN ACCESS EXCLUSIVE MODE$$),
('baton_worker', 'SELECT baton._queues', $$SELECT * FROM baton._queues$$),
('baton_worker', 'UPDATE baton._queues', $$UPDATE baton._queues SET max_attempts = 1000$$),
('baton_worker', 'nextval baton._token_seq', $$SELECT nextval('baton._token_seq')$$),
('baton_worker', 'setval baton._token_seq', $$SELECT setval('baton._token_seq', 1)$$),
('baton_worker', 'CREATE in schema baton', $$CREATE TABLE baton.tap_planted (x int)$$),
('baton_worker', 'enqueue',      $$SELECT baton.enqueue('tap_priv')$$),
('baton_worker', 'cancel',       $$SELECT baton.cancel(j3) FROM fx$$),
('baton_worker', 'retry',        $$SELECT baton.retry(j3) FROM fx$$),
('baton_worker', 'create_queue', $$SELECT baton.create_queue('tap_priv', '1 hour')$$),
('baton_worker', 'drop_queue',   $$SELECT baton.drop_queue('tap_priv', true)$$),
('baton_worker', 'purge',        $$SELECT baton.purge('tap_priv', '0 seconds')$$),
('baton_worker', 'set_retention', $$SELECT baton.set_retention('tap_priv', '1 day')$$),
('baton_worker', '_check_queue_name', $$SELECT baton._check_queue_name('x')$$),
('baton_worker', '_boundary_selftest', $$SELECT baton._boundary_selftest('cxx')$$),
-- A producer: enqueue, cancel, queue_stats; no worker functions, no job rows.
('baton_producer', 'claim',        $$SELECT * FROM baton.claim('tap_priv', 'tap-producer')$$),
('baton_producer', 'heartbeat',    $$SELECT * FROM baton.heartbeat('tap-producer')$$),
('baton_producer', 'renew',        $$SELECT baton.renew(1, 1)$$),
('baton_producer', 'complete',     $$SELECT baton.complete(1, 1)$$),
('baton_producer', 'fail',         $$SELECT baton.fail(1, 1)$$),
('baton_producer', 'retry',        $$SELECT baton.retry(j3) FROM fx$$),
('baton_producer', 'create_queue', $$SELECT baton.create_queue('tap_priv_x')$$),
('baton_producer', 'drop_queue',   $$SELECT baton.drop_queue('tap_priv', true)$$),
('baton_producer', 'purge',        $$SELECT baton.purge('tap_priv', '0 seconds')$$),
('baton_producer', 'set_retention', $$SELECT baton.set_retention('tap_priv', '1 day')$$),
('baton_producer', 'listen',       $$SELECT baton.listen('tap_priv')$$),
('baton_producer', 'SELECT baton.jobs', $$SELECT * FROM baton.jobs$$),
('baton_producer', 'SELECT baton._jobs', $$SELECT * FROM baton._jobs$$),
('baton_producer', 'INSERT INTO baton._jobs',
 $$INSERT INTO baton._jobs (id, queue, state, payload, priority, run_at, max_attempts, enqueued_at)
   VALUES (-1, 'tap_priv', 'ready', '{}', 0, now(), 1, now())$$),
('baton_producer', 'INSERT INTO baton._queues',
 $$INSERT INTO baton._queues (queue, lease, max_attempts, retry_base) VALUES ('tap_priv_x', '1 s', 1, '1 s')$$),
-- An administrator: every function, but still no direct writes.
('baton_admin', 'INSERT INTO baton.jobs',
 $$INSERT INTO baton.jobs (id, queue, state, payload, priority, run_at, attempt, max_attempts, enqueued_at)
   VALUES (-1, 'tap_priv', 'ready', '{}', 0, now(), 0, 1, now())$$),
('baton_admin', 'UPDATE baton.jobs', $$UPDATE baton.jobs SET state = 'completed'$$),
('baton_admin', 'DELETE FROM baton.jobs', $$DELETE FROM baton.jobs$$),
('baton_admin', 'SELECT baton.jobs FOR UPDATE', $$SELECT id FROM baton.jobs FOR UPDATE$$),
('baton_admin', 'LOCK baton.jobs', $$LOCK TABLE baton.jobs IN ACCESS EXCLUSIVE MODE$$),
('baton_admin', 'SELECT baton._jobs', $$SELECT * FROM baton._jobs$$),
('baton_admin', 'UPDATE baton._jobs', $$UPDATE baton._jobs SET state = 'completed'$$),
('baton_admin', 'DELETE FROM baton._queues', $$DELETE FROM baton._queues$$),
('baton_admin', '_boundary_selftest', $$SELECT baton._boundary_selftest('cxx')$$),
('baton_admin', 'SELECT baton._holders', $$SELECT * FROM baton._holders$$),
('baton_admin', 'DELETE FROM baton._holders', $$DELETE FROM baton._holders$$),
('baton_admin', 'INSERT INTO baton._limits', $$INSERT INTO baton._limits VALUES ('tap-priv-key', 100)$$),
('baton_admin', 'sorted_upsert into a table it may not write (the caller''s rights apply)',
 $$SELECT * FROM baton.sorted_upsert('public.tap_priv_up', ARRAY['k'], '[{"k": 1, "v": 1}]')$$),
-- The new functions, for the roles not granted them.
('baton_worker', 'enqueue_batch', $$SELECT * FROM baton.enqueue_batch('tap_priv', '[{}]')$$),
('baton_worker', 'set_limit', $$SELECT baton.set_limit('tap-priv-key', 100)$$),
('baton_worker', 'lock_key', $$SELECT baton.lock_key('tap-priv-key')$$),
('baton_worker', 'acquire', $$SELECT baton.acquire('tap-priv-key', 'w', '1 minute')$$),
('baton_worker', 'sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_priv_up', ARRAY['k'], '[{"k": 1}]')$$),
('baton_worker', 'SELECT baton.holders', $$SELECT * FROM baton.holders$$),
('baton_worker', 'SELECT baton._holders', $$SELECT * FROM baton._holders$$),
('baton_worker', 'INSERT INTO baton._limits', $$INSERT INTO baton._limits VALUES ('tap-priv-key', 100)$$),
('baton_producer', 'complete_batch', $$SELECT * FROM baton.complete_batch(ARRAY[1::bigint], ARRAY[1::bigint])$$),
('baton_producer', 'complete_and_claim', $$SELECT * FROM baton.complete_and_claim('{}', '{}', 'tap_priv', 'w')$$),
('baton_producer', 'set_limit', $$SELECT baton.set_limit('tap-priv-key', 100)$$),
('baton_producer', 'try_lock_keys', $$SELECT baton.try_lock_keys(ARRAY['tap-priv-key'])$$),
('baton_producer', 'acquire', $$SELECT baton.acquire('tap-priv-key', 'p', '1 minute')$$),
('baton_producer', 'SELECT baton.holders', $$SELECT * FROM baton.holders$$),
('baton_locks', 'set_limit', $$SELECT baton.set_limit('tap-priv-key', 100)$$),
('baton_locks', 'claim', $$SELECT * FROM baton.claim('tap_priv', 'tap-locks')$$),
('baton_locks', 'enqueue', $$SELECT baton.enqueue('tap_priv')$$),
('baton_locks', 'complete', $$SELECT baton.complete(1, 1)$$),
('baton_locks', 'sorted_upsert', $$SELECT * FROM baton.sorted_upsert('public.tap_priv_up', ARRAY['k'], '[{"k": 1}]')$$),
('baton_locks', 'SELECT baton.jobs', $$SELECT * FROM baton.jobs$$),
('baton_locks', 'SELECT baton._holders', $$SELECT * FROM baton._holders$$),
('baton_locks', 'INSERT INTO baton._holders',
 $$INSERT INTO baton._holders (key, token, owner, acquired_at, expires_at) VALUES ('tap-priv-key', -1, 'x', now(), now() + interval '1 hour')$$),
('baton_locks', 'DELETE FROM baton._holders', $$DELETE FROM baton._holders$$),
('baton_locks', 'UPDATE baton._limits', $$UPDATE baton._limits SET slots = 1000$$),
('baton_locks', 'nextval baton._token_seq', $$SELECT nextval('baton._token_seq')$$);

CREATE TEMP TABLE snapshot AS
SELECT (SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j) AS jobs,
       (SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q) AS queues,
       (SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l) AS limits,
       (SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h) AS holders;

SET LOCAL ROLE baton_nobody;
SELECT throws_ok(d.call, '42501', NULL, format('a role with no grants gets 42501 from %s', d.what))
  FROM (SELECT * FROM denied WHERE role = 'baton_nobody' ORDER BY n) d;
SELECT is(pg_temp.not_denied(), NULL,
          'a role with no grants gets 42501 from every function, table, view and sequence of baton');
RESET ROLE;

SET LOCAL ROLE baton_worker;
SELECT throws_ok(d.call, '42501', NULL, format('a worker gets 42501 from %s', d.what))
  FROM (SELECT * FROM denied WHERE role = 'baton_worker' ORDER BY n) d;
RESET ROLE;

SET LOCAL ROLE baton_producer;
SELECT throws_ok(d.call, '42501', NULL, format('a producer gets 42501 from %s', d.what))
  FROM (SELECT * FROM denied WHERE role = 'baton_producer' ORDER BY n) d;
RESET ROLE;

SET LOCAL ROLE baton_admin;
SELECT throws_ok(d.call, '42501', NULL, format('an administrator gets 42501 from %s', d.what))
  FROM (SELECT * FROM denied WHERE role = 'baton_admin' ORDER BY n) d;
RESET ROLE;

SET LOCAL ROLE baton_locks;
SELECT throws_ok(d.call, '42501', NULL, format('a key-lock and semaphore role gets 42501 from %s', d.what))
  FROM (SELECT * FROM denied WHERE role = 'baton_locks' ORDER BY n) d;
RESET ROLE;

SELECT is((SELECT count(*) FROM denied), 102::bigint, 'all 102 refusals were tried');
SELECT is((SELECT string_agg(j::text, E'\n' ORDER BY j.id) FROM baton._jobs j), (SELECT jobs FROM snapshot),
          'the refused calls changed no job');
SELECT is((SELECT string_agg(q::text, E'\n' ORDER BY q.queue) FROM baton._queues q), (SELECT queues FROM snapshot),
          'the refused calls changed no queue');
SELECT is((SELECT string_agg(l::text, E'\n' ORDER BY l.key) FROM baton._limits l), (SELECT limits FROM snapshot),
          'the refused calls changed no semaphore limit');
SELECT is((SELECT string_agg(h::text, E'\n' ORDER BY h.key, h.token) FROM baton._holders h), (SELECT holders FROM snapshot),
          'the refused calls changed no semaphore holder');
SELECT is((SELECT count(*) FROM public.tap_priv_up), 0::bigint, 'the refused sorted_upsert wrote nothing');
SELECT hasnt_table('baton', 'tap_planted', 'nothing was created in schema baton');

-------------------------------------------------------------------------------
-- Each role does its job through the functions with only its grants.
-------------------------------------------------------------------------------
SET LOCAL ROLE baton_worker;
CREATE TEMP TABLE w1 AS SELECT * FROM baton.claim('tap_priv', 'tap-priv-worker');
SELECT is((SELECT id FROM w1), (SELECT j1 FROM fx), 'a worker claims a job');
SELECT is((SELECT count(*) FROM baton.heartbeat('tap-priv-worker')), 1::bigint, 'a worker heartbeats its job');
SELECT isnt((SELECT baton.renew(id, lease_token, '1 minute') FROM w1), NULL, 'a worker renews its lease');
SELECT is((SELECT baton.complete(id, lease_token, '{"done": true}') FROM w1), true, 'a worker completes its job');
SELECT is((SELECT baton.fail(c.id, c.lease_token, 'nope') FROM baton.claim('tap_priv', 'tap-priv-worker') c),
          'ready', 'a worker fails a job');
CREATE TEMP TABLE w3 AS SELECT * FROM baton.claim('tap_priv', 'tap-priv-worker');
SELECT is((SELECT id FROM w3), (SELECT j3 FROM fx), 'a worker claims the next job');
CREATE TEMP TABLE w4 AS
    SELECT c.* FROM w3, baton.complete_and_claim(ARRAY[w3.id], ARRAY[w3.lease_token], 'tap_priv', 'tap-priv-worker') c;
SELECT is((SELECT id FROM w4), (SELECT j4 FROM fx), 'a worker completes and claims in one call');
SELECT results_eq($$SELECT baton.complete_batch(ARRAY[id], ARRAY[lease_token]) FROM w4$$,
                  $$SELECT j4 FROM fx$$, 'a worker completes a batch');
SELECT is((SELECT string_agg(state, ',' ORDER BY id) FROM baton.jobs WHERE queue = 'tap_priv'),
          'completed,ready,completed,completed', 'a worker reads baton.jobs');
SELECT is((SELECT running FROM baton.queue_stats WHERE queue = 'tap_priv'), 0::bigint,
          'a worker reads baton.queue_stats');
RESET ROLE;

SET LOCAL ROLE baton_producer;
CREATE TEMP TABLE p1 AS SELECT baton.enqueue('tap_priv', '{"n": 4}', unique_key => 'tap-priv-p1') AS id;
SELECT isnt((SELECT id FROM p1), NULL, 'a producer enqueues a job');
SELECT is(baton.enqueue('tap_priv', '{"n": 5}', unique_key => 'tap-priv-p1'), (SELECT id FROM p1),
          'a producer''s duplicate unique_key returns the existing job');
SELECT is((SELECT baton.cancel(id) FROM p1), true, 'a producer cancels a job');
SELECT is((SELECT ready + scheduled FROM baton.queue_stats WHERE queue = 'tap_priv'), 1::bigint,
          'a producer reads baton.queue_stats');
SELECT results_eq($$SELECT ord, inserted FROM baton.enqueue_batch('tap_priv', '[{"payload": {"n": 6}}, {"payload": {"n": 7}}]')$$,
                  $$VALUES (1, true), (2, true)$$, 'a producer enqueues a batch');
RESET ROLE;
GRANT SELECT ON p1 TO baton_admin;
SELECT is((SELECT state FROM baton.jobs WHERE id = (SELECT id FROM p1)), 'cancelled',
          'the producer''s cancel took effect');

SET LOCAL ROLE baton_admin;
SELECT lives_ok($$SELECT baton.create_queue('tap_priv_admin', '1 minute', 2, '1 second')$$,
                'an administrator creates a queue');
SELECT is(baton.retry((SELECT id FROM p1)), true, 'an administrator retries a cancelled job');
CREATE TEMP TABLE a1 AS SELECT baton.enqueue('tap_priv_admin', '{"n": 1}') AS id;
SELECT is((SELECT baton.complete(c.id, c.lease_token) FROM baton.claim('tap_priv_admin', 'tap-priv-admin') c),
          true, 'an administrator claims and completes');
SELECT is(baton.purge('tap_priv_admin', '0 seconds'), 1::bigint, 'an administrator purges finished jobs');
SELECT lives_ok($$SELECT baton.set_retention('tap_priv_admin', '1 day')$$, 'an administrator sets a queue''s retention');
SELECT lives_ok($$SELECT baton.drop_queue('tap_priv_admin')$$, 'an administrator drops an empty queue');
SELECT is((SELECT count(*) FROM baton.jobs WHERE queue = 'tap_priv'), 7::bigint,
          'an administrator reads baton.jobs');
SELECT lives_ok($$SELECT baton.set_limit('tap-priv-key', 3)$$, 'an administrator sets a semaphore limit');
SELECT isnt(baton.acquire('tap-priv-key', 'tap-priv-admin', '1 minute'), NULL, 'an administrator acquires a slot');
SELECT is((SELECT count(*) FROM baton.holders WHERE key = 'tap-priv-key'), 1::bigint, 'an administrator reads baton.holders');
RESET ROLE;
SELECT is((SELECT slots FROM baton._limits WHERE key = 'tap-priv-key'), 3, 'the administrator''s set_limit took effect');

-- sorted_upsert runs with the caller's rights: table privileges and
-- row-level security of the caller apply.
GRANT SELECT, INSERT, UPDATE ON public.tap_priv_up TO baton_admin;
SET LOCAL ROLE baton_admin;
SELECT results_eq($$SELECT ord, inserted FROM baton.sorted_upsert('public.tap_priv_up', ARRAY['k'],
                                                                  '[{"k": 2, "v": 1}, {"k": 1, "v": 1}, {"k": 2, "v": 9}]')$$,
                  $$VALUES (1, true), (2, true), (3, false)$$,
                  'an administrator with INSERT and UPDATE on its table upserts into it');
RESET ROLE;
ALTER TABLE public.tap_priv_up ENABLE ROW LEVEL SECURITY;
CREATE POLICY tap_priv_small ON public.tap_priv_up TO baton_admin USING (k < 100) WITH CHECK (k < 100);
SET LOCAL ROLE baton_admin;
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('public.tap_priv_up', ARRAY['k'], '[{"k": 500, "v": 1}]')$$,
                 '42501', NULL, 'sorted_upsert obeys the caller''s row-level security');
RESET ROLE;
SELECT results_eq($$SELECT k, v FROM public.tap_priv_up ORDER BY k$$, $$VALUES (1, 1), (2, 1)$$,
                  'the upserted rows are the allowed ones');

-- A role with the key-lock and semaphore grants.
SET LOCAL ROLE baton_locks;
SELECT lives_ok($$SELECT baton.lock_key('tap-priv-lock', '0 seconds')$$, 'a lock role takes a key lock');
SELECT is(baton.key_holder('tap-priv-lock'), pg_backend_pid(), 'a lock role asks who holds a key');
SELECT is(baton.try_lock_key('tap-priv-lock2'), true, 'a lock role tries a key lock');
SELECT lives_ok($$SELECT baton.lock_keys(ARRAY['tap-priv-lock3', 'tap-priv-lock4'])$$, 'a lock role takes several key locks');
SELECT is(baton.try_lock_keys(ARRAY['tap-priv-lock5', 'tap-priv-lock6']), true, 'a lock role tries several key locks');
CREATE TEMP TABLE l1 AS SELECT baton.acquire('tap-priv-key', 'tap-priv-locks', '1 minute') AS token;
SELECT isnt((SELECT token FROM l1), NULL, 'a lock role acquires a semaphore slot');
SELECT is((SELECT baton.extend('tap-priv-key', token, '2 minutes') FROM l1), true, 'a lock role extends its slot');
SELECT is((SELECT count(*) FROM baton.holders WHERE owner = 'tap-priv-locks'), 1::bigint, 'a lock role reads baton.holders');
SELECT is((SELECT baton.release('tap-priv-key', token) FROM l1), true, 'a lock role releases its slot');
RESET ROLE;
SELECT is((SELECT count(*) FROM baton._queues WHERE queue = 'tap_priv_admin'), 0::bigint,
          'the administrator''s drop_queue took effect');

-------------------------------------------------------------------------------
-- Search-path hijack. The worker plants, in a schema it owns, operators,
-- functions and relations with the names the queue functions use; each
-- records its call. With search_path = evil, pg_catalog, public every queue
-- function must still use pg_catalog's and baton's own objects only.
-------------------------------------------------------------------------------
-- The attack needs a schema and the functions it attacks (test setup).
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO baton_worker', current_database()); END $$;
GRANT EXECUTE ON FUNCTION
    baton.create_queue(text, interval, int, interval),
    baton.drop_queue(text, boolean),
    baton.purge(text, interval),
    baton.enqueue(text, jsonb, timestamptz, int, text, text, text),
    baton.cancel(bigint),
    baton.retry(bigint),
    baton.enqueue_batch(text, jsonb, text),
    baton.set_limit(text, int),
    baton.lock_key(text, interval),
    baton.try_lock_key(text),
    baton.lock_keys(text[], interval),
    baton.try_lock_keys(text[]),
    baton.key_holder(text),
    baton.acquire(text, text, interval),
    baton.extend(text, bigint, interval),
    baton.release(text, bigint),
    baton.sorted_upsert(regclass, text[], jsonb, text[])
    TO baton_worker;
GRANT SELECT ON baton.holders TO baton_worker;

SET LOCAL ROLE baton_worker;
CREATE SCHEMA baton_tap_evil;
CREATE TABLE baton_tap_evil.up (k int PRIMARY KEY, v int);
CREATE TABLE baton_tap_evil.calls (what text);
GRANT INSERT, SELECT ON baton_tap_evil.calls TO PUBLIC;
CREATE TABLE baton_tap_evil.planted (what text);

-- One spy per operator: records its name, then does what pg_catalog's does.
DO $$
DECLARE
    o record;
    i int := 0;
BEGIN
    FOR o IN
        SELECT op.oprname, op.oprleft::regtype AS l, op.oprright::regtype AS r, op.oprresult::regtype AS res
          FROM pg_catalog.pg_operator op
          JOIN (VALUES ('=', 'text', 'text'), ('<>', 'text', 'text'), ('~', 'text', 'text'),
                       ('!~', 'text', 'text'), ('||', 'text', 'text'),
                       ('=', 'bigint', 'bigint'), ('<', 'bigint', 'bigint'), ('>', 'bigint', 'bigint'),
                       ('=', 'integer', 'integer'), ('<', 'integer', 'integer'), ('>=', 'integer', 'integer'),
                       ('<=', 'integer', 'integer'), ('>', 'integer', 'integer'),
                       ('=', 'oid', 'oid'), ('=', 'smallint', 'smallint'),
                       ('+', 'integer', 'integer'), ('-', 'integer', 'integer'),
                       ('<=', 'timestamp with time zone', 'timestamp with time zone'),
                       ('<', 'timestamp with time zone', 'timestamp with time zone'),
                       ('>', 'timestamp with time zone', 'timestamp with time zone'),
                       ('+', 'timestamp with time zone', 'interval'),
                       ('-', 'timestamp with time zone', 'interval'),
                       ('<=', 'interval', 'interval'), ('<', 'interval', 'interval'),
                       ('*', 'double precision', 'double precision'),
                       ('*', 'double precision', 'interval'),
                       ('=', 'jsonb', 'jsonb')) AS w(name, lt, rt)
            ON op.oprname = w.name AND op.oprleft::regtype::text = w.lt AND op.oprright::regtype::text = w.rt
         WHERE op.oprnamespace = 'pg_catalog'::regnamespace
    LOOP
        i := i + 1;
        EXECUTE format($f$CREATE FUNCTION baton_tap_evil.spy_op_%s(a %s, b %s) RETURNS %s
                          LANGUAGE plpgsql SET search_path = pg_catalog AS $b$
                          BEGIN
                              INSERT INTO baton_tap_evil.calls VALUES (%L);
                              RETURN a OPERATOR(pg_catalog.%s) b;
                          END $b$ $f$,
                       i, o.l, o.r, o.res, format('operator %s(%s, %s)', o.oprname, o.l, o.r), o.oprname);
        EXECUTE format('CREATE OPERATOR baton_tap_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = baton_tap_evil.spy_op_%s)',
                       o.oprname, o.l, o.r, i);
        INSERT INTO baton_tap_evil.planted VALUES (format('operator %s(%s, %s)', o.oprname, o.l, o.r));
    END LOOP;
END $$;

-- Spies for the functions the queue functions call or could call.
CREATE FUNCTION baton_tap_evil.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('now()'); RETURN pg_catalog.now() - interval '1 day'; END $$;
CREATE FUNCTION baton_tap_evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('clock_timestamp()'); RETURN pg_catalog.clock_timestamp() - interval '1 day'; END $$;
CREATE FUNCTION baton_tap_evil.unnest(a bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('unnest(bigint[])'); RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
CREATE FUNCTION baton_tap_evil.unnest(a anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('unnest(anyarray)'); RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
CREATE FUNCTION baton_tap_evil."coalesce"(a anyelement, b anyelement) RETURNS anyelement LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('coalesce(anyelement, anyelement)'); RETURN coalesce(a, b); END $$;
CREATE FUNCTION baton_tap_evil."least"(a anyelement, b anyelement) RETURNS anyelement LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('least(anyelement, anyelement)'); RETURN least(a, b); END $$;
CREATE FUNCTION baton_tap_evil.power(a float8, b float8) RETURNS float8 LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('power(float8, float8)'); RETURN pg_catalog.power(a, b); END $$;
CREATE FUNCTION baton_tap_evil."left"(a text, b int) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('left(text, int)'); RETURN pg_catalog."left"(a, b); END $$;
CREATE FUNCTION baton_tap_evil.pg_notify(a text, b text) RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('pg_notify(text, text)'); PERFORM pg_catalog.pg_notify(a, b); END $$;
CREATE FUNCTION baton_tap_evil.nextval(a regclass) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('nextval(regclass)'); RETURN pg_catalog.nextval(a); END $$;
CREATE FUNCTION baton_tap_evil.octet_length(a text) RETURNS int LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('octet_length(text)'); RETURN pg_catalog.octet_length(a); END $$;
CREATE FUNCTION baton_tap_evil.jsonb_array_elements(a jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('jsonb_array_elements(jsonb)'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements(a); END $$;
CREATE FUNCTION baton_tap_evil.jsonb_populate_record(a anyelement, b jsonb) RETURNS anyelement LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('jsonb_populate_record(anyelement, jsonb)'); RETURN pg_catalog.jsonb_populate_record(a, b); END $$;
CREATE FUNCTION baton_tap_evil.current_setting(a text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('current_setting(text)'); RETURN pg_catalog.current_setting(a); END $$;
CREATE FUNCTION baton_tap_evil.host(a inet) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('host(inet)'); RETURN pg_catalog.host(a); END $$;
CREATE FUNCTION baton_tap_evil.inet_client_addr() RETURNS inet LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('inet_client_addr()'); RETURN pg_catalog.inet_client_addr(); END $$;
CREATE FUNCTION baton_tap_evil.jsonb_typeof(a jsonb) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES ('jsonb_typeof(jsonb)'); RETURN pg_catalog.jsonb_typeof(a); END $$;
-- Relations with the names of baton's own: reading them records the read.
CREATE FUNCTION baton_tap_evil.spy_rel(what text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN INSERT INTO baton_tap_evil.calls VALUES (what); RETURN true; END $$;
CREATE VIEW baton_tap_evil._jobs AS
    SELECT * FROM (VALUES (0::bigint, 0, 0, 1, NULL::timestamptz, NULL::timestamptz, NULL::bigint,
                           NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
                           'tap_priv_hj'::text, 'ready'::text, NULL::text, NULL::text, NULL::text,
                           NULL::text, '{}'::jsonb, NULL::jsonb))
           AS t(id, priority, attempt, max_attempts, run_at, enqueued_at, lease_token, lease_expires_at,
                reclaim_after, started_at, finished_at, queue, state, worker, unique_key,
                concurrency_key, error, payload, result)
     WHERE baton_tap_evil.spy_rel('relation _jobs');
CREATE VIEW baton_tap_evil._queues AS
    SELECT * FROM (VALUES ('tap_priv_hj'::text, '1 hour'::interval, 100, '1 hour'::interval, NULL::timestamptz))
           AS t(queue, lease, max_attempts, retry_base, created_at)
     WHERE baton_tap_evil.spy_rel('relation _queues');
CREATE VIEW baton_tap_evil._limits AS
    SELECT 'tap-hj-key'::text AS key, 1000 AS slots WHERE baton_tap_evil.spy_rel('relation _limits');
CREATE VIEW baton_tap_evil._holders AS
    SELECT 'tap-hj-key'::text AS key, 0::bigint AS token, 'x'::text AS owner, NULL::timestamptz AS acquired_at,
           NULL::timestamptz AS expires_at, NULL::text AS application_name, NULL::text AS host
     WHERE baton_tap_evil.spy_rel('relation _holders');
CREATE VIEW baton_tap_evil.pg_locks AS
    SELECT 'advisory'::text AS locktype, 0::oid AS database, 0::oid AS classid, 0::oid AS objid,
           0::int2 AS objsubid, true AS granted, 0 AS pid
     WHERE baton_tap_evil.spy_rel('relation pg_locks');
CREATE SEQUENCE baton_tap_evil._token_seq;
CREATE SEQUENCE baton_tap_evil._job_id_seq;
INSERT INTO baton_tap_evil.planted VALUES
    ('now()'), ('clock_timestamp()'), ('unnest(bigint[])'), ('unnest(anyarray)'),
    ('coalesce(anyelement, anyelement)'), ('least(anyelement, anyelement)'), ('power(float8, float8)'),
    ('left(text, int)'), ('pg_notify(text, text)'), ('nextval(regclass)'), ('jsonb_typeof(jsonb)'),
    ('relation _jobs'), ('relation _queues'),
    ('octet_length(text)'), ('jsonb_array_elements(jsonb)'), ('jsonb_populate_record(anyelement, jsonb)'),
    ('current_setting(text)'), ('host(inet)'), ('inet_client_addr()'),
    ('relation _limits'), ('relation _holders'), ('relation pg_locks');

-- Control: with the attacker's search_path, plain SQL does call every spy
-- (so an empty record below means the queue functions called none).
SET LOCAL search_path = baton_tap_evil, pg_catalog, public;
CREATE TEMP TABLE hj_control AS
SELECT 'a'::text = 'b'::text AS c1, 'a'::text <> 'b'::text AS c2, 'a'::text ~ 'b'::text AS c3,
       'a'::text !~ 'b'::text AS c4, 'a'::text || 'b'::text AS c5,
       1::bigint = 2::bigint AS c6, 1::bigint < 2::bigint AS c7, 1::bigint > 2::bigint AS c8,
       1 = 2 AS c9, 1 < 2 AS c10, 1 >= 2 AS c11, 1 + 2 AS c12, 1 - 2 AS c13,
       '2000-01-01'::timestamptz <= '2000-01-02'::timestamptz AS c14,
       '2000-01-01'::timestamptz < '2000-01-02'::timestamptz AS c15,
       '2000-01-01'::timestamptz > '2000-01-02'::timestamptz AS c16,
       '2000-01-01'::timestamptz + '1 second'::interval AS c17,
       '2000-01-01'::timestamptz - '1 second'::interval AS c18,
       '1 second'::interval <= '2 seconds'::interval AS c19, '1 second'::interval < '2 seconds'::interval AS c20,
       2::float8 * 3::float8 AS c21, 2::float8 * '1 second'::interval AS c22, '{}'::jsonb = '{}'::jsonb AS c23,
       now() AS c24, clock_timestamp() AS c25,
       (SELECT count(*) FROM unnest(ARRAY[1::bigint])) AS c26, (SELECT count(*) FROM unnest(ARRAY['x'])) AS c27,
       "coalesce"(1, 2) AS c28, "least"(1, 2) AS c29, power(2::float8, 3::float8) AS c30, "left"('abc', 1) AS c31,
       pg_notify('baton_tap_control', 'x') IS NULL AS c32, nextval('baton_tap_evil._token_seq') AS c33,
       jsonb_typeof('{}') AS c34,
       (SELECT count(*) FROM _jobs) AS c35, (SELECT count(*) FROM _queues) AS c36,
       1 <= 2 AS c37, 1 > 2 AS c38, 1::oid = 2::oid AS c39, 1::int2 = 2::int2 AS c40,
       octet_length('x'::text) AS c41, (SELECT count(*) FROM jsonb_array_elements('[1]')) AS c42,
       jsonb_populate_record(NULL::baton_tap_evil.up, '{}') IS NULL AS c43,
       current_setting('application_name') AS c44, host('127.0.0.1'::inet) AS c45,
       inet_client_addr() IS NULL AS c46, (SELECT count(*) FROM _limits) AS c47,
       (SELECT count(*) FROM _holders) AS c48, (SELECT count(*) FROM pg_locks) AS c49;
RESET search_path;
RESET ROLE;
SELECT is((SELECT string_agg(p.what, ', ' ORDER BY p.what) FROM baton_tap_evil.planted p
            WHERE p.what NOT IN (SELECT c.what FROM baton_tap_evil.calls c)),
          NULL, 'control: with the attacker''s search_path, plain SQL calls every planted object');
SELECT cmp_ok((SELECT count(*) FROM baton_tap_evil.planted), '>=', 49::bigint,
              'control: at least 49 operators, functions and relations were planted');
DELETE FROM baton_tap_evil.calls;

-- A row trigger a superuser added to baton._jobs, written without a SET
-- clause: it fires under the functions' pinned search_path, never the
-- caller's (its now() is pg_catalog's).
CREATE TABLE public.tap_hj_fired (op text);
CREATE FUNCTION public.tap_hj_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tap_hj_fired VALUES (TG_OP);
    PERFORM now();
    RETURN NEW;
END $$;
CREATE TRIGGER tap_hj_spy BEFORE INSERT OR UPDATE ON baton._jobs
    FOR EACH ROW EXECUTE FUNCTION public.tap_hj_trigger();

-- The attack: every queue function, with the attacker's search_path.
CREATE TEMP TABLE hj_errors (what text, sqlstate text);
GRANT INSERT, SELECT ON hj_errors TO baton_worker;
SET LOCAL ROLE baton_worker;
SET LOCAL search_path = baton_tap_evil, pg_catalog, public;
SELECT baton.create_queue('tap_priv_hj', '30 seconds', 2, '10 seconds');
SELECT baton.create_queue('tap_priv_hj1', '30 seconds', 1, '10 seconds');
SELECT baton.create_queue('tap_priv_hj', '30 seconds', 3, '10 seconds');  -- the update path
CREATE TEMP TABLE hj_e1 AS SELECT baton.enqueue('tap_priv_hj', '{"n": 1}', NULL, 5, 'tap-hj-key') AS id;
CREATE TEMP TABLE hj_e1b AS SELECT baton.enqueue('tap_priv_hj', '{"n": 1.5}', NULL, 5, 'tap-hj-key') AS id;
CREATE TEMP TABLE hj_e1c AS SELECT baton.enqueue('tap_priv_hj', '{"n": 1.7}', NULL, 5, 'tap-hj-key', NULL, 'replace') AS id;
CREATE TEMP TABLE hj_e2 AS SELECT baton.enqueue('tap_priv_hj', '{"n": 2}') AS id;
CREATE TEMP TABLE hj_e3 AS SELECT baton.enqueue('tap_priv_hj', '{"n": 3}', '2100-01-01') AS id;
CREATE TEMP TABLE hj_e4 AS SELECT baton.enqueue('tap_priv_hj1', '{"n": 4}') AS id;
CREATE TEMP TABLE hj_c1 AS SELECT * FROM baton.claim('tap_priv_hj', 'tap-hj-worker');
CREATE TEMP TABLE hj_hb AS SELECT * FROM baton.heartbeat('tap-hj-worker', '1 minute');
CREATE TEMP TABLE hj_rn AS SELECT baton.renew(id, lease_token, '2 minutes') AS expires FROM hj_c1;
CREATE TEMP TABLE hj_cp AS SELECT baton.complete(id, lease_token, '{"ok": 1}') AS ok FROM hj_c1;
CREATE TEMP TABLE hj_cp2 AS SELECT baton.complete(id, lease_token) AS ok FROM hj_c1;
CREATE TEMP TABLE hj_c2 AS SELECT * FROM baton.claim('tap_priv_hj', 'tap-hj-worker', 5);
CREATE TEMP TABLE hj_fl AS SELECT baton.fail(id, lease_token, 'boom') AS state FROM hj_c2;
CREATE TEMP TABLE hj_c4 AS SELECT * FROM baton.claim('tap_priv_hj1', 'tap-hj-worker', 1, '50 milliseconds');
SELECT pg_sleep(0.2);
CREATE TEMP TABLE hj_c4b AS SELECT * FROM baton.claim('tap_priv_hj1', 'tap-hj-worker');  -- buries the job
CREATE TEMP TABLE hj_cx AS SELECT baton.cancel(id) AS ok FROM hj_e3;
CREATE TEMP TABLE hj_rt AS SELECT baton.retry(id) AS ok FROM hj_e3;
CREATE TEMP TABLE hj_rt4 AS SELECT baton.retry(id) AS ok FROM hj_e4;
CREATE TEMP TABLE hj_pg AS SELECT baton.purge('tap_priv_hj', '0 seconds') AS n;
DO $$
BEGIN
    BEGIN
        PERFORM baton.purge('tap_priv_nosuch', '1 day');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('purge of an unknown queue', SQLSTATE);
    END;
    BEGIN
        PERFORM baton.create_queue('bad name!');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('create_queue with a bad name', SQLSTATE);
    END;
    BEGIN
        PERFORM baton.create_queue('tap_priv_hj', '-1 second');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('create_queue with a negative lease', SQLSTATE);
    END;
    BEGIN
        PERFORM baton.drop_queue('tap_priv_hj');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('drop_queue of a queue with ready jobs', SQLSTATE);
    END;
    BEGIN
        PERFORM * FROM baton.claim('tap_priv_nosuch', 'tap-hj-worker');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('claim from an unknown queue', SQLSTATE);
    END;
    BEGIN
        PERFORM baton.enqueue('tap_priv_nosuch');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hj_errors VALUES ('enqueue into an unknown queue', SQLSTATE);
    END;
END $$;
SELECT baton.drop_queue('tap_priv_hj1', true);
-- Batches, concurrency keys, semaphores, key locks, sorted upsert.
SELECT baton.create_queue('tap_priv_hj2', '30 seconds', 3, '10 seconds');
CREATE TEMP TABLE hj_b AS
    SELECT * FROM baton.enqueue_batch('tap_priv_hj2',
        '[{"unique_key": "b"}, {"unique_key": "a", "concurrency_key": "tap-hj-ck"}, {"unique_key": "b"}, {"payload": {"x": 1}}]');
CREATE TEMP TABLE hj_b2 AS
    SELECT * FROM baton.enqueue_batch('tap_priv_hj2', '[{"unique_key": "a", "priority": 9, "concurrency_key": "tap-hj-ck"}]', 'replace');
SELECT baton.set_limit('tap-hj-ck', 1);
CREATE TEMP TABLE hj_k1 AS SELECT * FROM baton.claim('tap_priv_hj2', 'tap-hj-w2');
CREATE TEMP TABLE hj_k2 AS
    SELECT c.* FROM hj_k1 k, baton.complete_and_claim(ARRAY[k.id], ARRAY[k.lease_token], 'tap_priv_hj2', 'tap-hj-w2', 5) c;
CREATE TEMP TABLE hj_k3 AS SELECT baton.complete_batch(array_agg(id), array_agg(lease_token)) AS id FROM hj_k2;
CREATE TEMP TABLE hj_s1 AS SELECT baton.acquire('tap-hj-sem', 'tap-hj-owner', '1 minute') AS token;
CREATE TEMP TABLE hj_s2 AS
    SELECT baton.extend('tap-hj-sem', token, '2 minutes') AS extended,
           (SELECT array_agg(h.key ORDER BY h.key) FROM baton.holders h) AS holders
      FROM hj_s1;
CREATE TEMP TABLE hj_s3 AS SELECT baton.release('tap-hj-sem', token) AS released FROM hj_s1;
SELECT baton.lock_key('tap-hj-lock');
CREATE TEMP TABLE hj_l1 AS
    SELECT baton.key_holder('tap-hj-lock') AS holder, pg_backend_pid() AS me,
           baton.try_lock_key('tap-hj-lock2') AS tried,
           baton.try_lock_keys(ARRAY['tap-hj-lock5', 'tap-hj-lock6']) AS tried_many;
SELECT baton.lock_keys(ARRAY['tap-hj-lock3', 'tap-hj-lock4'], '1 second');
CREATE TEMP TABLE hj_u AS
    SELECT * FROM baton.sorted_upsert('baton_tap_evil.up', ARRAY['k'], '[{"k": 2, "v": 1}, {"k": 1, "v": 1}, {"k": 2, "v": 3}]');
CREATE TEMP TABLE hj_u2 AS
    SELECT * FROM baton.sorted_upsert('baton_tap_evil.up', ARRAY['k'], '[{"k": 1, "v": 5}]', ARRAY['v']);
RESET search_path;
RESET ROLE;
DROP TRIGGER tap_hj_spy ON baton._jobs;

SELECT is((SELECT string_agg(DISTINCT what, ', ') FROM baton_tap_evil.calls), NULL,
          'no planted operator, function or relation was called by any queue function');
SELECT is((SELECT string_agg(DISTINCT op, ', ' ORDER BY op) FROM public.tap_hj_fired), 'INSERT, UPDATE',
          'the row trigger on baton._jobs fired for inserts and updates (under the pinned search_path)');
SELECT is((SELECT id FROM hj_c1), (SELECT id FROM hj_e1), 'hijack attempt: claim took the right job');
SELECT is((SELECT id FROM hj_e1b), (SELECT id FROM hj_e1), 'hijack attempt: enqueue with a taken unique_key kept the job');
SELECT is((SELECT id FROM hj_e1c), (SELECT id FROM hj_e1), 'hijack attempt: enqueue replace updated the same job');
SELECT is((SELECT payload FROM hj_c1), '{"n": 1.7}'::jsonb,
          'hijack attempt: the replaced payload is the one claimed');
SELECT results_eq($$SELECT id FROM hj_hb$$, $$SELECT id FROM hj_c1$$,
                  'hijack attempt: heartbeat extended exactly the worker''s job');
SELECT ok((SELECT expires > clock_timestamp() + interval '100 seconds' FROM hj_rn),
          'hijack attempt: renew returned an expiry 2 minutes ahead (the real clock)');
SELECT is((SELECT ok FROM hj_cp), true, 'hijack attempt: complete returned true');
SELECT is((SELECT ok FROM hj_cp2), false, 'hijack attempt: the second complete returned false');
SELECT results_eq($$SELECT id FROM hj_c2$$, $$SELECT id FROM hj_e2$$,
                  'hijack attempt: the second claim took only the due job');
SELECT is((SELECT state FROM hj_fl), 'ready', 'hijack attempt: fail returned ready');
SELECT ok((SELECT run_at BETWEEN clock_timestamp() + interval '5 seconds' AND clock_timestamp() + interval '11 seconds'
             FROM baton.jobs WHERE id = (SELECT id FROM hj_e2)),
          'hijack attempt: the back-off of fail used the real clock and retry_base');
SELECT is((SELECT count(*) FROM hj_c4), 1::bigint, 'hijack attempt: claim with a short lease took the job');
SELECT is((SELECT count(*) FROM hj_c4b), 0::bigint, 'hijack attempt: the claim past max_attempts returned nothing');
SELECT is((SELECT ok FROM hj_cx), true, 'hijack attempt: cancel returned true');
SELECT is((SELECT ok FROM hj_rt), true, 'hijack attempt: retry returned true');
SELECT is((SELECT ok FROM hj_rt4), true, 'hijack attempt: retry of the buried job returned true');
SELECT is((SELECT n FROM hj_pg), 1::bigint, 'hijack attempt: purge removed the completed job');
SELECT results_eq($$SELECT what, sqlstate FROM hj_errors ORDER BY what$$,
                  $$VALUES ('claim from an unknown queue', '42704'),
                           ('create_queue with a bad name', '22023'),
                           ('create_queue with a negative lease', '22023'),
                           ('drop_queue of a queue with ready jobs', '55006'),
                           ('enqueue into an unknown queue', '42704'),
                           ('purge of an unknown queue', '42704')$$,
                  'hijack attempt: the error paths raised their own SQLSTATEs');
SELECT results_eq($$SELECT id, state, attempt FROM baton.jobs WHERE queue = 'tap_priv_hj' ORDER BY id$$,
                  $$SELECT * FROM (VALUES ((SELECT id FROM hj_e2), 'ready'::text, 1),
                                          ((SELECT id FROM hj_e3), 'ready'::text, 0)) v ORDER BY 1$$,
                  'hijack attempt: the jobs are exactly where the calls put them');
SELECT row_eq($$SELECT lease, max_attempts, retry_base FROM baton._queues WHERE queue = 'tap_priv_hj'$$,
              ROW(interval '30 seconds', 3, interval '10 seconds'),
              'hijack attempt: create_queue stored the settings it was given');
SELECT is((SELECT count(*) FROM baton._queues WHERE queue = 'tap_priv_hj1'), 0::bigint,
          'hijack attempt: drop_queue with force dropped the queue');
SELECT results_eq($$SELECT ord, inserted FROM hj_b ORDER BY ord$$,
                  $$VALUES (1, true), (2, true), (3, false), (4, true)$$,
                  'hijack attempt: enqueue_batch inserted the first occurrence of each key');
SELECT is((SELECT id FROM hj_b WHERE ord = 3), (SELECT id FROM hj_b WHERE ord = 1),
          'hijack attempt: a repeated key in a batch reports the first one''s id');
SELECT row_eq($$SELECT id, inserted FROM hj_b2$$, ROW((SELECT id FROM hj_b WHERE ord = 2), false),
              'hijack attempt: enqueue_batch replace updated the holder of the key');
SELECT is((SELECT id FROM hj_k1), (SELECT id FROM hj_b WHERE ord = 2),
          'hijack attempt: claim took the job the replace raised to priority 9');
SELECT bag_eq($$SELECT id FROM hj_k2$$, $$SELECT id FROM hj_b WHERE ord IN (1, 4)$$,
              'hijack attempt: complete_and_claim claimed the two other jobs');
SELECT is((SELECT state FROM baton.jobs WHERE id = (SELECT id FROM hj_k1)), 'completed',
          'hijack attempt: complete_and_claim completed the first job');
SELECT bag_eq($$SELECT id FROM hj_k3$$, $$SELECT id FROM hj_k2$$,
              'hijack attempt: complete_batch completed both');
SELECT is((SELECT slots FROM baton._limits WHERE key = 'tap-hj-ck'), 1, 'hijack attempt: set_limit stored the limit');
SELECT isnt((SELECT token FROM hj_s1), NULL, 'hijack attempt: acquire returned a token');
SELECT row_eq($$SELECT extended, 'tap-hj-sem' = ANY (holders) FROM hj_s2$$, ROW(true, true),
              'hijack attempt: extend extended the slot, baton.holders shows it');
SELECT is((SELECT released FROM hj_s3), true, 'hijack attempt: release released the slot');
SELECT row_eq($$SELECT holder = me, tried, tried_many FROM hj_l1$$, ROW(true, true, true),
              'hijack attempt: lock_key, key_holder, try_lock_key and try_lock_keys worked');
SELECT is(baton.key_holder('tap-hj-lock4'), pg_backend_pid(), 'hijack attempt: lock_keys took its keys');
SELECT results_eq($$SELECT ord, inserted FROM hj_u ORDER BY ord$$, $$VALUES (1, true), (2, true), (3, false)$$,
                  'hijack attempt: sorted_upsert reported each row');
SELECT results_eq($$SELECT ord, inserted FROM hj_u2$$, $$VALUES (1, false)$$,
                  'hijack attempt: sorted_upsert updated an existing row');
SELECT results_eq($$SELECT k, v FROM baton_tap_evil.up ORDER BY k$$, $$VALUES (1, 5), (2, 1)$$,
                  'hijack attempt: sorted_upsert wrote the right rows');

-- The vacuum worker's settings are a superuser's (docs/security.md).
SET ROLE baton_worker;
SELECT throws_ok($$SET baton.vacuum_worker = on$$, '42501', NULL,
                 'a worker role cannot turn the vacuum worker on');
SELECT throws_ok($$SET baton.vacuum_threshold = 100$$, '42501', NULL,
                 'a worker role cannot change the vacuum threshold');
RESET ROLE;
SELECT throws_ok($$SET baton.vacuum_threshold = 99$$, '22023', NULL,
                 'a vacuum threshold below 100 is refused');
SELECT throws_ok($$SET baton.vacum_worker = on$$, '42602', NULL,
                 'a misspelt baton setting is refused (the prefix is reserved)');
SELECT lives_ok($$SET LOCAL baton.vacuum_threshold = 100$$, 'a superuser sets the vacuum threshold');

SELECT * FROM finish();
ROLLBACK;
