// baton's own lock space in the lock manager: advisory locktags whose fourth
// field PostgreSQL never uses (pg_advisory_* uses 1 and 2), so baton's locks
// and the application's advisory locks can never collide.
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "storage/lock.h"
}

namespace baton::keylock {

enum class Space : uint16 {
    user_key = 16980,   // lock_key() and friends (pg_locks.objsubid)
    semaphore = 16981,  // serializes the slot count of one semaphore key
    queue = 16982,      // enqueuers share it, drop_queue takes it alone
    parking = 16983,    // claims that park share it, wakers wait for them
    token_floor = 16984,  // backends raising the token floor take turns
    retention = 16985,    // one backend at a time deletes a queue's expired finished jobs
    waiter = 16986,       // sessions idle on a queue hold it shared (session level)
    gate = 16987,         // notifying commits share it; a session registering idle waits for them
    vacuum_worker = 16988,  // a database's vacuum worker holds it (session level) while it runs
    vacuum_launch = 16989,  // the backend that starts a vacuum worker holds it until the worker runs
};

// The lock tag of a key: database, 64-bit hash of the key bytes, space.
// Distinct keys with equal hashes share a lock: more exclusion, never less.
LOCKTAG tag(Space space, const char *key, int len);

// Transaction-scoped lock; false when it would have to wait.
bool try_acquire(const LOCKTAG &t, LOCKMODE mode = ExclusiveLock);

// Waits as long as lock_timeout allows (ERROR 55P03 when it runs out).
void acquire(const LOCKTAG &t, LOCKMODE mode = ExclusiveLock);

void release(const LOCKTAG &t, LOCKMODE mode = ExclusiveLock);

// A queue's guard: enqueuers hold it shared until they commit, so that
// drop_queue, which takes it exclusively, never leaves a job behind in a
// queue it dropped, and waits only for writers of that one queue.
void share_queue(Datum queue_text);
LOCKTAG queue_tag(Datum queue_text);

} // namespace baton::keylock
