// enqueue: add one job; a unique_key dedupes among the queue's unfinished
// jobs. Never locks a running job: `replace` touches only ready ones.
#include "args.hpp"
#include "clock.hpp"
#include "interrupts.hpp"
#include "json.hpp"
#include "keylock.hpp"
#include "notify.hpp"
#include "rows.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

#include <cstring>

using namespace baton;

namespace {

// The queue row is read in the same statement as the insert, after the
// queue's guard is held: a drop_queue that committed first leaves no queue
// row to insert under, and one that comes later waits for this commit.
#define INSERT_JOB                                                              \
    "INSERT INTO baton._jobs (id, queue, state, priority, run_at, max_attempts," \
    "                         unique_key, concurrency_key, enqueued_at, payload)" \
    " SELECT $1, q.queue, 'ready', $3, $4, q.max_attempts, $5, $6, $7, $8"      \
    "   FROM baton._queues q WHERE q.queue = $2"
#define INSERT_ARGS 8, {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, JSONBOID}

spi::Statement insert_plain{INSERT_JOB, INSERT_ARGS, nullptr};

spi::Statement insert_unique{
    INSERT_JOB
    " ON CONFLICT (queue, unique_key)"
    "   WHERE state IN ('ready', 'running') AND unique_key IS NOT NULL DO NOTHING",
    INSERT_ARGS, nullptr};

spi::Statement find_unfinished{
    "SELECT id, state FROM baton._jobs"
    " WHERE queue = $1 AND unique_key = $2 AND state IN ('ready', 'running')",
    2, {TEXTOID, TEXTOID}, nullptr};

// A replaced job is no longer parked (its concurrency key may have changed):
// from 0.2.0 on, replace sets blocked_until to NULL (UNPARK_SQL).
#define REPLACE_READY(unpark)                                                                   \
    {"UPDATE baton._jobs SET payload = $3, run_at = $4, priority = $5, concurrency_key = $6" unpark \
     " WHERE id = $1 AND queue = $2 AND state = 'ready'",                                       \
     6, {INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT4OID, TEXTOID}, nullptr}
spi::Statement replace_ready[2] = {REPLACE_READY(""), REPLACE_READY(UNPARK_SQL)};

} // namespace

BATON_FUNCTION(baton_enqueue)
{
    Datum queue = args::queue(fcinfo, 0);
    Datum payload = args::is_null(fcinfo, 1) ? json::empty_object()
                                             : pg::call([&] { return PointerGetDatum(PG_GETARG_JSONB_P(1)); });
    TimestampTz now = read_clock();
    TimestampTz run_at = args::is_null(fcinfo, 2) ? now : PG_GETARG_TIMESTAMPTZ(2);
    if (TIMESTAMP_NOT_FINITE(run_at))
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: run_at must be finite");
    int32 priority = args::is_null(fcinfo, 3) ? 0 : PG_GETARG_INT32(3);
    Datum unique_key = 0, concurrency_key = 0;
    bool has_unique = args::optional_key(fcinfo, 4, "unique_key", &unique_key);
    bool has_concurrency = args::optional_key(fcinfo, 5, "concurrency_key", &concurrency_key);
    bool replace = args::on_conflict_replace(fcinfo, 6);
    bool due_now = run_at <= now;

    rows::check_access(queue, rows::require_queue(queue), rows::Access::produce);
    keylock::share_queue(queue);
    spi::connect();
    Sequence ids = job_ids();
    int64 id = 0;
    for (;;) {
        check_interrupts();
        int64 new_id = ids.next();
        spi::Args row;
        row.add(Int64GetDatum(new_id)).add(queue).add(Int32GetDatum(priority)).add(TimestampTzGetDatum(run_at))
            .add_maybe(!has_unique, unique_key).add_maybe(!has_concurrency, concurrency_key)
            .add(TimestampTzGetDatum(now)).add(payload);
        if (spi::exec(has_unique ? insert_unique : insert_plain, row) == 1) {
            id = new_id;
            break;
        }
        rows::require_queue(queue);
        // A conflict: an unfinished job holds the key (unless it just finished).
        if (spi::exec(find_unfinished, spi::Args().add(queue).add(unique_key)) == 0)
            continue;
        int64 existing = DatumGetInt64(spi::value(0, 0));
        char *state = args::cstring(spi::value(0, 1));
        if (!replace || strcmp(state, "ready") != 0) {
            id = existing;
            due_now = false;
            break;
        }
        spi::Args repl;
        repl.add(Int64GetDatum(existing)).add(queue).add(payload).add(TimestampTzGetDatum(run_at))
            .add(Int32GetDatum(priority)).add_maybe(!has_concurrency, concurrency_key);
        if (spi::exec(replace_ready[rows::parking_installed()], repl) == 1) {
            id = existing;
            break;
        }
        // It was claimed, finished or cancelled meanwhile: look again.
    }
    if (due_now)
        notify::due(queue);
    spi::finish();
    PG_RETURN_INT64(id);
}

