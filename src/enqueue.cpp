// enqueue: add one job; a unique_key dedupes among the queue's unfinished
// jobs. Never locks a running job: `replace` touches only ready ones.
#include "args.hpp"
#include "clock.hpp"
#include "floors.hpp"
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

// One call's job.
struct Job {
    Datum queue, payload;
    TimestampTz run_at, now;
    int32 priority;
    bool has_unique, has_concurrency;
    Datum unique_key, concurrency_key;
};

// The job below SQL (rows::JobTable): no statement to plan or executor to
// start. False, and nothing written, when an unfinished job holds its
// unique key (the SQL path below finds or replaces it) or when the table
// has columns baton does not know (an SQL INSERT fills their defaults) or,
// for a unique key, triggers.
bool insert_below_sql(const Job &job, const rows::Queue &q, int64 *id)
{
    rows::JobTable table("baton.enqueue()");
    if (job.has_unique ? !table.plain_insert() : !table.only_known_columns()) {
        table.close();
        return false;
    }
    int64 new_id = job_ids().next();
    rows::NewJob row{new_id,      job.queue,   job.priority,        q.max_attempts,      job.run_at, job.now,
                     job.payload, job.has_concurrency, job.concurrency_key, job.has_unique, job.unique_key};
    rows::Added added = rows::Added::added;
    if (job.has_unique)
        added = table.add_ready_unless_held(row);
    else
        table.add_ready(row);
    if (added == rows::Added::added)
        floors::moved_if_backdated(job.run_at);
    table.close();
    if (added == rows::Added::held_unseen)
        rows::serialization_failure();
    *id = new_id;
    return added == rows::Added::added;
}

// The job through SQL: its unique key dedupes among the queue's unfinished
// jobs (ON CONFLICT), `replace` updates a ready holder of the key. The id
// of the job inserted, or of the one holding the key (*due_now false when
// that one was kept as it was).
int64 insert_or_find(const Job &job, bool replace, bool *due_now)
{
    spi::connect();
    Sequence ids = job_ids();
    int64 id = 0;
    for (;;) {
        check_interrupts();
        int64 new_id = ids.next();
        spi::Args row;
        row.add(Int64GetDatum(new_id)).add(job.queue).add(Int32GetDatum(job.priority))
            .add(TimestampTzGetDatum(job.run_at)).add_maybe(!job.has_unique, job.unique_key)
            .add_maybe(!job.has_concurrency, job.concurrency_key).add(TimestampTzGetDatum(job.now))
            .add(job.payload);
        if (spi::exec(job.has_unique ? insert_unique : insert_plain, row) == 1) {
            id = new_id;
            floors::moved_if_backdated(job.run_at);
            break;
        }
        rows::require_queue(job.queue);
        // A conflict: an unfinished job holds the key (unless it just finished).
        if (spi::exec(find_unfinished, spi::Args().add(job.queue).add(job.unique_key)) == 0)
            continue;
        int64 existing = DatumGetInt64(spi::value(0, 0));
        char *state = args::cstring(spi::value(0, 1));
        if (!replace || strcmp(state, "ready") != 0) {
            id = existing;
            *due_now = false;
            break;
        }
        spi::Args repl;
        repl.add(Int64GetDatum(existing)).add(job.queue).add(job.payload).add(TimestampTzGetDatum(job.run_at))
            .add(Int32GetDatum(job.priority)).add_maybe(!job.has_concurrency, job.concurrency_key);
        if (spi::exec(replace_ready[rows::parking_installed()], repl) == 1) {
            id = existing;
            floors::moved_if_backdated(job.run_at);
            break;
        }
        // It was claimed, finished or cancelled meanwhile: look again.
    }
    spi::finish();
    return id;
}

} // namespace

// The queue's guard is taken first, then the queue's row is read (in a
// snapshot taken then, under READ COMMITTED): a drop_queue that committed
// first leaves no queue to enqueue to (42704), one that comes later waits
// for this commit.
BATON_FUNCTION(baton_enqueue)
{
    Job job{};
    job.queue = args::queue(fcinfo, 0);
    job.payload = args::is_null(fcinfo, 1) ? json::empty_object()
                                           : pg::call([&] { return PointerGetDatum(PG_GETARG_JSONB_P(1)); });
    job.now = read_clock();
    job.run_at = args::is_null(fcinfo, 2) ? job.now : PG_GETARG_TIMESTAMPTZ(2);
    if (TIMESTAMP_NOT_FINITE(job.run_at))
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: run_at must be finite");
    job.priority = args::is_null(fcinfo, 3) ? 0 : PG_GETARG_INT32(3);
    job.has_unique = args::optional_key(fcinfo, 4, "unique_key", &job.unique_key);
    job.has_concurrency = args::optional_key(fcinfo, 5, "concurrency_key", &job.concurrency_key);
    bool replace = args::on_conflict_replace(fcinfo, 6);
    bool due_now = job.run_at <= job.now;

    keylock::share_queue(job.queue);
    rows::Queue q = rows::require_queue(job.queue);
    rows::check_access(job.queue, q, rows::Access::produce);
    int64 id = 0;
    if (!insert_below_sql(job, q, &id))
        id = insert_or_find(job, replace, &due_now);
    if (due_now)
        notify::due(job.queue);
    PG_RETURN_INT64(id);
}
