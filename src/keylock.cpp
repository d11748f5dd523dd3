// Transaction-scoped key locks: lock_key, try_lock_key, lock_keys,
// try_lock_keys, key_holder. Released at commit or rollback on the
// connection that took them, so they are safe behind a transaction-mode
// pooler.
#include "keylock.hpp"
#include "args.hpp"
#include "interrupts.hpp"
#include "spi.hpp"

#include <algorithm>
#include <vector>

extern "C" {
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

namespace baton::keylock {

constexpr uint64 hash_seed = 0x6261746f6e6b6579ULL;  // "batonkey"

LOCKTAG tag(Space space, const char *key, int len)
{
    uint64 h = hash_bytes_extended(reinterpret_cast<const unsigned char *>(key), len, hash_seed);
    LOCKTAG t;
    SET_LOCKTAG_ADVISORY(t, MyDatabaseId, static_cast<uint32>(h >> 32), static_cast<uint32>(h),
                         static_cast<uint16>(space));
    return t;
}

bool try_acquire(const LOCKTAG &t, LOCKMODE mode)
{
    LOCKTAG copy = t;
    LockAcquireResult r = pg::call([&] { return LockAcquire(&copy, mode, false, true); });
    return r != LOCKACQUIRE_NOT_AVAIL;
}

void acquire(const LOCKTAG &t, LOCKMODE mode)
{
    LOCKTAG copy = t;
    pg::call([&] { (void) LockAcquire(&copy, mode, false, false); });
}

void release(const LOCKTAG &t, LOCKMODE mode)
{
    LOCKTAG copy = t;
    pg::call([&] { (void) LockRelease(&copy, mode, false); });
}

LOCKTAG queue_tag(Datum queue_text)
{
    text *q = pg::call([queue_text] { return DatumGetTextPP(queue_text); });
    return tag(Space::queue, VARDATA_ANY(q), VARSIZE_ANY_EXHDR(q));
}

void share_queue(Datum queue_text)
{
    acquire(queue_tag(queue_text), ShareLock);
}

} // namespace baton::keylock

using namespace baton;

namespace {

// The tags of the keys, in one canonical order (the tag's hash), each once.
std::vector<LOCKTAG> canonical_tags(const std::vector<Datum> &keys)
{
    std::vector<LOCKTAG> tags;
    for (Datum k : keys) {
        check_interrupts_every(tags.size());
        text *t = pg::call([k] { return DatumGetTextPP(k); });
        tags.push_back(keylock::tag(keylock::Space::user_key, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
    }
    auto key_of = [](const LOCKTAG &t) {
        return std::pair<uint32, uint32>(t.locktag_field2, t.locktag_field3);
    };
    std::sort(tags.begin(), tags.end(), [&](const LOCKTAG &a, const LOCKTAG &b) { return key_of(a) < key_of(b); });
    tags.erase(std::unique(tags.begin(), tags.end(),
                           [&](const LOCKTAG &a, const LOCKTAG &b) { return key_of(a) == key_of(b); }),
               tags.end());
    return tags;
}

std::vector<Datum> key_array(FunctionCallInfo fcinfo, int i)
{
    std::vector<Datum> elems, out;
    if (!args::array_elements(fcinfo, i, "keys", TEXTOID, &elems))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: keys must not be NULL");
    if (elems.empty())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: keys must not be empty");
    for (size_t k = 0; k < elems.size(); k++) {
        Datum d = elems[k];
        text *t = pg::call([d] { return DatumGetTextPP(d); });
        char what[32];
        snprintf(what, sizeof what, "keys element %zu", k + 1);
        args::check_key_length(what, VARSIZE_ANY_EXHDR(t));
        out.push_back(PointerGetDatum(t));
    }
    return out;
}

[[noreturn]] void not_available()
{
    throw Error(ERRCODE_LOCK_NOT_AVAILABLE, "baton: could not lock key: timeout reached");
}

// Takes every tag in order, waiting at most `timeout` in all (NULL: as long
// as lock_timeout allows). lock_timeout is set for each wait to what is
// left of the timeout, inside a GUC nest level that ends with the call.
void lock_all(const std::vector<LOCKTAG> &tags, bool has_timeout, Datum timeout)
{
    if (!has_timeout) {
        for (const LOCKTAG &t : tags)
            keylock::acquire(t);
        return;
    }
    // In 128 bits: a timeout of a million years must not wrap around. One
    // longer than lock_timeout can express (INT_MAX ms) means no limit.
    __int128 budget_us = args::span_us(DatumGetIntervalP(timeout), DAYS_PER_MONTH, HOURS_PER_DAY);
    bool unlimited = budget_us / 1000 > INT_MAX;
    __int128 deadline = static_cast<__int128>(GetCurrentTimestamp()) + budget_us;
    for (const LOCKTAG &t : tags) {
        if (keylock::try_acquire(t))
            continue;
        __int128 left_ms = unlimited ? 0 : (deadline - GetCurrentTimestamp()) / 1000;
        if (!unlimited && left_ms <= 0)
            not_available();
        char setting[32];  // lock_timeout = 0 disables the limit
        snprintf(setting, sizeof setting, "%lld", static_cast<long long>(left_ms));
        LOCKTAG copy = t;
        pg::call([&] {
            int nest = NewGUCNestLevel();
            (void) set_config_option("lock_timeout", setting, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
            (void) LockAcquire(&copy, ExclusiveLock, false, false);
            AtEOXact_GUC(true, nest);
        });
    }
}

// All or none: on the first key that is taken, release what this call took.
bool try_lock_all(const std::vector<LOCKTAG> &tags)
{
    size_t taken = 0;
    for (; taken < tags.size(); taken++)
        if (!keylock::try_acquire(tags[taken]))
            break;
    if (taken == tags.size())
        return true;
    for (size_t k = 0; k < taken; k++)
        keylock::release(tags[k]);
    return false;
}

bool timeout_arg(FunctionCallInfo fcinfo, int i, Datum *out)
{
    return args::optional_interval(fcinfo, i, "timeout", args::Sign::non_negative, out);
}

spi::Statement holder_pid{
    "SELECT coalesce(pid, 0) FROM pg_catalog.pg_locks"  // 0: a prepared transaction
    " WHERE locktype = 'advisory' AND database = $1 AND classid = $2 AND objid = $3"
    "   AND objsubid = $4 AND granted LIMIT 1",
    4, {OIDOID, OIDOID, OIDOID, INT2OID}, nullptr};

} // namespace

BATON_FUNCTION(baton_lock_key)
{
    std::vector<Datum> key{args::key(fcinfo, 0, "key")};
    Datum timeout = 0;
    bool has_timeout = timeout_arg(fcinfo, 1, &timeout);
    lock_all(canonical_tags(key), has_timeout, timeout);
    PG_RETURN_VOID();
}

BATON_FUNCTION(baton_try_lock_key)
{
    std::vector<Datum> key{args::key(fcinfo, 0, "key")};
    PG_RETURN_BOOL(try_lock_all(canonical_tags(key)));
}

BATON_FUNCTION(baton_lock_keys)
{
    std::vector<Datum> keys = key_array(fcinfo, 0);
    Datum timeout = 0;
    bool has_timeout = timeout_arg(fcinfo, 1, &timeout);
    lock_all(canonical_tags(keys), has_timeout, timeout);
    PG_RETURN_VOID();
}

BATON_FUNCTION(baton_try_lock_keys)
{
    PG_RETURN_BOOL(try_lock_all(canonical_tags(key_array(fcinfo, 0))));
}

// drop_queue's side of the queue guard (granted to nobody).
BATON_FUNCTION(baton_queue_guard)
{
    keylock::acquire(keylock::queue_tag(args::queue(fcinfo, 0)), ExclusiveLock);
    PG_RETURN_VOID();
}

BATON_FUNCTION(baton_key_holder)
{
    std::vector<LOCKTAG> tags = canonical_tags({args::key(fcinfo, 0, "key")});
    const LOCKTAG &t = tags[0];
    spi::connect();
    uint64 rows = spi::exec(holder_pid, spi::Args()
                                            .add(ObjectIdGetDatum(t.locktag_field1))
                                            .add(ObjectIdGetDatum(t.locktag_field2))
                                            .add(ObjectIdGetDatum(t.locktag_field3))
                                            .add(Int16GetDatum(static_cast<int16>(t.locktag_field4))));
    bool found = rows > 0;
    int32 pid = found ? DatumGetInt32(spi::value(0, 0)) : 0;
    spi::finish();
    if (!found)
        PG_RETURN_NULL();
    PG_RETURN_INT32(pid);
}
