// acquire, extend, release: explicit holders of semaphore slots, sharing
// the slots with running jobs (see claim.cpp for the job side).
#include "semaphore.hpp"
#include "args.hpp"
#include "jobs.hpp"
#include "keylock.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/builtins.h"
}

namespace baton::semaphore {

namespace {

spi::Statement slots_in_use{
    "SELECT (SELECT count(*) FROM baton._jobs"
    "         WHERE concurrency_key = $1 AND state = 'running' AND lease_expires_at > $2)"
    "     + (SELECT count(*) FROM baton._holders WHERE key = $1 AND expires_at > $2),"
    "       coalesce((SELECT slots FROM baton._limits WHERE key = $1), 1)",
    2, {TEXTOID, TIMESTAMPTZOID}, nullptr};

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

int64 free_slots(Datum key_text, TimestampTz now)
{
    spi::exec(slots_in_use, spi::Args().add(key_text).add(TimestampTzGetDatum(now)));
    int64 used = DatumGetInt64(spi::value(0, 0));
    int64 limit = DatumGetInt32(spi::value(0, 1));
    return used >= limit ? 0 : limit - used;
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
    TimestampTz now = jobs::clock();
    spi::exec(forget_expired, spi::Args().add(key).add(TimestampTzGetDatum(now)));
    if (semaphore::free_slots(key, now) == 0) {
        spi::finish();
        PG_RETURN_NULL();
    }
    int64 token = jobs::tokens().next();
    spi::exec(add_holder, spi::Args().add(key).add(Int64GetDatum(token)).add(owner)
                              .add(TimestampTzGetDatum(now)).add(ttl));
    spi::finish();
    PG_RETURN_INT64(token);
}

BATON_FUNCTION(baton_extend)
{
    Datum key = args::key(fcinfo, 0, "key");
    int64 token = args::int8(fcinfo, 1, "token");
    Datum ttl = ttl_arg(fcinfo, 2);
    spi::connect();
    uint64 rows = spi::exec(extend_holder, spi::Args().add(key).add(Int64GetDatum(token))
                                               .add(TimestampTzGetDatum(jobs::clock())).add(ttl));
    spi::finish();
    PG_RETURN_BOOL(rows == 1);
}

BATON_FUNCTION(baton_release)
{
    Datum key = args::key(fcinfo, 0, "key");
    int64 token = args::int8(fcinfo, 1, "token");
    spi::connect();
    uint64 rows = spi::exec(drop_holder, spi::Args().add(key).add(Int64GetDatum(token))
                                             .add(TimestampTzGetDatum(jobs::clock())));
    spi::finish();
    PG_RETURN_BOOL(rows == 1);
}
