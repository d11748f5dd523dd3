-- sorted_upsert follows the unique index that decides the conflict (docs/contract.md
-- "Sorted upsert into your own tables", docs/batch.md): it writes the rows in
-- that index's key order, whatever order conflict_columns names them in, and
-- deduplicates and matches them with that index's operators and collations,
-- schema-qualified, so that a key of any type with a btree operator class
-- works under its pinned search_path (pg_catalog, pg_temp): a type of an
-- extension in another schema, a domain over it, a nondeterministic
-- collation. Without such an index it fails with 42P10, as ON CONFLICT does.
-- It checks the caller's privileges before it reads its rows (and before it
-- locks the table: test/isolation/specs/sorted_upsert_checks_privileges_before_locking.spec),
-- and a table that is gone is 42P01.
BEGIN;
SELECT plan(34);

-- A call's result as text, "ord:inserted" in input order, or its error as
-- "SQLSTATE: message", so that a call that fails fails its own test only.
CREATE FUNCTION pg_temp.up(target regclass, cols text[], rows jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    SELECT string_agg(u.ord || ':' || CASE WHEN u.inserted THEN 't' ELSE 'f' END, ' ' ORDER BY n) INTO result
      FROM baton.sorted_upsert(target, cols, rows) WITH ORDINALITY AS u(ord, inserted, n);
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-------------------------------------------------------------------------------
-- Keys whose type and operators live outside pg_catalog.
-------------------------------------------------------------------------------
CREATE SCHEMA tap_su_types;
CREATE EXTENSION hstore SCHEMA tap_su_types;
CREATE EXTENSION citext SCHEMA tap_su_types;
CREATE DOMAIN tap_su_types.tag AS tap_su_types.hstore;
CREATE TABLE tap_su_h (k tap_su_types.hstore PRIMARY KEY, v int);
CREATE TABLE tap_su_d (k tap_su_types.tag PRIMARY KEY, v int);
CREATE TABLE tap_su_c (k tap_su_types.citext PRIMARY KEY, v int);

SELECT is(pg_temp.up('tap_su_h', '{k}',
                    '[{"k": "a=>1", "v": 1}, {"k": "b=>2", "v": 2}, {"k": "a=>1", "v": 3}]'),
          '1:t 2:t 3:f',
                  'an hstore key (its = is in schema tap_su_types): the first occurrence counts');
SELECT is(pg_temp.up('tap_su_h', '{k}', '[{"k": "b=>2", "v": 9}]'),
          '1:f', 'an existing hstore key is updated');
SELECT results_eq($$SELECT k::text, v FROM tap_su_h ORDER BY v$$,
                  $$VALUES ('"a"=>"1"', 1), ('"b"=>"2"', 9)$$, 'the hstore rows');
SELECT is(pg_temp.up('tap_su_d', '{k}',
                    '[{"k": "a=>1", "v": 1}, {"k": "a=>1", "v": 2}, {"k": "c=>3", "v": 3}]'),
          '1:t 2:f 3:t',
                  'a key of a domain over hstore');
SELECT is(pg_temp.up('tap_su_c', '{k}',
                    '[{"k": "Abc", "v": 1}, {"k": "aBC", "v": 2}, {"k": "x", "v": 3}]'),
          '1:t 2:f 3:t',
                  'a citext key: keys equal as citext sees them are one key');
SELECT is(pg_temp.up('tap_su_c', '{k}', '[{"k": "ABC", "v": 4}]'),
          '1:f', 'an existing citext key in other case is updated');
SELECT results_eq($$SELECT k::text, v FROM tap_su_c ORDER BY v$$,
                  $$VALUES ('x', 3), ('Abc', 4)$$, 'the citext rows');

-------------------------------------------------------------------------------
-- A nondeterministic collation, on the index or on the column: 'a' and 'A'
-- are one key; the first occurrence counts, with no "ON CONFLICT DO UPDATE
-- command cannot affect row a second time".
-------------------------------------------------------------------------------
CREATE COLLATION tap_su_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE tap_su_ci_index (k text NOT NULL, v int);
CREATE UNIQUE INDEX ON tap_su_ci_index (k COLLATE tap_su_ci);
CREATE TABLE tap_su_ci_column (k text COLLATE tap_su_ci PRIMARY KEY, v int);

SELECT is(pg_temp.up('tap_su_ci_index', '{k}',
                    '[{"k": "a", "v": 1}, {"k": "A", "v": 2}, {"k": "b", "v": 3}]'),
          '1:t 2:f 3:t',
                  'a unique index with a nondeterministic collation: ''a'' counts, ''A'' reports inserted = false');
SELECT is(pg_temp.up('tap_su_ci_index', '{k}', '[{"k": "B", "v": 4}]'),
          '1:f', '... and ''B'' updates ''b''');
SELECT results_eq($$SELECT k, v FROM tap_su_ci_index ORDER BY v$$, $$VALUES ('a', 1), ('b', 4)$$,
                  'the rows under the index with a nondeterministic collation');
SELECT is(pg_temp.up('tap_su_ci_column', '{k}',
                    '[{"k": "a", "v": 1}, {"k": "A", "v": 2}, {"k": "b", "v": 3}]'),
          '1:t 2:f 3:t',
                  'a column with a nondeterministic collation: ''a'' counts, ''A'' reports inserted = false');
SELECT results_eq($$SELECT k COLLATE "default", v FROM tap_su_ci_column ORDER BY v$$, $$VALUES ('a', 1), ('b', 3)$$,
                  'the rows under the column with a nondeterministic collation');

-------------------------------------------------------------------------------
-- Write order: the index's key order, not the order of conflict_columns. A
-- BEFORE INSERT trigger logs every row as the INSERT proposes it (before its
-- conflict is checked and its row locked).
-------------------------------------------------------------------------------
CREATE TABLE tap_su_log (n serial, a int, b int);
CREATE FUNCTION tap_su_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tap_su_log (a, b) VALUES (NEW.a, NEW.b);
    RETURN NEW;
END $$;
CREATE TABLE tap_su_ab (a int NOT NULL, b int NOT NULL, v text, UNIQUE (a, b));
CREATE TABLE tap_su_ba (a int NOT NULL, b int NOT NULL, v text, UNIQUE (b, a));
CREATE TRIGGER tap_su_ab_log BEFORE INSERT ON tap_su_ab FOR EACH ROW EXECUTE FUNCTION tap_su_log_row();
CREATE TRIGGER tap_su_ba_log BEFORE INSERT ON tap_su_ba FOR EACH ROW EXECUTE FUNCTION tap_su_log_row();

SELECT is(pg_temp.up('tap_su_ab', '{b,a}',
                    '[{"a": 3, "b": 1, "v": "x"}, {"a": 1, "b": 3, "v": "x"}, {"a": 2, "b": 2, "v": "x"}]'),
          '1:t 2:t 3:t', 'UNIQUE (a, b), conflict_columns {b,a}');
SELECT is((SELECT string_agg(a || '' || b, ' ' ORDER BY n) FROM tap_su_log), '13 22 31',
          '... the rows are written in (a, b) order');
DELETE FROM tap_su_log;
SELECT is(pg_temp.up('tap_su_ab', '{b,a}',
                    '[{"a": 3, "b": 1, "v": "y"}, {"a": 1, "b": 3, "v": "y"}, {"a": 2, "b": 2, "v": "y"}]'),
          '1:f 2:f 3:f', 'UNIQUE (a, b), conflict_columns {b,a}, existing rows');
SELECT is((SELECT string_agg(a || '' || b, ' ' ORDER BY n) FROM tap_su_log), '13 22 31',
          '... the rows are updated in (a, b) order');
DELETE FROM tap_su_log;
SELECT is(pg_temp.up('tap_su_ba', '{a,b}',
                    '[{"a": 1, "b": 3, "v": "x"}, {"a": 3, "b": 1, "v": "x"}, {"a": 2, "b": 2, "v": "x"}]'),
          '1:t 2:t 3:t', 'UNIQUE (b, a), conflict_columns {a,b}');
SELECT is((SELECT string_agg(a || '' || b, ' ' ORDER BY n) FROM tap_su_log), '31 22 13',
          '... the rows are written in (b, a) order');

-------------------------------------------------------------------------------
-- Which indexes can decide: unique, valid, not partial, on plain columns
-- (INCLUDE columns do not count), as PostgreSQL's ON CONFLICT infers them.
-------------------------------------------------------------------------------
CREATE TABLE tap_su_idx (k int NOT NULL, j int NOT NULL, v int);
CREATE INDEX ON tap_su_idx (k);
CREATE UNIQUE INDEX ON tap_su_idx (k) WHERE k > 0;
CREATE UNIQUE INDEX ON tap_su_idx ((k + 0));
CREATE UNIQUE INDEX ON tap_su_idx (j) INCLUDE (v);
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_su_idx', '{k}', '[{"k": 1, "j": 1}]')$$, '42P10', NULL,
                 'no unique, non-partial index on exactly the conflict columns: 42P10');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_su_idx', '{j,k}', '[{"k": 1, "j": 1}]')$$, '42P10', NULL,
                 'a unique index on some of the conflict columns does not decide them: 42P10');
SELECT is(pg_temp.up('tap_su_idx', '{j}',
                    '[{"k": 1, "j": 1, "v": 1}, {"k": 2, "j": 1, "v": 2}]'),
          '1:t 2:f', 'a unique index with INCLUDE columns decides its key columns');

-------------------------------------------------------------------------------
-- Privileges, checked before the rows are read: a role that may not write
-- the table gets 42501 even for rows that are not an array (22023 for a role
-- that may). A relation that does not exist is 42P01.
-------------------------------------------------------------------------------
CREATE TABLE tap_su_priv (k int PRIMARY KEY, v int, w int);
CREATE SCHEMA tap_su_priv_s;
CREATE TABLE tap_su_priv_s.hidden (k int PRIMARY KEY, v int);
CREATE TABLE tap_su_out (step text, ord int, inserted boolean);
CREATE ROLE baton_tap_su_none;
CREATE ROLE baton_tap_su_cols;
CREATE ROLE baton_tap_su_noxmax;
CREATE ROLE baton_tap_su_noupd;
GRANT USAGE ON SCHEMA baton TO baton_tap_su_none, baton_tap_su_cols, baton_tap_su_noxmax, baton_tap_su_noupd;
GRANT EXECUTE ON FUNCTION baton.sorted_upsert(regclass, text[], jsonb, text[])
    TO baton_tap_su_none, baton_tap_su_cols, baton_tap_su_noxmax, baton_tap_su_noupd;
GRANT INSERT ON tap_su_out TO baton_tap_su_none, baton_tap_su_cols, baton_tap_su_noxmax, baton_tap_su_noupd;
-- Column privileges: SELECT on the key, the updated column (read as
-- EXCLUDED.v) and xmax; INSERT on k and v; UPDATE on v.
GRANT SELECT (k, v, xmax), INSERT (k, v), UPDATE (v) ON tap_su_priv TO baton_tap_su_cols;
GRANT SELECT (k), INSERT, UPDATE ON tap_su_priv TO baton_tap_su_noxmax;
GRANT SELECT, INSERT ON tap_su_priv, tap_su_priv_s.hidden TO baton_tap_su_noupd;

SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_none;
                   SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '[{"k": 1, "v": 1}]')$$, '42501',
                 'baton: permission denied for table public.tap_su_priv: sorted_upsert needs INSERT',
                 'no privilege on the table: 42501, naming the table');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_none;
                   SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '"not an array"')$$, '42501', NULL,
                 'no privilege on the table: 42501 before the rows are read');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '"not an array"')$$, '22023', NULL,
                 '... (with the privileges, those rows are 22023)');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_noupd;
                   SELECT * FROM baton.sorted_upsert((SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                                         WHERE n.nspname = 'tap_su_priv_s' AND c.relname = 'hidden'),
                                                       '{k}', '[{"k": 1}]')$$,
                 '42501', 'baton: permission denied for table tap_su_priv_s.hidden: sorted_upsert needs USAGE on its schema',
                 'no USAGE on the table''s schema (the table named by OID): 42501');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_noupd;
                   SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '[{"k": 1, "v": 1}]', '{v}')$$, '42501',
                 'baton: permission denied for table public.tap_su_priv: sorted_upsert needs UPDATE (update_columns is not empty)',
                 'no UPDATE while update_columns names a column: 42501');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_noxmax;
                   SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '[{"k": 1, "v": 1}]')$$, '42501',
                 'baton: permission denied for table public.tap_su_priv: sorted_upsert needs SELECT on it, or on its conflict columns, update columns and xmax',
                 'SELECT on the conflict column but not on xmax: 42501 (RETURNING reads xmax)');
SELECT lives_ok($$SET LOCAL ROLE baton_tap_su_cols;
                  INSERT INTO tap_su_out SELECT 'cols', * FROM baton.sorted_upsert('tap_su_priv', '{k}',
                    '[{"k": 1, "v": 1}, {"k": 2, "v": 2}]');
                  INSERT INTO tap_su_out SELECT 'cols again', * FROM baton.sorted_upsert('tap_su_priv', '{k}',
                    '[{"k": 2, "v": 20}, {"k": 3, "v": 3}]');
                  RESET ROLE$$,
                'column privileges suffice: SELECT on the conflict and update columns and xmax, INSERT and UPDATE on the fields');
SELECT results_eq($$SELECT step, ord, inserted FROM tap_su_out ORDER BY step, ord$$,
                  $$VALUES ('cols', 1, true), ('cols', 2, true), ('cols again', 1, false), ('cols again', 2, true)$$,
                  '... and report what they did');
SELECT throws_ok($$SET LOCAL ROLE baton_tap_su_cols;
                   SELECT * FROM baton.sorted_upsert('tap_su_priv', '{k}', '[{"k": 1, "w": 1}]')$$, '42501', NULL,
                 'a field the role may not insert: 42501');
SELECT lives_ok($$SET LOCAL ROLE baton_tap_su_noupd;
                  INSERT INTO tap_su_out SELECT 'noupd', * FROM baton.sorted_upsert('tap_su_priv', '{k}',
                    '[{"k": 3, "v": 30}, {"k": 4, "v": 4}]', '{}');
                  INSERT INTO tap_su_out SELECT 'noupd keys', * FROM baton.sorted_upsert('tap_su_priv', '{k}',
                    '[{"k": 4}, {"k": 5}]');
                  RESET ROLE$$,
                'DO NOTHING (update_columns {}, or only conflict columns) needs no UPDATE');
SELECT results_eq($$SELECT k, v FROM tap_su_priv ORDER BY k$$,
                  $$VALUES (1, 1), (2, 20), (3, 3), (4, 4), (5, NULL)$$, 'the rows the roles wrote');
SELECT throws_ok($$SELECT * FROM baton.sorted_upsert(4294967295::oid::regclass, '{k}', '[{"k": 1}]')$$, '42P01', NULL,
                 'a relation that does not exist: 42P01');
SELECT is(current_user::text, session_user::text, 'every role switch ended');

SELECT * FROM finish();
ROLLBACK;
