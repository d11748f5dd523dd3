// fail: only the owner of an unexpired lease gives a job up: ready again
// after a back-off, or dead at its last attempt.
#include "args.hpp"
#include "clock.hpp"
#include "floors.hpp"
#include "notify.hpp"
#include "semaphore.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/builtins.h"
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
    " RETURNING j.state, j.queue, j.run_at <= $4, j.concurrency_key, j.run_at",
    5, {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

} // namespace

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
                                            .add(TimestampTzGetDatum(read_clock()))
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
    if (strcmp(state, "ready") == 0) {
        TimestampTz run_at = DatumGetTimestampTz(spi::value(0, 4));
        floors::moved_if_backdated(run_at);
    }
    if (due_now)
        notify::due(queue);
    if (!keyless)  // the last use of the result above: wake runs a statement
        semaphore::wake(key, 1);
    // The result must outlive SPI_finish: copy it into the caller's context.
    Datum out = pg::call([&] { return SPI_datumTransfer(CStringGetTextDatum(state), false, -1); });
    spi::finish();
    return out;
}
