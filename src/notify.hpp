// Wake-ups: a commit that made a job of a queue due now sends
// NOTIFY "<channel of the queue>", '<queue>' only when some session waits
// for that queue, so that producers pay for a wake-up only when one is
// needed (a notifying commit takes a cluster-wide lock to its end).
//
// A session waits by calling listen(queue) (LISTEN on the queue's channel):
// from then on a claim of that queue that finds nothing registers the
// session as idle (a session-level ShareLock on the queue's waiter tag) and
// claims again; a claim that gets jobs unregisters it. A producer's commit
// looks for a registered session (it tries the waiter tag exclusively) and
// notifies only when it finds one. The gate tag closes the gap between the
// two: producers hold it shared from that check to the end of their commit,
// and a session registering waits for it exclusively before it claims
// again, so a job committed without a notification is seen by that claim.
#pragma once

#include "pg_boundary.hpp"

namespace baton::notify {

// Defines baton.notify and the commit callback; called once, when the
// library is loaded (_PG_init).
void define_settings();

// This transaction made a job of the queue due now: at its commit, notify
// the queue's waiting sessions (once per queue and transaction).
void due(Datum queue_text);

// A claim of the queue found nothing. True when this session listens to the
// queue and has just registered as idle: the caller claims once more.
bool idle(Datum queue_text);

// A claim of the queue got jobs: the session is no longer idle on it.
void busy(Datum queue_text);

} // namespace baton::notify
