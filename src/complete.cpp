#include "complete.hpp"
#include "args.hpp"
#include "clock.hpp"
#include "interrupts.hpp"
#include "semaphore.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/datum.h"
}

namespace baton::complete {

// Whether row r is the running job of that token, with a lease not expired at now.
static bool owned(const rows::JobTable &table, rows::Row r, int64 token, TimestampTz now)
{
    const rows::Columns &c = table.col();
    return !r.is_null(c.lease_token) && r.int8(c.lease_token) == token && r.text_is(c.state, "running") &&
           !r.is_null(c.lease_expires_at) && r.timestamp(c.lease_expires_at) > now;
}

// The lookup and the write are two steps: the version found is replaced
// only if it is still the newest (JobTable::update waits for a holder
// first), so the columns checked are those of the version replaced. A
// version changed meanwhile is looked up again (READ COMMITTED) or is a
// serialization failure (REPEATABLE READ and up), as an UPDATE would do.
bool one(rows::JobTable &table, int64 id, int64 token, TimestampTz now, bool has_result, Datum result,
         std::vector<Datum> *freed_keys)
{
    const rows::Columns &c = table.col();
    for (;;) {
        check_interrupts();
        if (!table.find(id) || !owned(table, table.found(), token, now))
            return false;
        rows::Row r = table.found();
        rows::Values v = table.values_of(r);
        v.set(c.state, table.completed()).set(c.finished_at, TimestampTzGetDatum(now));
        if (has_result)
            v.set(c.result, result);
        else
            v.set_null(c.result);
        TM_Result outcome = table.update(r, v, LockWaitBlock);
        if (outcome == TM_Ok && !r.is_null(c.concurrency_key)) {
            Datum key = r.datum(c.concurrency_key);
            freed_keys->push_back(pg::call([key] { return datumCopy(key, false, -1); }));
        }
        table.next_row();
        if (outcome == TM_Ok)
            return true;
        if (outcome == TM_SelfModified || outcome == TM_Invisible)
            return false;  // this command changed it already, or a trigger skipped it
        if (IsolationUsesXactSnapshot())
            rows::serialization_failure();
        if (outcome == TM_Deleted)
            return false;
        table.refresh_snapshot();  // TM_Updated: read the newest version
    }
}

void wake(const std::vector<Datum> &freed_keys)
{
    if (freed_keys.empty())
        return;
    spi::connect();
    for (Datum key : freed_keys)
        semaphore::wake(key, 1);
    spi::finish();
}

} // namespace baton::complete

using namespace baton;

BATON_FUNCTION(baton_complete)
{
    int64 id = args::int8(fcinfo, 0, "id");
    int64 token = args::int8(fcinfo, 1, "lease_token");
    bool no_result = args::is_null(fcinfo, 2);
    Datum result = no_result ? 0 : pg::call([&] { return PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2))); });
    TimestampTz now = read_clock();

    rows::JobTable table("baton.complete()");
    std::vector<Datum> freed;
    bool done = complete::one(table, id, token, now, !no_result, result, &freed);
    table.close();
    complete::wake(freed);
    PG_RETURN_BOOL(done);
}
