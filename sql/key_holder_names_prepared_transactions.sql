-- key_holder names every holder of a key lock, a prepared transaction
-- included: a transaction prepared while it held the key keeps holding it
-- until COMMIT PREPARED or ROLLBACK PREPARED, and key_holder reports it as
-- pid 0, as pg_blocking_pids does (it has no backend). Nobody else can take
-- the key meanwhile. Needs max_prepared_transactions > 0.
BEGIN;
SELECT baton.lock_key('kh-prepared');
PREPARE TRANSACTION 'baton_kh_prepared';

SELECT baton.key_holder('kh-prepared') AS holder;
SELECT baton.try_lock_key('kh-prepared') AS taken;
SELECT count(*) AS prepared_locks FROM pg_locks
 WHERE locktype = 'advisory' AND objsubid = 16980 AND pid IS NULL AND granted;

ROLLBACK PREPARED 'baton_kh_prepared';
SELECT baton.key_holder('kh-prepared') AS holder;
SELECT baton.try_lock_key('kh-prepared') AS taken;
