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

// The slots of a key now: how many are free (never negative) and, when
// none is, the earliest moment one may free by itself (a lease or ttl
// ending; DT_NOEND when none will: slots = 0). SPI must be connected and the
// key guarded, so that the count's snapshot postdates every earlier decision.
struct Slots {
    int64 free;
    TimestampTz until;
};
Slots free_slots(Datum key_text, TimestampTz now);

// Parking and waking. A claim that finds a key full parks the key's ready
// jobs it meets; a call that frees a slot (complete, fail, cancel, release,
// set_limit) wakes parked jobs of the key. A wake must never miss a park
// decided before its slot was freed but committed after its wake looked: so
// a claim parks only under the key's parking lock, taken shared (try only,
// never waiting) and held to commit, and a waker takes it in a mode that
// waits for those holders and keeps new ones out until it commits. The lock
// is one of 64 per database (keys hash to them), so that a claim parking
// the jobs of thousands of keys holds at most 64 locks.
bool try_park_lock(const char *key, int len);

// Up to n of the jobs parked on the key become ready again, best first. A
// parked job another transaction holds is passed over (never waited for).
// SPI must be connected; nothing to do before 0.2.0's upgrade script.
void wake(Datum key_text, int64 n);

} // namespace baton::semaphore
