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
};

// The lock tag of a key: database, 64-bit hash of the key bytes, space.
// Distinct keys with equal hashes share a lock: more exclusion, never less.
LOCKTAG tag(Space space, const char *key, int len);

// Transaction-scoped exclusive lock; false when it would have to wait.
bool try_acquire(const LOCKTAG &t);

// Waits as long as lock_timeout allows (ERROR 55P03 when it runs out).
void acquire(const LOCKTAG &t);

void release(const LOCKTAG &t);

} // namespace baton::keylock
