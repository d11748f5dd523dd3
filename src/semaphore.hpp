// Durable per-key semaphores. A key has `slots` (default 1, set_limit); a
// slot is held by an explicit holder (acquire) or by a running job whose
// concurrency_key is the key, each until it ends or its lease/ttl expires.
#pragma once

#include "pg_boundary.hpp"

namespace baton::semaphore {

// Serializes slot decisions for one key until the transaction ends.
// try_guard never waits (claim); guard waits as lock_timeout allows.
bool try_guard(const char *key, int len);
void guard(const char *key, int len);
// Lets go of a guard before the transaction ends: only when this
// transaction decided nothing for the key (claim found it full).
void release_guard(const char *key, int len);

// Free slots of the key now (never negative). SPI must be connected and the
// key guarded, so that the count's snapshot postdates every earlier decision.
int64 free_slots(Datum key_text, TimestampTz now);

} // namespace baton::semaphore
