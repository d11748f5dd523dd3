// enqueue: add one job; a unique_key dedupes among the queue's unfinished
// jobs. Never locks a running job: `replace` touches only ready ones.
#include "args.hpp"
#include "jobs.hpp"
#include "keylock.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/jsonb.h"
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
// from 0.2.0 on, replace sets blocked_until to NULL (UNPARK).
#define REPLACE_READY(unpark)                                                                   \
    {"UPDATE baton._jobs SET payload = $3, run_at = $4, priority = $5, concurrency_key = $6" unpark \
     " WHERE id = $1 AND queue = $2 AND state = 'ready'",                                       \
     6, {INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT4OID, TEXTOID}, nullptr}
#define UNPARK ", blocked_until = NULL"

spi::Statement replace_ready[2] = {REPLACE_READY(""), REPLACE_READY(UNPARK)};

Datum empty_object()
{
    return pg::call([] {
        JsonbValue v;
        v.type = jbvObject;
        v.val.object.nPairs = 0;
        v.val.object.pairs = nullptr;
        return PointerGetDatum(JsonbValueToJsonb(&v));
    });
}

} // namespace

BATON_FUNCTION(baton_enqueue)
{
    Datum queue = args::queue(fcinfo, 0);
    Datum payload = args::is_null(fcinfo, 1) ? empty_object()
                                             : pg::call([&] { return PointerGetDatum(PG_GETARG_JSONB_P(1)); });
    TimestampTz now = jobs::clock();
    TimestampTz run_at = args::is_null(fcinfo, 2) ? now : PG_GETARG_TIMESTAMPTZ(2);
    if (TIMESTAMP_NOT_FINITE(run_at))
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: run_at must be finite");
    int32 priority = args::is_null(fcinfo, 3) ? 0 : PG_GETARG_INT32(3);
    Datum unique_key = 0, concurrency_key = 0;
    bool has_unique = args::optional_key(fcinfo, 4, "unique_key", &unique_key);
    bool has_concurrency = args::optional_key(fcinfo, 5, "concurrency_key", &concurrency_key);
    bool replace = args::on_conflict_replace(fcinfo, 6);
    bool due_now = run_at <= now;

    keylock::share_queue(queue);
    spi::connect();
    jobs::Sequence ids = jobs::job_ids();
    int64 id = 0;
    for (;;) {
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        int64 new_id = ids.next();
        spi::Args row;
        row.add(Int64GetDatum(new_id)).add(queue).add(Int32GetDatum(priority)).add(TimestampTzGetDatum(run_at))
            .add_maybe(!has_unique, unique_key).add_maybe(!has_concurrency, concurrency_key)
            .add(TimestampTzGetDatum(now)).add(payload);
        if (spi::exec(has_unique ? insert_unique : insert_plain, row) == 1) {
            id = new_id;
            break;
        }
        jobs::require_queue(queue);
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
        if (spi::exec(replace_ready[jobs::parking_installed()], repl) == 1) {
            id = existing;
            break;
        }
        // It was claimed, finished or cancelled meanwhile: look again.
    }
    if (due_now)
        jobs::notify_due(queue);
    spi::finish();
    PG_RETURN_INT64(id);
}

// ---------------------------------------------------------------------------
// enqueue_batch: many jobs in one call, never deadlocking with another batch
// or with the workers' functions. Its one INSERT writes the rows in
// unique-key byte order (COLLATE "C"), keyless rows after in input order, and
// a key is never inserted twice; `replace` then locks the ready holders of
// the other keys in the same order, and never a running job. So two batches
// with overlapping keys wait for each other in one order, and the workers'
// functions (which lock running jobs only) never wait for a batch.
// ---------------------------------------------------------------------------

#include "json.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "storage/itemptr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

namespace {

constexpr int max_key_bytes = 512;

// The rows go in in array order (one function scan, no join, no sort): the
// caller passes them in lock order. $2: the queue's max_attempts, read after
// the queue's guard is held (see baton_enqueue_batch).
spi::Statement insert_batch{
    "INSERT INTO baton._jobs (id, queue, state, priority, run_at, max_attempts,"
    "                         unique_key, concurrency_key, enqueued_at, payload)"
    " SELECT u.id, $1, 'ready', u.priority, u.run_at, $2,"
    "        u.unique_key, u.concurrency_key, $3, u.payload"
    "   FROM unnest($4::int8[], $5::int4[], $6::timestamptz[], $7::text[], $8::text[], $9::jsonb[])"
    "          AS u(id, priority, run_at, unique_key, concurrency_key, payload)"
    " ON CONFLICT (queue, unique_key)"
    "   WHERE state IN ('ready', 'running') AND unique_key IS NOT NULL DO NOTHING"
    " RETURNING id",
    9, {TEXTOID, INT4OID, TIMESTAMPTZOID, INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
        TEXTARRAYOID, JSONBARRAYOID}, nullptr};

// `replace`: the ready holders of the keys, read without locks, in key byte
// order; then each is locked by the exact version read (see lock_version).
spi::Statement ready_holders{
    "SELECT id, unique_key, ctid FROM baton._jobs"
    " WHERE queue = $1 AND unique_key = ANY ($2) AND state = 'ready'"
    " ORDER BY unique_key COLLATE \"C\"",
    2, {TEXTOID, TEXTARRAYOID}, nullptr};

spi::Statement ready_holder{
    "SELECT id, ctid FROM baton._jobs"
    " WHERE queue = $1 AND unique_key = $2 AND state = 'ready'",
    2, {TEXTOID, TEXTOID}, nullptr};

// The rows are locked already: the join order does not matter here.
#define REPLACE_LOCKED(unpark)                                                                  \
    {"UPDATE baton._jobs j SET payload = u.payload, run_at = u.run_at,"                         \
     "       priority = u.priority, concurrency_key = u.concurrency_key" unpark                 \
     "  FROM unnest($2::int8[], $3::jsonb[], $4::timestamptz[], $5::int4[], $6::text[])"        \
     "         AS u(id, payload, run_at, priority, concurrency_key)"                             \
     " WHERE j.id = u.id AND j.queue = $1",                                                     \
     6, {TEXTOID, INT8ARRAYOID, JSONBARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID, TEXTARRAYOID}, nullptr}

spi::Statement replace_locked[2] = {REPLACE_LOCKED(""), REPLACE_LOCKED(UNPARK)};

// `keep`, and holders `replace` did not lock: read, never locked. The
// holder the INSERT met may have finished since: the call is linearized at
// its INSERT, when that job held the key, so the newest job of the key is
// the one to report.
spi::Statement find_holders{
    "SELECT DISTINCT ON (unique_key) id, unique_key FROM baton._jobs"
    " WHERE queue = $1 AND unique_key = ANY ($2)"
    " ORDER BY unique_key, state IN ('ready', 'running') DESC, finished_at DESC NULLS LAST, id DESC",
    2, {TEXTOID, TEXTARRAYOID}, nullptr};

struct BatchRow {
    int ord;  // 1-based input position
    Datum payload;
    TimestampTz run_at;
    int32 priority;
    bool has_key;
    std::string key;
    Datum key_text;
    bool has_concurrency;
    Datum concurrency_text;
    // the outcome
    int64 id = 0;
    bool inserted = false;
    bool resolved = false;
};

[[noreturn]] void bad_field(int ord, const std::string &field, const char *rule)
{
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: jobs element %d: %s %s", ord, field.c_str(), rule);
}

TimestampTz parse_run_at(int ord, const JsonbValue &v)
{
    if (v.type != jbvString)
        bad_field(ord, "run_at", "must be a timestamp string");
    char *s = pg::call([&] { return pnstrdup(v.val.string.val, v.val.string.len); });
    TimestampTz t;
    try {
        t = DatumGetTimestampTz(pg::call([&] {
            return DirectFunctionCall3(timestamptz_in, CStringGetDatum(s), ObjectIdGetDatum(InvalidOid),
                                       Int32GetDatum(-1));
        }));
    } catch (const PgError &e) {
        if (ERRCODE_TO_CATEGORY(e.edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
            throw;  // out of memory, a cancel...: not the input's fault
        bad_field(ord, "run_at", "is not a valid timestamp");
    }
    if (TIMESTAMP_NOT_FINITE(t))
        bad_field(ord, "run_at", "must be finite");
    return t;
}

int32 parse_priority(int ord, const JsonbValue &v)
{
    if (v.type != jbvNumeric)
        bad_field(ord, "priority", "must be an integer");
    Numeric num = v.val.numeric;
    char *s = pg::call([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num))); });
    char *end = nullptr;
    errno = 0;
    long long value = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || value < PG_INT32_MIN || value > PG_INT32_MAX)
        bad_field(ord, "priority", "must be an integer between -2147483648 and 2147483647");
    return static_cast<int32>(value);
}

Datum parse_key(int ord, const std::string &field, const JsonbValue &v, std::string *bytes)
{
    if (v.type != jbvString)
        bad_field(ord, field, "must be a string");
    if (v.val.string.len < 1 || v.val.string.len > max_key_bytes)
        bad_field(ord, field, "must be 1 to 512 bytes long");
    if (bytes)
        bytes->assign(v.val.string.val, v.val.string.len);
    return json::to_text(v);
}

std::vector<BatchRow> parse_batch(Datum jobs_json, TimestampTz now, Datum empty_payload)
{
    std::vector<json::Object> objects = json::objects(jobs_json, "jobs", args::max_array_elements);
    std::vector<BatchRow> rows;
    rows.reserve(objects.size());
    int ord = 0;
    for (const json::Object &obj : objects) {
        BatchRow r{++ord, empty_payload, now, 0, false, {}, 0, false, 0};
        for (const json::Field &f : obj) {
            if (f.value.type == jbvNull)
                continue;  // null counts as absent
            if (f.key == "payload")
                r.payload = json::to_jsonb(f.value);
            else if (f.key == "run_at")
                r.run_at = parse_run_at(ord, f.value);
            else if (f.key == "priority")
                r.priority = parse_priority(ord, f.value);
            else if (f.key == "unique_key")
                r.key_text = parse_key(ord, f.key, f.value, &r.key), r.has_key = true;
            else if (f.key == "concurrency_key")
                r.concurrency_text = parse_key(ord, f.key, f.value, nullptr), r.has_concurrency = true;
            else
                bad_field(ord, f.key, "is not a job field (payload, run_at, priority, unique_key, concurrency_key)");
        }
        rows.push_back(std::move(r));
    }
    return rows;
}

// Byte order of the keys (COLLATE "C"), then input order; keyless rows last.
bool lock_order(const BatchRow *a, const BatchRow *b)
{
    if (a->has_key != b->has_key)
        return a->has_key;
    if (a->has_key && a->key != b->key)
        return a->key < b->key;  // std::string compares unsigned bytes
    return a->ord < b->ord;
}

Datum key_array(const std::vector<BatchRow *> &rows)
{
    std::vector<Datum> v;
    for (BatchRow *r : rows)
        v.push_back(r->key_text);
    return spi::array(TEXTOID, v, std::vector<bool>(v.size(), false));
}

// Inserts `pending` in order; marks the rows that went in.
void insert_pending(Datum queue, Datum max_attempts, TimestampTz now, const std::vector<BatchRow *> &pending,
                    jobs::Sequence &ids)
{
    size_t n = pending.size();
    std::vector<Datum> id(n), pri(n), run(n), key(n), conc(n), payload(n);
    std::vector<bool> no(n, false), key_null(n), conc_null(n);
    std::map<int64, BatchRow *> by_id;
    for (size_t k = 0; k < n; k++) {
        BatchRow *r = pending[k];
        int64 new_id = ids.next();
        by_id[new_id] = r;
        id[k] = Int64GetDatum(new_id);
        pri[k] = Int32GetDatum(r->priority);
        run[k] = TimestampTzGetDatum(r->run_at);
        key[k] = r->key_text;
        key_null[k] = !r->has_key;
        conc[k] = r->concurrency_text;
        conc_null[k] = !r->has_concurrency;
        payload[k] = r->payload;
    }
    uint64 rows = spi::exec(insert_batch, spi::Args()
                                              .add(queue)
                                              .add(max_attempts)
                                              .add(TimestampTzGetDatum(now))
                                              .add(spi::array(INT8OID, id, no))
                                              .add(spi::array(INT4OID, pri, no))
                                              .add(spi::array(TIMESTAMPTZOID, run, no))
                                              .add(spi::array(TEXTOID, key, key_null))
                                              .add(spi::array(TEXTOID, conc, conc_null))
                                              .add(spi::array(JSONBOID, payload, no)));
    for (uint64 k = 0; k < rows; k++) {
        BatchRow *r = by_id.at(DatumGetInt64(spi::value(k, 0)));
        r->id = DatumGetInt64(spi::value(k, 0));
        r->inserted = r->resolved = true;
    }
}

// Maps key -> row for the rows still unresolved.
std::map<std::string, BatchRow *> by_key(const std::vector<BatchRow *> &rows)
{
    std::map<std::string, BatchRow *> m;
    for (BatchRow *r : rows)
        if (!r->resolved)
            m[r->key] = r;
    return m;
}

// Locks the row version at `tid`, waiting for its lockers, but only if it is
// still the newest version: a version a claim (or anything else) has replaced
// meanwhile is not locked at all, where SELECT ... FOR UPDATE in READ
// COMMITTED would lock the newest version, a running job, before rechecking
// it. So `replace` only ever holds ready jobs, which keeps it out of lock
// cycles with complete_batch and heartbeat (they lock running jobs only).
class VersionLocker {
public:
    VersionLocker()
    {
        rel_ = pg::call([] {
            Oid relid = get_relname_relid("_jobs", get_namespace_oid("baton", false));
            return table_open(relid, RowExclusiveLock);
        });
        slot_ = pg::call([this] { return table_slot_create(rel_, nullptr); });
    }

    bool lock(Datum tid_datum)
    {
        ItemPointerData tid = *reinterpret_cast<ItemPointer>(DatumGetPointer(tid_datum));
        TM_Result r = pg::call([&] {
            TM_FailureData tmfd;
            return table_tuple_lock(rel_, &tid, GetActiveSnapshot(), slot_, GetCurrentCommandId(true),
                                    LockTupleNoKeyExclusive, LockWaitBlock, 0, &tmfd);
        });
        return r == TM_Ok;
    }

    // Explicit, not a destructor: it calls Postgres, and after an error the
    // transaction's abort releases both.
    void close()
    {
        pg::call([this] {
            ExecDropSingleTupleTableSlot(slot_);
            table_close(rel_, NoLock);
        });
    }

private:
    Relation rel_;
    TupleTableSlot *slot_;
};

// `replace`: overwrite the ready holders of conflicting keys, locking them in
// key byte order. A holder that changed before it could be locked is read
// again at once (before any later key), so the order holds.
void replace_ready_holders(Datum queue, const std::vector<BatchRow *> &conflicts, bool *due_now, TimestampTz now)
{
    uint64 found = spi::exec(ready_holders, spi::Args().add(queue).add(key_array(conflicts)));
    if (found == 0)
        return;
    std::map<std::string, BatchRow *> rows = by_key(conflicts);
    struct Holder {
        BatchRow *row;
        int64 id;
        Datum tid;
    };
    std::vector<Holder> holders;
    for (uint64 k = 0; k < found; k++) {
        text *t = spi::text_value(k, 1);
        holders.push_back({rows.at(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))),
                           DatumGetInt64(spi::value(k, 0)), spi::value(k, 2)});
    }
    VersionLocker locker;
    std::vector<BatchRow *> hit;
    for (Holder &h : holders) {
        for (;;) {
            pg::call([] { CHECK_FOR_INTERRUPTS(); });
            if (locker.lock(h.tid)) {
                h.row->id = h.id;
                hit.push_back(h.row);
                break;
            }
            // Under REPEATABLE READ the re-read would see the same version
            // forever: fail as PostgreSQL's own row locking does there.
            if (IsolationUsesXactSnapshot())
                throw Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                            "baton: could not serialize access due to concurrent update");
            // Changed meanwhile: is the key still held by a ready job?
            if (spi::exec(ready_holder, spi::Args().add(queue).add(h.row->key_text)) == 0)
                break;  // now running or finished: reported as it is
            h.id = DatumGetInt64(spi::value(0, 0));
            h.tid = spi::value(0, 1);
        }
    }
    locker.close();
    if (hit.empty())
        return;
    std::vector<Datum> id, payload, run, pri, conc;
    std::vector<bool> conc_null;
    for (BatchRow *r : hit) {
        id.push_back(Int64GetDatum(r->id));
        payload.push_back(r->payload);
        run.push_back(TimestampTzGetDatum(r->run_at));
        pri.push_back(Int32GetDatum(r->priority));
        conc.push_back(r->concurrency_text);
        conc_null.push_back(!r->has_concurrency);
    }
    std::vector<bool> no(hit.size(), false);
    spi::exec(replace_locked[jobs::parking_installed()], spi::Args()
                                  .add(queue)
                                  .add(spi::array(INT8OID, id, no))
                                  .add(spi::array(JSONBOID, payload, no))
                                  .add(spi::array(TIMESTAMPTZOID, run, no))
                                  .add(spi::array(INT4OID, pri, no))
                                  .add(spi::array(TEXTOID, conc, conc_null)));
    for (BatchRow *r : hit) {
        r->resolved = true;
        *due_now = *due_now || r->run_at <= now;
    }
}

// Conflicts left: report the unfinished holder's id; lock nothing.
void report_holders(Datum queue, const std::vector<BatchRow *> &conflicts)
{
    std::vector<BatchRow *> open;
    for (BatchRow *r : conflicts)
        if (!r->resolved)
            open.push_back(r);
    if (open.empty())
        return;
    uint64 found = spi::exec(find_holders, spi::Args().add(queue).add(key_array(open)));
    std::map<std::string, BatchRow *> rows = by_key(open);
    for (uint64 k = 0; k < found; k++) {
        text *t = spi::text_value(k, 1);
        BatchRow *r = rows.at(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
        r->id = DatumGetInt64(spi::value(k, 0));
        r->resolved = true;
    }
}

} // namespace

BATON_FUNCTION(baton_enqueue_batch)
{
    Datum queue = args::queue(fcinfo, 0);
    if (args::is_null(fcinfo, 1))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: jobs must not be NULL");
    bool replace = args::on_conflict_replace(fcinfo, 2);
    TimestampTz now = jobs::clock();
    std::vector<BatchRow> rows = parse_batch(PG_GETARG_DATUM(1), now, empty_object());

    // One writer per key (its first occurrence), in lock order.
    std::vector<BatchRow *> order;
    for (BatchRow &r : rows)
        order.push_back(&r);
    std::sort(order.begin(), order.end(), lock_order);
    std::vector<BatchRow *> writers;
    std::vector<std::pair<BatchRow *, BatchRow *>> duplicates;  // (later, first)
    for (BatchRow *r : order) {
        if (r->has_key && !writers.empty() && writers.back()->has_key && writers.back()->key == r->key)
            duplicates.emplace_back(r, writers.back());
        else
            writers.push_back(r);
    }

    pg::call([&] { InitMaterializedSRF(fcinfo, 0); });
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);

    keylock::share_queue(queue);
    spi::connect();
    // The guard is held: a drop_queue that committed first is seen here,
    // one that comes later waits for this transaction.
    Datum max_attempts = Int32GetDatum(jobs::require_queue(queue));
    jobs::Sequence ids = jobs::job_ids();
    bool due_now = false;
    insert_pending(queue, max_attempts, now, writers, ids);
    std::vector<BatchRow *> conflicts;
    for (BatchRow *r : writers) {
        if (r->inserted)
            due_now = due_now || r->run_at <= now;
        else if (r->has_key)
            conflicts.push_back(r);
        else  // a keyless row always goes in
            throw Error(ERRCODE_INTERNAL_ERROR, "baton: a job without unique_key was not inserted");
    }
    if (replace && !conflicts.empty())
        replace_ready_holders(queue, conflicts, &due_now, now);
    report_holders(queue, conflicts);
    for (BatchRow *r : conflicts)
        if (!r->resolved)  // the holder was deleted (purged) since the INSERT
            throw Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                        "baton: the job holding unique_key \"%s\" was deleted concurrently; retry the batch",
                        r->key.c_str());
    for (auto &[later, first] : duplicates)
        later->id = first->id;

    for (const BatchRow &r : rows) {
        Datum values[3] = {Int32GetDatum(r.ord), Int64GetDatum(r.id), BoolGetDatum(r.inserted)};
        bool nulls[3] = {false, false, false};
        pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
    }
    if (due_now)
        jobs::notify_due(queue);
    spi::finish();
    return (Datum) 0;
}
