// acquire, extend, release: explicit holders of semaphore slots, sharing
// the slots with running jobs (see claim.cpp for the job side).
#include "semaphore.hpp"
#include "floors.hpp"
#include "args.hpp"
#include "clock.hpp"
#include "rows.hpp"
#include "keylock.hpp"
#include "spi.hpp"
#include "compat.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/builtins.h"
}

namespace baton::semaphore {

namespace {

spi::Statement slots_in_use{
    "SELECT j.n + h.n, coalesce((SELECT slots FROM baton._limits WHERE key = $1), 1),"
    "       least(j.until, h.until)"
    "  FROM (SELECT count(*) AS n, min(lease_expires_at) AS until FROM baton._jobs"
    "         WHERE concurrency_key = $1 AND state = 'running' AND lease_expires_at > $2) j,"
    "       (SELECT count(*) AS n, min(expires_at) AS until FROM baton._holders"
    "         WHERE key = $1 AND expires_at > $2) h",
    2, {TEXTOID, TIMESTAMPTZOID}, nullptr};

// Best first, as claim would take them; rows another transaction holds are
// skipped, so a wake never waits and never joins a lock cycle.
spi::Statement wake_parked{
    "UPDATE baton._jobs j SET blocked_until = NULL"
    "  FROM (SELECT id, queue FROM baton._jobs"
    "         WHERE concurrency_key = $1 AND state = 'ready' AND blocked_until IS NOT NULL"
    "         ORDER BY priority DESC, run_at, id LIMIT $2"
    "         FOR NO KEY UPDATE SKIP LOCKED) w"
    " WHERE j.id = w.id AND j.queue = w.queue",
    2, {TEXTOID, INT8OID}, nullptr};

} // namespace

bool try_guard(const char *key, int len)
{
    return keylock::try_acquire(keylock::tag(keylock::Space::semaphore, key, len));
}

void guard(const char *key, int len)
{
    keylock::acquire(keylock::tag(keylock::Space::semaphore, key, len));
}

void release_guard(const char *key, int len)
{
    keylock::release(keylock::tag(keylock::Space::semaphore, key, len));
}

Slots free_slots(Datum key_text, TimestampTz now)
{
    spi::exec(slots_in_use, spi::Args().add(key_text).add(TimestampTzGetDatum(now)));
    int64 used = DatumGetInt64(spi::value(0, 0));
    int64 limit = DatumGetInt32(spi::value(0, 1));
    bool no_expiry;
    Datum until = spi::value(0, 2, &no_expiry);
    if (used < limit)
        return {limit - used, 0};
    return {0, no_expiry ? DT_NOEND : DatumGetTimestampTz(until)};
}

constexpr uint32 parking_locks = 64;

static LOCKTAG park_tag(const char *key, int len)
{
    LOCKTAG t = keylock::tag(keylock::Space::parking, key, len);
    t.locktag_field2 = 0;
    t.locktag_field3 %= parking_locks;
    return t;
}

// The transaction (local id) that last took a parking lock in this backend.
static LocalTransactionId parked_in = InvalidLocalTransactionId;

bool try_park_lock(const char *key, int len)
{
    if (!keylock::try_acquire(park_tag(key, len), ShareLock))
        return false;
    parked_in = pg::call([] { return compat::local_xid(); });
    return true;
}

// Whether this transaction took a parking lock (it holds it to commit; a
// subtransaction that rolled back may have let it go: then this only makes
// a wake try where it could have waited).
static bool parking_here()
{
    return parked_in != InvalidLocalTransactionId && pg::call([] { return compat::local_xid(); }) == parked_in;
}

void wake(Datum key_text, int64 n)
{
    if (n <= 0 || !rows::parking_installed())
        return;
    text *k = pg::call([key_text] { return DatumGetTextPP(key_text); });
    LOCKTAG tag = park_tag(VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
    // Wakers do not exclude each other (RowExclusiveLock does not conflict
    // with itself); they wait for claims parking under ShareLock. One that
    // parked jobs itself, earlier in its transaction, must not wait (two
    // such transactions could wait for each other): if a claim is parking
    // under the lock right now, that claim's jobs wait for their time.
    if (parking_here()) {
        if (!keylock::try_acquire(tag, RowExclusiveLock))
            return;
    } else {
        keylock::acquire(tag, RowExclusiveLock);
    }
    // In the newest snapshot, not a REPEATABLE READ transaction's own: a
    // park committed after that snapshot must be seen.
    // An unparked job is ready again at its old run_at: below floors.
    if (spi::exec(wake_parked, spi::Args().add(key_text).add(Int64GetDatum(n)), spi::In::latest_snapshot) > 0)
        floors::moved();
}

} // namespace baton::semaphore

using namespace baton;

namespace {

spi::Statement forget_expired{
    "DELETE FROM baton._holders WHERE key = $1 AND expires_at <= $2",
    2, {TEXTOID, TIMESTAMPTZOID}, nullptr};

spi::Statement add_holder{
    "INSERT INTO baton._holders (key, token, owner, acquired_at, expires_at, application_name, host)"
    " VALUES ($1, $2, $3, $4, $4 + $5, pg_catalog.current_setting('application_name'),"
    "         pg_catalog.host(pg_catalog.inet_client_addr()))",
    5, {TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

spi::Statement extend_holder{
    "UPDATE baton._holders SET expires_at = $3 + $4"
    " WHERE key = $1 AND token = $2 AND expires_at > $3",
    4, {TEXTOID, INT8OID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

spi::Statement drop_holder{
    "DELETE FROM baton._holders WHERE key = $1 AND token = $2 AND expires_at > $3",
    3, {TEXTOID, INT8OID, TIMESTAMPTZOID}, nullptr};

Datum ttl_arg(FunctionCallInfo fcinfo, int i)
{
    Datum ttl = 0;
    if (!args::optional_interval(fcinfo, i, "ttl", args::Sign::positive, &ttl))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: ttl must not be NULL");
    return ttl;
}

} // namespace

BATON_FUNCTION(baton_acquire)
{
    Datum key = args::key(fcinfo, 0, "key");
    Datum owner = args::key(fcinfo, 1, "owner");
    Datum ttl = ttl_arg(fcinfo, 2);
    text *k = pg::call([key] { return DatumGetTextPP(key); });

    spi::connect();
    semaphore::guard(VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
    TimestampTz now = read_clock();
    spi::exec(forget_expired, spi::Args().add(key).add(TimestampTzGetDatum(now)));
    if (semaphore::free_slots(key, now).free == 0) {
        spi::finish();
        PG_RETURN_NULL();
    }
    int64 token = tokens().next();
    spi::exec(add_holder, spi::Args().add(key).add(Int64GetDatum(token)).add(owner)
                              .add(TimestampTzGetDatum(now)).add(ttl));
    spi::finish();
    PG_RETURN_INT64(token);
}

// extend and release: a statement on the holder (key, token) whose ttl has
// not passed at the clock (and, for extend, the new ttl); true when it
// matched. A released slot wakes a job parked on the key.
static bool change_holder(spi::Statement &stmt, Datum key, int64 token, const Datum *ttl)
{
    spi::connect();
    spi::Args a;
    a.add(key).add(Int64GetDatum(token)).add(TimestampTzGetDatum(read_clock()));
    if (ttl)
        a.add(*ttl);
    bool matched = spi::exec(stmt, a) == 1;
    if (matched && !ttl)
        semaphore::wake(key, 1);
    spi::finish();
    return matched;
}

BATON_FUNCTION(baton_extend)
{
    Datum key = args::key(fcinfo, 0, "key");
    int64 token = args::int8(fcinfo, 1, "token");
    Datum ttl = ttl_arg(fcinfo, 2);
    PG_RETURN_BOOL(change_holder(extend_holder, key, token, &ttl));
}

BATON_FUNCTION(baton_release)
{
    Datum key = args::key(fcinfo, 0, "key");
    int64 token = args::int8(fcinfo, 1, "token");
    PG_RETURN_BOOL(change_holder(drop_holder, key, token, nullptr));
}

// The SQL functions that free slots (cancel, set_limit, drop_queue) wake
// parked jobs through this: baton._wake_parked(key, n).
BATON_FUNCTION(baton_wake_parked)
{
    Datum key = args::key(fcinfo, 0, "key");
    int64 n = args::int8(fcinfo, 1, "n");
    spi::connect();
    semaphore::wake(key, n);
    spi::finish();
    PG_RETURN_VOID();
}
