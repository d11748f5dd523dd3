#include "notify.hpp"
#include "args.hpp"

extern "C" {
#include "commands/async.h"
#include "utils/guc.h"
}

namespace baton::notify {

// baton.notify: off leaves a transaction's enqueues unannounced, so that it
// can PREPARE TRANSACTION (PostgreSQL refuses to prepare one that notified).
static bool enabled = true;

void define_settings()
{
    DefineCustomBoolVariable("baton.notify", "Sends NOTIFY baton when a commit makes a job due now.",
                             "Turn it off in a transaction that will be prepared (two-phase commit): workers "
                             "then find its jobs by polling.",
                             &enabled, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("baton");
}

void due(Datum queue_text)
{
    if (!enabled)
        return;
    char *queue = args::cstring(queue_text);
    pg::call([queue] { Async_Notify("baton", queue); });
}

} // namespace baton::notify

using namespace baton;

// retry (SQL) announces a job due now through the same switch.
BATON_FUNCTION(baton_notify_due)
{
    notify::due(args::queue(fcinfo, 0));
    PG_RETURN_VOID();
}
