// Direct access to baton._jobs for the hot paths (claim, complete): index
// scans, row locks and updates through PostgreSQL's table, index and
// executor APIs, without parsing, planning or starting an executor per
// statement. Updates are one heap_update plus index entries and
// constraints, as an UPDATE would do; with row triggers on the table they go
// through ExecSimpleRelationUpdate (the routine logical replication applies
// rows with), which runs BEFORE, AFTER and UPDATE OF triggers. Statement-level
// triggers do not fire.
//
// Every Postgres call is made through pg::call. Nothing here is released by
// a destructor: close() ends a call that succeeded, and after an error the
// transaction's abort releases the relation, buffers and snapshot.
#pragma once

#include "floors.hpp"
#include "pg_boundary.hpp"

#include <initializer_list>

extern "C" {
#include "access/genam.h"
#include "access/tableam.h"
#include "nodes/execnodes.h"
#include "utils/timestamp.h"
}

namespace baton::rows {

struct Key;  // an index scan key (rows.cpp)

// Positions (0-based) of baton._jobs's columns, found by name.
struct Columns {
    int id, priority, attempt, max_attempts, run_at, enqueued_at, lease_token, lease_expires_at,
        reclaim_after, started_at, finished_at, queue, state, worker, unique_key, concurrency_key,
        error, payload, result;
    int blocked_until;  // -1 before 0.2.0's upgrade script has run
};

// A row version held by a slot, read by column position.
struct Row {
    TupleTableSlot *slot;

    bool is_null(int col) const { return slot->tts_isnull[col]; }
    Datum datum(int col) const { return slot->tts_values[col]; }
    int64 int8(int col) const { return DatumGetInt64(datum(col)); }
    int32 int4(int col) const { return DatumGetInt32(datum(col)); }
    TimestampTz timestamp(int col) const { return DatumGetTimestampTz(datum(col)); }
    // A text column equals s (false when NULL).
    bool text_is(int col, const char *s) const;
};

// New values for a row: a copy of an old version's, changed column by column
// (JobTable::values_of).
class Values {
public:
    Values(Datum *values, bool *nulls) : values_(values), nulls_(nulls) {}
    Values &set(int col, Datum d)
    {
        values_[col] = d;
        nulls_[col] = false;
        return *this;
    }
    Values &set_null(int col)
    {
        values_[col] = 0;
        nulls_[col] = true;
        return *this;
    }
    Datum value(int col) const { return values_[col]; }
    bool is_null(int col) const { return nulls_[col]; }
    const Datum *values() const { return values_; }
    const bool *nulls() const { return nulls_; }

private:
    Datum *values_;
    bool *nulls_;
};

// The position of column `name` of baton.`table`, which must have `type`
// (an internal error otherwise: a superuser altered baton's tables).
int column(TupleDesc desc, const char *table, const char *name, Oid type);
bool has_column(TupleDesc desc, const char *name);

// The key columns of `index` must be the columns at these positions.
void check_key(Relation index, std::initializer_list<int> cols);

// A queue's settings that jobs take with them.
struct Queue {
    Datum lease;  // an Interval
    int32 max_attempts;
    bool paused;      // claims take nothing from it (pause(); 0.2.0 on)
    bool restricted;  // only roles granted it may produce to or work on it (grant_queue)
    bool has_retention;  // finished jobs are deleted after `retention` (set_retention)
    Datum retention;     // an Interval, when has_retention
};

// The one way to look a queue up (baton._queues): false, or 42704 from
// require_queue, when it does not exist.
bool find_queue(Datum queue, Queue *out);
Queue require_queue(Datum queue);
[[noreturn]] void no_such_queue(Datum queue);

// What a role does with a queue, for per-queue access (grant_queue).
enum class Access { produce, work };

// 42501 unless the calling role (the session's, after SET ROLE: baton's
// functions run as their owner) may do that with a restricted queue: a
// superuser, or a member of a role granted it. Nothing to check for a queue
// that is not restricted.
void check_access(Datum queue, const Queue &q, Access what);

// The SET item of an SQL UPDATE that unparks a job (0.2.0 on): a job whose
// concurrency key or place in the queue changes gets a new look.
#define UNPARK_SQL ", blocked_until = NULL"

// Whether baton._jobs has 0.2.0's blocked_until (claims park keyed jobs
// whose key is full); false while a 0.1.0 install awaits its upgrade script.
bool parking_installed();

// 40001, as PostgreSQL's own row locking raises under REPEATABLE READ when
// the row changed since the transaction's snapshot.
[[noreturn]] void serialization_failure();

// Locks the version of a baton._jobs row at `tid` (a ctid Datum), waiting
// for its lockers, but only if it is still the newest version: false when a
// newer one exists (SELECT ... FOR UPDATE would lock that one instead).
bool lock_version(Datum tid_datum);

// A text Datum of a C string, palloc'd.
Datum text_datum(const char *s);

// A new ready job (enqueue, enqueue_batch).
struct NewJob {
    int64 id;
    Datum queue;
    int32 priority;
    int32 max_attempts;
    TimestampTz run_at;
    TimestampTz enqueued_at;
    Datum payload;
    bool has_concurrency;
    Datum concurrency_key;
    bool has_unique;
    Datum unique_key;
};

// What add_ready_unless_held did.
enum class Added { added, held, held_unseen };

class JobTable {
public:
    // Opens baton._jobs for one call of `function` (named in errors), with a
    // snapshot that sees every commit so far and this transaction's own
    // earlier work. A read-only transaction or a standby gets the errors an
    // UPDATE would (25006).
    explicit JobTable(const char *function);
    void close();

    const Columns &col() const { return col_; }
    // The state names as text Datums, made once per call.
    Datum ready() const { return ready_; }
    Datum running() const { return running_; }
    Datum dead() const { return dead_; }
    Datum completed() const { return completed_; }
    int natts() const;

    // A new snapshot (READ COMMITTED) or the transaction's (REPEATABLE READ
    // and up), seeing this transaction's work up to now. No ready() or
    // expiring() scan may be open.
    void refresh_snapshot();

    // An index scan in the current snapshot: ready jobs of a queue due at
    // `now` (ready()), running jobs of a queue whose reclaim_after has passed
    // (expiring()). One scan of each kind at a time.
    class Scan {
    public:
        // The next visible row, or false at the end.
        bool next();
        Row row() const { return Row{slot_}; }
        void end();

    private:
        friend class JobTable;
        bool next_due();
        bool next_lease();
        // ready()'s segments: the priorities below below_ (all at first)
        // that have no floor, down to the highest one that has (a probe),
        // then that one from its floor (in_level_), then on below it.
        void start_probe();
        void start_level();
        bool next_segment();
        void note(int32 priority, TimestampTz run_at);
        void finish_priority();
        JobTable *table_ = nullptr;
        IndexScanDesc scan_ = nullptr;
        TupleTableSlot *slot_ = nullptr;
        bool skips_future_ = false;  // ready(): see there
        Datum queue_ = 0;
        TimestampTz now_ = 0;
        floors::Queue *floors_ = nullptr;
        bool has_below_ = false;
        int32 below_ = 0;
        bool in_level_ = false;
        bool has_level_ = false;  // the floor the probe ends at (level_, from_)
        int32 level_ = 0;
        TimestampTz from_ = 0;
        bool level_seen_ = false;  // an entry of level_ was read
        bool seen_ = false;        // the first entry of the priority being read
        int32 seen_priority_ = 0;
        TimestampTz seen_from_ = 0;
        bool leases_ = false;      // expiring(): read from the lease floor
        bool lease_seen_ = false;  // its first entry was read, at lease_from_
        TimestampTz lease_from_ = 0;
        bool lease_ended_ = false;  // read to its end
    };
    // Ready jobs of a queue due at `now`, in claim order. The scan reads each
    // index entry before the row it points to: an entry not due yet ends its
    // priority (the rest of it is later still), and the scan goes on with the
    // next lower priority by a new descent, so jobs scheduled for later are
    // never walked, whatever their number or priority. Each priority is read
    // from its floor (src/floors.hpp): the entries dead claims left below it
    // are not walked either.
    Scan ready(Datum queue, TimestampTz now);
    // Running jobs of a queue whose reclaim_after has passed, read from the
    // lease floor (src/floors.hpp): the entries completed and reclaimed
    // jobs left below it are not walked.
    Scan expiring(Datum queue, TimestampTz now);
    // Ready jobs of a queue parked until a time that has come (parks()).
    Scan blocked(Datum queue, TimestampTz now);

    // Whether claims park keyed jobs whose key is full (0.2.0 and later).
    bool parks() const { return col_.blocked_until >= 0; }

    // The visible version of job `id` (found()), or false.
    bool find(int64 id);
    Row found() const { return Row{found_}; }

    // The version at `tid` if this snapshot sees it (fetched()), or false.
    bool fetch(ItemPointerData tid);
    Row fetched() const { return Row{fetched_}; }

    // The values of `old`, to change and pass to update(); they live until
    // next_row().
    Values values_of(Row old);

    // Replaces the version `seen` (a row of a scan, find() or fetch()) with
    // `values`, but only if it is still the newest version: TM_Ok when it
    // was replaced; TM_Updated, TM_Deleted or TM_SelfModified when a newer
    // version exists; TM_WouldBlock when another transaction holds it and
    // `wait` is LockWaitSkip. It waits for such a holder with LockWaitBlock.
    // TM_Invisible when a BEFORE UPDATE row trigger skipped the update (the
    // version stays locked by this transaction). Nothing is written unless
    // TM_Ok.
    TM_Result update(Row seen, const Values &values, LockWaitPolicy wait);

    // Values for a new row, every column NULL (to set and pass to insert());
    // they live until next_row().
    Values blank();

    // Whether every column of the table is one of Columns's: a column a
    // superuser added may have a default, which only an SQL INSERT fills.
    bool only_known_columns() const;

    // Adds a row with `values`, as an INSERT does (ExecSimpleRelationInsert,
    // the routine logical replication applies rows with): NOT NULL checks,
    // index entries (a duplicate in a unique index is 23505), BEFORE and
    // AFTER row triggers.
    void insert(const Values &values);
    // Whether add_ready and add_ready_unless_held may write below SQL:
    // only_known_columns(), no INSERT triggers, generated columns or
    // partitions, and the unique-key index in place.
    bool plain_insert() const;

    // insert() of a new ready job; frees its values.
    void add_ready(const NewJob &job);

    // add_ready of a job with a unique key, unless an unfinished job of the
    // queue holds the key: INSERT ... ON CONFLICT DO NOTHING on
    // _jobs_unique_key, by the same speculative insertion (it waits for a
    // holder still being inserted). held_unseen: the holder is one this
    // REPEATABLE READ snapshot does not see, where PostgreSQL raises 40001.
    // Needs plain_insert().
    Added add_ready_unless_held(const NewJob &job);

    // Frees what values_of(), blank(), update() and insert() allocated for
    // the last row.
    void next_row();

private:
    enum Index { ready_index, running_index, primary_key, blocked_index, unique_index, n_indexes };

    Relation rel_ = nullptr;
    Relation index_[n_indexes] = {};
    TupleTableSlot *scan_slot_[n_indexes] = {};
    IndexScanDesc find_scan_ = nullptr;  // on the primary key, kept for the snapshot's life
    TupleTableSlot *found_ = nullptr;
    EState *estate_ = nullptr;
    ResultRelInfo *rri_ = nullptr;
    EPQState *epq_ = nullptr;
    RangeTblEntry *rte_ = nullptr;
    Datum ready_ = 0, running_ = 0, dead_ = 0, completed_ = 0;
    int open_scans_ = 0;
    TupleTableSlot *locked_ = nullptr;   // the version update() locked (with row triggers)
    TupleTableSlot *fetched_ = nullptr;
    bool plain_update_ = false;  // no row triggers, generated columns or partitions: see update()
    bool plain_insert_ = false;  // likewise for inserts
    TupleTableSlot *new_ = nullptr;
    Columns col_{};
    bool snapshot_pushed_ = false;
    int pinned_path_ = 0;  // a GUC nest level while triggers or CHECKs may run (spi.hpp)

    void open_executor();
    void name_written_columns();
    void find_indexes();
    IndexScanDesc begin(int which, const Key *keys, int nkeys);
    Scan queue_scan(int which, AttrNumber time_col, Datum queue, TimestampTz now);
    Scan floored_scan(int which, Datum queue, TimestampTz now);
    void end_find();
    Values ready_values(const NewJob &job);
    void store(const Values &values);
};

} // namespace baton::rows
