// complete and fail: only the owner of an unexpired lease finishes a job,
// and only once.
#include "args.hpp"
#include "jobs.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/builtins.h"
}

using namespace baton;

namespace {

spi::Statement complete_owned{
    "UPDATE baton._jobs SET state = 'completed', result = $3, finished_at = $4"
    " WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at > $4",
    4, {INT8OID, INT8OID, JSONBOID, TIMESTAMPTZOID}, nullptr};

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
    " RETURNING j.state, j.queue, j.run_at <= $4",
    5, {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

} // namespace

BATON_FUNCTION(baton_complete)
{
    int64 id = args::int8(fcinfo, 0, "id");
    int64 token = args::int8(fcinfo, 1, "lease_token");
    bool no_result = args::is_null(fcinfo, 2);
    Datum result = no_result ? 0 : pg::call([&] { return PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2))); });

    spi::connect();
    uint64 rows = spi::exec(complete_owned, spi::Args()
                                                .add(Int64GetDatum(id))
                                                .add(Int64GetDatum(token))
                                                .add_maybe(no_result, result)
                                                .add(TimestampTzGetDatum(jobs::clock())));
    spi::finish();
    PG_RETURN_BOOL(rows == 1);
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
    bool due_now = DatumGetBool(spi::value(0, 2));
    if (due_now && strcmp(state, "ready") == 0)
        jobs::notify_due(spi::value(0, 1));
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

// The ids arrive sorted ascending (fenced_args); each is locked by a LATERAL
// primary-key lookup, so the rows are locked in array order, that is in
// ascending id order, whatever the statistics say. The update then finds the
// locked rows by primary key too (an array, never a join a planner without
// statistics could turn into a sequential scan).
spi::Statement complete_sorted{
    "WITH owned AS ("
    "  SELECT o.id, o.lease_token FROM unnest($1::int8[], $2::int8[]) AS u(id, token)"
    "  CROSS JOIN LATERAL (SELECT j.id, j.lease_token FROM baton._jobs j"
    "     WHERE j.id = u.id AND j.lease_token = u.token AND j.state = 'running'"
    "       AND j.lease_expires_at > $3"
    "     FOR NO KEY UPDATE) o)"
    " UPDATE baton._jobs j SET state = 'completed', finished_at = $3"
    "  WHERE j.id = ANY (ARRAY(SELECT id FROM owned)) AND j.state = 'running'"
    " RETURNING j.id",
    3, {INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID}, nullptr};

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

std::vector<int64> complete_many(const Fenced &jobs)
{
    std::vector<int64> done;
    if (jobs.ids.empty())
        return done;
    uint64 rows = spi::exec(complete_sorted, spi::Args()
                                                 .add(spi::int8_array(jobs.ids))
                                                 .add(spi::int8_array(jobs.tokens))
                                                 .add(TimestampTzGetDatum(clock())));
    for (uint64 r = 0; r < rows; r++)
        done.push_back(DatumGetInt64(spi::value(r, 0)));
    std::sort(done.begin(), done.end());
    return done;
}

} // namespace baton::jobs

BATON_FUNCTION(baton_complete_batch)
{
    jobs::Fenced pairs = jobs::fenced_args(fcinfo, 0);
    pg::call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    spi::connect();
    for (int64 id : jobs::complete_many(pairs)) {
        Datum value = Int64GetDatum(id);
        bool isnull = false;
        pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull); });
    }
    spi::finish();
    return (Datum) 0;
}
