-- Every function, view and table of schema baton that users call or read
-- has a COMMENT (what \df+ and \dv+ show); internal helpers start with "_".
SELECT p.proname AS function_without_comment
  FROM pg_proc p
 WHERE p.pronamespace = 'baton'::regnamespace AND p.proname NOT LIKE '\_%'
   AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.relname AS relation_without_comment
  FROM pg_class c
 WHERE c.relnamespace = 'baton'::regnamespace AND c.relkind IN ('r', 'v')
   AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT count(*) AS commented_functions
  FROM pg_proc p
 WHERE p.pronamespace = 'baton'::regnamespace AND p.proname NOT LIKE '\_%';
