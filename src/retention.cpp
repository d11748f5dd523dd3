#include "retention.hpp"
#include "keylock.hpp"
#include "spi.hpp"

#include <string>
#include <unordered_map>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace baton::retention {

constexpr int32 batch = 500;                     // rows deleted per call at most
constexpr TimestampTz pause_us = 1000 * 1000;    // between calls once caught up
constexpr size_t remembered_queues = 1024;       // per backend, then forgotten

// The oldest finished jobs first, along _jobs_finished (the SQL function
// pins the plan); rows another transaction holds are left for a later call
// (a retry of a dead job, a purge).
static spi::Statement delete_expired{"SELECT baton._delete_finished($1, $2, $3)", 3,
                                     {TEXTOID, TIMESTAMPTZOID, INT4OID}, nullptr};

// When this backend next prunes each queue.
static std::unordered_map<std::string, TimestampTz> next_prune;

static std::string name_of(Datum queue)
{
    text *t = pg::call([queue] { return DatumGetTextPP(queue); });
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

void prune(Datum queue, const rows::Queue &q, TimestampTz now)
{
    // Under REPEATABLE READ a row finished meanwhile would be a
    // serialization failure for the caller: only READ COMMITTED prunes.
    if (!q.has_retention || IsolationUsesXactSnapshot())
        return;
    std::string name = name_of(queue);
    auto due = next_prune.find(name);
    if (due != next_prune.end() && now < due->second)
        return;
    if (next_prune.size() >= remembered_queues)
        next_prune.clear();
    next_prune[name] = now + pause_us;
    // One pruner per queue at a time (to its commit); the others go on.
    if (!keylock::try_acquire(keylock::tag(keylock::Space::retention, name.data(), static_cast<int>(name.size()))))
        return;
    Datum before = pg::call([&] {
        return DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(now), q.retention);
    });
    spi::Args args;
    args.add(queue).add(before).add(Int32GetDatum(batch));
    spi::exec(delete_expired, args);
    if (DatumGetInt64(spi::value(0, 0)) == batch)
        next_prune[name] = now;  // more to delete: the next claim goes on
}

} // namespace baton::retention
