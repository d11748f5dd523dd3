#include "jobs.hpp"
#include "args.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
}

namespace baton::jobs {

TimestampTz clock()
{
    return GetCurrentTimestamp();
}

Sequence::Sequence(const char *name)
{
    relid_ = pg::call([&] {
        Oid nsp = get_namespace_oid("baton", false);
        return get_relname_relid(name, nsp);
    });
    if (!OidIsValid(relid_))
        throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: sequence baton.%s is missing", name);
}

int64 Sequence::next() const
{
    Oid relid = relid_;
    return pg::call([relid] { return nextval_internal(relid, false); });
}

bool parking_installed()
{
    return pg::call([] {
        Oid relid = get_relname_relid("_jobs", get_namespace_oid("baton", false));
        return get_attnum(relid, "blocked_until") != InvalidAttrNumber;
    });
}

static spi::Statement queue_max_attempts{
    "SELECT max_attempts FROM baton._queues WHERE queue = $1", 1, {TEXTOID}, nullptr};

[[noreturn]] void no_such_queue(Datum queue_text)
{
    throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: queue \"%s\" does not exist", args::cstring(queue_text));
}

int32 require_queue(Datum queue_text)
{
    if (spi::exec(queue_max_attempts, spi::Args().add(queue_text)) == 0)
        no_such_queue(queue_text);
    return DatumGetInt32(spi::value(0, 0));
}

// baton.notify: off leaves a transaction's enqueues unannounced, so that it
// can PREPARE TRANSACTION (PostgreSQL refuses to prepare one that notified).
static bool notify_enabled = true;

void define_settings()
{
    DefineCustomBoolVariable("baton.notify", "Sends NOTIFY baton when a commit makes a job due now.",
                             "Turn it off in a transaction that will be prepared (two-phase commit): workers "
                             "then find its jobs by polling.",
                             &notify_enabled, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("baton");
}

void notify_due(Datum queue_text)
{
    if (!notify_enabled)
        return;
    char *queue = args::cstring(queue_text);
    pg::call([queue] { Async_Notify("baton", queue); });
}

} // namespace baton::jobs

using namespace baton;

// retry (SQL) announces a job due now through the same switch.
BATON_FUNCTION(baton_notify_due)
{
    jobs::notify_due(args::queue(fcinfo, 0));
    PG_RETURN_VOID();
}
