// enqueue_batch: many jobs in one call, never deadlocking with another batch
// or with the workers' functions. Its one INSERT writes the rows in
// unique-key byte order (COLLATE "C"), keyless rows after in input order, and
// a key is never inserted twice; `replace` then locks the ready holders of
// the other keys in the same order, and never a running job. So two batches
// with overlapping keys wait for each other in one order, and the workers'
// functions (which lock running jobs only) never wait for a batch.
#include "args.hpp"
#include "clock.hpp"
#include "floors.hpp"
#include "interrupts.hpp"
#include "json.hpp"
#include "keylock.hpp"
#include "notify.hpp"
#include "result.hpp"
#include "rows.hpp"
#include "spi.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
}

using namespace baton;

namespace {

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

spi::Statement replace_locked[2] = {REPLACE_LOCKED(""), REPLACE_LOCKED(UNPARK_SQL)};

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
    bool tried = false;  // by insert_below_sql: inserted, or its key is held
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
    char what[64];
    snprintf(what, sizeof what, "jobs element %d: %s", ord, field.c_str());
    args::check_key_length(what, v.val.string.len);
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

// Moves the floors' epoch if one of `rows` just written (inserted or
// replaced, a ready job) came with a run_at long past (floors.hpp).
void moved_if_backdated(const std::vector<BatchRow *> &rows)
{
    bool any = false;
    TimestampTz earliest = 0;
    for (const BatchRow *r : rows)
        if (!any || r->run_at < earliest) {
            earliest = r->run_at;
            any = true;
        }
    if (any)
        floors::moved_if_backdated(earliest);
}

// Inserts the rows below SQL (rows::JobTable), in order: a keyed row
// unless an unfinished job holds its key (ON CONFLICT DO NOTHING's
// speculative insertion). Nothing, when the table has columns baton does
// not know (an SQL INSERT fills their defaults), or triggers; marks the
// rows that went in and those tried.
void insert_below_sql(Datum queue, int32 max_attempts, TimestampTz now, const std::vector<BatchRow *> &rows,
                      Sequence &ids)
{
    rows::JobTable table("baton.enqueue_batch()");
    if (!table.plain_insert()) {
        table.close();
        return;
    }
    std::vector<BatchRow *> inserted;
    for (BatchRow *r : rows) {
        check_interrupts();
        int64 id = ids.next();
        rows::NewJob row{id,         queue,       r->priority,         max_attempts, r->run_at,
                         now,        r->payload,  r->has_concurrency,  r->concurrency_text,
                         r->has_key, r->key_text};
        rows::Added added = rows::Added::added;
        if (r->has_key)
            added = table.add_ready_unless_held(row);
        else
            table.add_ready(row);
        if (added == rows::Added::held_unseen)
            rows::serialization_failure();
        r->tried = true;
        if (added == rows::Added::added) {
            r->id = id;
            r->inserted = r->resolved = true;
            inserted.push_back(r);
        }
    }
    moved_if_backdated(inserted);
    table.close();
}

// Inserts through SQL the rows insert_below_sql did not try, in order;
// marks the rows that went in.
void insert_pending(Datum queue, Datum max_attempts, TimestampTz now, const std::vector<BatchRow *> &all,
                    Sequence &ids)
{
    std::vector<BatchRow *> pending;
    for (BatchRow *r : all)
        if (!r->tried)
            pending.push_back(r);
    if (pending.empty())
        return;
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
    moved_if_backdated(pending);
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
    std::vector<BatchRow *> hit;
    for (Holder &h : holders) {
        for (;;) {
            check_interrupts();
            if (rows::lock_version(h.tid)) {
                h.row->id = h.id;
                hit.push_back(h.row);
                break;
            }
            // Under REPEATABLE READ the re-read would see the same version
            // forever: fail as PostgreSQL's own row locking does there.
            if (IsolationUsesXactSnapshot())
                rows::serialization_failure();
            // Changed meanwhile: is the key still held by a ready job?
            if (spi::exec(ready_holder, spi::Args().add(queue).add(h.row->key_text)) == 0)
                break;  // now running or finished: reported as it is
            h.id = DatumGetInt64(spi::value(0, 0));
            h.tid = spi::value(0, 1);
        }
    }
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
    spi::exec(replace_locked[rows::parking_installed()], spi::Args()
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
    moved_if_backdated(hit);
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

// One writer per key (its first occurrence), in lock order; later
// occurrences are paired with their writer.
struct Writers {
    std::vector<BatchRow *> rows;
    std::vector<std::pair<BatchRow *, BatchRow *>> duplicates;  // (later, first)
};

Writers one_writer_per_key(std::vector<BatchRow> &batch)
{
    std::vector<BatchRow *> order;
    for (BatchRow &r : batch)
        order.push_back(&r);
    std::sort(order.begin(), order.end(), lock_order);
    Writers w;
    for (BatchRow *r : order) {
        if (r->has_key && !w.rows.empty() && w.rows.back()->has_key && w.rows.back()->key == r->key)
            w.duplicates.emplace_back(r, w.rows.back());
        else
            w.rows.push_back(r);
    }
    return w;
}

// Inserts the writers, then settles the keys an unfinished job holds
// already: replaced (if ready and `replace`) or reported. True when a job
// became due now.
bool write(Datum queue, TimestampTz now, bool replace, const Writers &w)
{
    // The guard is held: a drop_queue that committed first is seen here,
    // one that comes later waits for this transaction.
    rows::Queue q = rows::require_queue(queue);
    rows::check_access(queue, q, rows::Access::produce);
    Datum max_attempts = Int32GetDatum(q.max_attempts);
    Sequence ids = job_ids();
    bool due_now = false;
    insert_below_sql(queue, q.max_attempts, now, w.rows, ids);
    insert_pending(queue, max_attempts, now, w.rows, ids);
    std::vector<BatchRow *> conflicts;
    for (BatchRow *r : w.rows) {
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
    for (auto &[later, first] : w.duplicates)
        later->id = first->id;
    return due_now;
}

} // namespace

BATON_FUNCTION(baton_enqueue_batch)
{
    Datum queue = args::queue(fcinfo, 0);
    if (args::is_null(fcinfo, 1))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: jobs must not be NULL");
    bool replace = args::on_conflict_replace(fcinfo, 2);
    TimestampTz now = read_clock();
    std::vector<BatchRow> batch = parse_batch(PG_GETARG_DATUM(1), now, json::empty_object());
    Writers writers = one_writer_per_key(batch);
    ResultRows result(fcinfo);

    keylock::share_queue(queue);
    spi::connect();
    bool due_now = write(queue, now, replace, writers);
    for (const BatchRow &r : batch) {
        Datum values[3] = {Int32GetDatum(r.ord), Int64GetDatum(r.id), BoolGetDatum(r.inserted)};
        bool nulls[3] = {false, false, false};
        result.add(values, nulls);
    }
    if (due_now)
        notify::due(queue);
    spi::finish();
    return (Datum) 0;
}
