// complete and fail: only the owner of an unexpired lease finishes a job,
// and only once.
#include "args.hpp"
#include "jobs.hpp"
#include "rows.hpp"
#include "semaphore.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
}

using namespace baton;

namespace {

// Back-off: retry_base * 2^(attempt-1), capped at one hour; computed in
// float seconds so that no attempt count can overflow an interval.
spi::Statement fail_owned{
    "UPDATE baton._jobs j"
    "   SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'dead' ELSE 'ready' END,"
    "       run_at = CASE WHEN j.attempt >= j.max_attempts THEN j.run_at"
    "                ELSE $4 + coalesce($5, least(extract(epoch FROM q.retry_base)::float8"
    "                          * power(2::float8, least(j.attempt - 1, 62)), 3600)"
    "                          * interval '1 second') END,"
    "       finished_at = CASE WHEN j.attempt >= j.max_attempts THEN $4 END,"
    "       worker = CASE WHEN j.attempt >= j.max_attempts THEN j.worker END,"
    "       lease_expires_at = CASE WHEN j.attempt >= j.max_attempts THEN j.lease_expires_at END,"
    "       reclaim_after = NULL,"
    "       error = $3"
    "  FROM baton._queues q"
    " WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running'"
    "   AND j.lease_expires_at > $4 AND q.queue = j.queue"
    " RETURNING j.state, j.queue, j.run_at <= $4, j.concurrency_key",
    5, {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

} // namespace

namespace baton::jobs {

// The lookup and the write are two steps: the version found is replaced
// only if it is still the newest (rows::Jobs::update waits for a holder
// first), so the columns checked are those of the version replaced. A
// version changed meanwhile is looked up again (READ COMMITTED) or is a
// serialization failure (REPEATABLE READ and up), as an UPDATE would do.
bool complete_one(rows::Jobs &jobs, int64 id, int64 token, TimestampTz now, bool has_result, Datum result,
                  std::vector<Datum> *freed_keys)
{
    const rows::Columns &c = jobs.col();
    for (;;) {
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        if (!jobs.find(id))
            return false;
        rows::Row r = jobs.found();
        if (r.is_null(c.lease_token) || r.int8(c.lease_token) != token || !r.text_is(c.state, "running") ||
            r.is_null(c.lease_expires_at) || r.timestamp(c.lease_expires_at) <= now)
            return false;
        rows::Values v = jobs.values_of(r);
        v.set(c.state, jobs.completed()).set(c.finished_at, TimestampTzGetDatum(now));
        if (has_result)
            v.set(c.result, result);
        else
            v.set_null(c.result);
        TM_Result result_of = jobs.update(r, v, LockWaitBlock);
        if (result_of == TM_Ok && !r.is_null(c.concurrency_key)) {
            Datum key = r.datum(c.concurrency_key);
            freed_keys->push_back(pg::call([key] { return datumCopy(key, false, -1); }));
        }
        jobs.next_row();
        if (result_of == TM_Ok)
            return true;
        if (result_of == TM_SelfModified || result_of == TM_Invisible)
            return false;  // this command changed it already, or a trigger skipped it
        if (IsolationUsesXactSnapshot())
            throw Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                        "baton: could not serialize access due to concurrent update");
        if (result_of == TM_Deleted)
            return false;
        jobs.refresh_snapshot();  // TM_Updated: read the newest version
    }
}

} // namespace baton::jobs

BATON_FUNCTION(baton_complete)
{
    int64 id = args::int8(fcinfo, 0, "id");
    int64 token = args::int8(fcinfo, 1, "lease_token");
    bool no_result = args::is_null(fcinfo, 2);
    Datum result = no_result ? 0 : pg::call([&] { return PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2))); });
    TimestampTz now = jobs::clock();

    rows::Jobs jobs("baton.complete()");
    std::vector<Datum> freed;
    bool done = jobs::complete_one(jobs, id, token, now, !no_result, result, &freed);
    jobs.close();
    jobs::wake(freed);
    PG_RETURN_BOOL(done);
}

BATON_FUNCTION(baton_fail)
{
    int64 id = args::int8(fcinfo, 0, "id");
    int64 token = args::int8(fcinfo, 1, "lease_token");
    bool no_error = args::is_null(fcinfo, 2);
    Datum error = no_error ? 0 : PG_GETARG_DATUM(2);
    Datum retry_in = 0;
    bool has_retry_in = args::optional_interval(fcinfo, 3, "retry_in", args::Sign::non_negative, &retry_in);

    spi::connect();
    uint64 rows = spi::exec(fail_owned, spi::Args()
                                            .add(Int64GetDatum(id))
                                            .add(Int64GetDatum(token))
                                            .add_maybe(no_error, error)
                                            .add(TimestampTzGetDatum(jobs::clock()))
                                            .add_maybe(!has_retry_in, retry_in));
    if (rows == 0) {
        spi::finish();
        PG_RETURN_NULL();
    }
    char *state = args::cstring(spi::value(0, 0));
    bool due_now = DatumGetBool(spi::value(0, 2)) && strcmp(state, "ready") == 0;
    Datum queue = spi::value(0, 1);
    bool keyless;
    Datum key = spi::value(0, 3, &keyless);
    if (due_now)
        jobs::notify_due(queue);
    if (!keyless)  // the last use of the result above: wake runs a statement
        semaphore::wake(key, 1);
    // The result must outlive SPI_finish: copy it into the caller's context.
    Datum out = pg::call([&] { return SPI_datumTransfer(CStringGetTextDatum(state), false, -1); });
    spi::finish();
    return out;
}

// ---------------------------------------------------------------------------
// complete_batch: rows locked in ascending id order, so it never deadlocks
// with another complete_batch, heartbeat or complete_and_claim.
// ---------------------------------------------------------------------------

#include <algorithm>

extern "C" {
#include "funcapi.h"
#include "utils/array.h"
#include "utils/tuplestore.h"
}

namespace {

std::vector<int64> int8_elements(FunctionCallInfo fcinfo, int i, const char *name)
{
    std::vector<Datum> elems;
    if (!args::array_elements(fcinfo, i, name, INT8OID, &elems))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: %s must not be NULL", name);
    std::vector<int64> out;
    out.reserve(elems.size());
    for (Datum d : elems)
        out.push_back(DatumGetInt64(d));
    return out;
}

} // namespace

namespace baton::jobs {

Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg)
{
    std::vector<int64> ids = int8_elements(fcinfo, ids_arg, "ids");
    std::vector<int64> tokens = int8_elements(fcinfo, ids_arg + 1, "lease_tokens");
    if (ids.size() != tokens.size())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: ids and lease_tokens must have the same length, got %zu and %zu",
                    ids.size(), tokens.size());
    std::vector<std::pair<int64, int64>> pairs;
    for (size_t k = 0; k < ids.size(); k++) {
        if (k % 4096 == 0)
            pg::call([] { CHECK_FOR_INTERRUPTS(); });
        pairs.emplace_back(ids[k], tokens[k]);
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    Fenced out;
    for (auto [id, token] : pairs) {
        out.ids.push_back(id);
        out.tokens.push_back(token);
    }
    return out;
}

std::vector<int64> complete_many(rows::Jobs &jobs, const Fenced &pairs, TimestampTz now,
                                 std::vector<Datum> *freed_keys)
{
    std::vector<int64> done;
    for (size_t k = 0; k < pairs.ids.size(); k++) {
        if (complete_one(jobs, pairs.ids[k], pairs.tokens[k], now, false, 0, freed_keys))
            done.push_back(pairs.ids[k]);
    }
    return done;
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

} // namespace baton::jobs

BATON_FUNCTION(baton_complete_batch)
{
    jobs::Fenced pairs = jobs::fenced_args(fcinfo, 0);
    pg::call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    rows::Jobs jobs("baton.complete_batch()");
    std::vector<Datum> freed;
    for (int64 id : jobs::complete_many(jobs, pairs, jobs::clock(), &freed)) {
        Datum value = Int64GetDatum(id);
        bool isnull = false;
        pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull); });
    }
    jobs.close();
    jobs::wake(freed);
    return (Datum) 0;
}
