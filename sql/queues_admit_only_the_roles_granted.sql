-- A queue is open to every role with EXECUTE on the functions until
-- grant_queue restricts it; then only members of the roles granted it may
-- enqueue to it (produce) or claim from it (work), with 42501 for others;
-- other queues stay open; unrestrict_queue opens it again.
SELECT baton.create_queue('acl_a', lease => '1 hour');
SELECT baton.create_queue('acl_b', lease => '1 hour');
CREATE ROLE acl_producer;
CREATE ROLE acl_worker;
CREATE ROLE acl_team;                  -- granted acl_a as a group
CREATE ROLE acl_member IN ROLE acl_team;
GRANT USAGE ON SCHEMA baton TO acl_producer, acl_worker, acl_member;
GRANT EXECUTE ON FUNCTION baton.enqueue(text, jsonb, timestamptz, int, text, text, text),
    baton.enqueue_batch(text, jsonb, text) TO acl_producer, acl_member;
GRANT EXECUTE ON FUNCTION baton.claim(text, text, int, interval),
    baton.complete(bigint, bigint, jsonb) TO acl_worker, acl_member;
SELECT baton.grant_queue('acl_a', 'acl_producer', produce => true, work => false);
SELECT baton.grant_queue('acl_a', 'acl_team');
SET ROLE acl_producer;
SELECT baton.enqueue('acl_a', '{"by": "producer"}') > 0 AS producer_enqueues_to_a;
SELECT baton.enqueue('acl_b', '{"open": true}') > 0 AS b_is_open;
SELECT count(*) FROM baton.enqueue_batch('acl_a', '[{"payload": {"batch": 1}}]');
RESET ROLE;
SET ROLE acl_worker;
SELECT count(*) FROM baton.claim('acl_a', 'w');  -- not granted acl_a
SELECT count(*) AS worker_claims_from_b FROM baton.claim('acl_b', 'w');
RESET ROLE;
SET ROLE acl_member;
SELECT count(*) AS member_claims_from_a FROM baton.claim('acl_a', 'w', 10);
SELECT baton.enqueue('acl_a', '{"by": "member"}') > 0 AS member_enqueues_to_a;
RESET ROLE;
SELECT baton.revoke_queue('acl_a', 'acl_producer') AS revoked;
SET ROLE acl_producer;
SELECT baton.enqueue('acl_a', '{"by": "producer"}');  -- revoked: refused
RESET ROLE;
SELECT baton.unrestrict_queue('acl_a');
SET ROLE acl_worker;
SELECT count(*) AS worker_claims_after_unrestrict FROM baton.claim('acl_a', 'w', 10);
RESET ROLE;
SELECT baton.grant_queue('no_such_queue', 'acl_team');
SELECT baton.drop_queue(q, force => true) FROM unnest(ARRAY['acl_a', 'acl_b']) q;
SELECT count(*) AS access_rows_left FROM baton._queue_access;
REVOKE ALL ON FUNCTION baton.enqueue(text, jsonb, timestamptz, int, text, text, text),
    baton.enqueue_batch(text, jsonb, text), baton.claim(text, text, int, interval),
    baton.complete(bigint, bigint, jsonb) FROM acl_producer, acl_worker, acl_member;
REVOKE ALL ON SCHEMA baton FROM acl_producer, acl_worker, acl_member;
DROP ROLE acl_member, acl_team, acl_producer, acl_worker;
