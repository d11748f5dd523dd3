#include "rows.hpp"
#include "spi.hpp"
#include "compat.hpp"
#include "indexes.hpp"

#include <cstring>
#include <initializer_list>

extern "C" {
#include "access/genam.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "nodes/makefuncs.h"
#include "tcop/utility.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "miscadmin.h"
}

namespace baton::rows {

namespace {

const char *type_name(Oid type)
{
    switch (type) {
    case INT4OID: return "integer";
    case INT8OID: return "bigint";
    case TEXTOID: return "text";
    case JSONBOID: return "jsonb";
    case BOOLOID: return "boolean";
    case INTERVALOID: return "interval";
    case TIMESTAMPTZOID: return "timestamp with time zone";
    default: return "the expected one";
    }
}

// Column positions by name, each checked for its type: a column a superuser
// dropped or changed is an error, not a crash.
Columns find_columns(TupleDesc desc)
{
    Columns c;
    struct {
        const char *name;
        Oid type;
        int *pos;
    } wanted[] = {
        {"id", INT8OID, &c.id}, {"priority", INT4OID, &c.priority}, {"attempt", INT4OID, &c.attempt},
        {"max_attempts", INT4OID, &c.max_attempts}, {"run_at", TIMESTAMPTZOID, &c.run_at},
        {"enqueued_at", TIMESTAMPTZOID, &c.enqueued_at}, {"lease_token", INT8OID, &c.lease_token},
        {"lease_expires_at", TIMESTAMPTZOID, &c.lease_expires_at},
        {"reclaim_after", TIMESTAMPTZOID, &c.reclaim_after}, {"started_at", TIMESTAMPTZOID, &c.started_at},
        {"finished_at", TIMESTAMPTZOID, &c.finished_at}, {"queue", TEXTOID, &c.queue},
        {"state", TEXTOID, &c.state}, {"worker", TEXTOID, &c.worker}, {"unique_key", TEXTOID, &c.unique_key},
        {"concurrency_key", TEXTOID, &c.concurrency_key}, {"error", TEXTOID, &c.error},
        {"payload", JSONBOID, &c.payload}, {"result", JSONBOID, &c.result},
    };
    for (auto &w : wanted)
        *w.pos = column(desc, "_jobs", w.name, w.type);
    // 0.2.0 on: absent while a 0.1.0 install awaits ALTER EXTENSION UPDATE.
    c.blocked_until = has_column(desc, "blocked_until") ? column(desc, "_jobs", "blocked_until", TIMESTAMPTZOID) : -1;
    return c;
}

} // namespace

bool has_column(TupleDesc desc, const char *name)
{
    for (int i = 0; i < desc->natts; i++)
        if (!TupleDescAttr(desc, i)->attisdropped && strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
            return true;
    return false;
}

void check_key(Relation index, std::initializer_list<int> cols)
{
    int k = 0;
    bool ok = index->rd_index->indnkeyatts == static_cast<int>(cols.size());
    for (int col : cols)
        ok = ok && index->rd_index->indkey.values[k++] == col + 1;
    if (!ok)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: index baton.%s has been altered", RelationGetRelationName(index));
}

int column(TupleDesc desc, const char *table, const char *name, Oid type)
{
    for (int i = 0; i < desc->natts; i++) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (a->attisdropped || strcmp(NameStr(a->attname), name) != 0)
            continue;
        if (a->atttypid != type)
            throw Error(ERRCODE_INTERNAL_ERROR, "baton: column baton.%s.%s has been altered: its type is not %s",
                        table, name, type_name(type));
        return i;
    }
    throw Error(ERRCODE_INTERNAL_ERROR, "baton: column baton.%s.%s is missing", table, name);
}

// One scan key, as data; turned into a ScanKeyData (which looks up the
// function) inside pg::call.
struct Key {
    AttrNumber attno;
    StrategyNumber strategy;
    Oid collation;
    RegProcedure proc;
    Datum arg;
};

static void init_keys(ScanKeyData *out, const Key *keys, int nkeys)
{
    for (int i = 0; i < nkeys; i++)
        ScanKeyEntryInitialize(&out[i], 0, keys[i].attno, keys[i].strategy, InvalidOid, keys[i].collation,
                               keys[i].proc, keys[i].arg);
}

bool Row::text_is(int col, const char *s) const
{
    if (is_null(col))
        return false;
    auto *v = reinterpret_cast<struct varlena *>(DatumGetPointer(datum(col)));
    if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
        v = pg::call([v] { return pg_detoast_datum_packed(v); });
    size_t len = strlen(s);
    return VARSIZE_ANY_EXHDR(v) == len && memcmp(VARDATA_ANY(v), s, len) == 0;
}

Datum text_datum(const char *s)
{
    return pg::call([s] { return CStringGetTextDatum(s); });
}

JobTable::JobTable(const char *function)
{
    pg::call([&] {
        PreventCommandIfReadOnly(function);
        PreventCommandDuringRecovery(function);
    });
    open_executor();
    col_ = find_columns(RelationGetDescr(rel_));
    name_written_columns();
    find_indexes();
    refresh_snapshot();
}

// The relation, an executor state with it as the result relation (indexes,
// constraints, triggers), and the slots the calls use.
void JobTable::open_executor()
{
    pg::call([this] {
        Oid nsp = get_namespace_oid("baton", false);
        rel_ = table_open(get_relname_relid("_jobs", nsp), RowExclusiveLock);

        estate_ = CreateExecutorState();
        RangeTblEntry *rte = makeNode(RangeTblEntry);
        rte->rtekind = RTE_RELATION;
        rte->relid = RelationGetRelid(rel_);
        rte->relkind = rel_->rd_rel->relkind;
        rte->rellockmode = RowExclusiveLock;
        compat::init_range_table(estate_, rte);
        rte_ = rte;
        rri_ = makeNode(ResultRelInfo);
        InitResultRelInfo(rri_, rel_, 1, nullptr, 0);
        // Closed by ExecCloseResultRelations, with any relation an AFTER
        // trigger opened.
        estate_->es_opened_result_relations = lappend(estate_->es_opened_result_relations, rri_);
        estate_->es_output_cid = GetCurrentCommandId(true);
        indexes::open(rri_);
        epq_ = static_cast<EPQState *>(palloc0(sizeof(EPQState)));
        compat::epq_init(epq_, estate_);
        AfterTriggerBeginQuery();

        locked_ = table_slot_create(rel_, &estate_->es_tupleTable);
        fetched_ = table_slot_create(rel_, &estate_->es_tupleTable);
        TriggerDesc *trig = rri_->ri_TrigDesc;
        // Code a superuser added to the table runs under the pinned path
        // (statement triggers do not fire here: baton's own one included).
        bool row_triggers = trig && (trig->trig_insert_before_row || trig->trig_insert_after_row ||
                                     trig->trig_insert_instead_row || trig->trig_update_before_row ||
                                     trig->trig_update_after_row || trig->trig_update_instead_row ||
                                     trig->trig_delete_before_row || trig->trig_delete_after_row ||
                                     trig->trig_delete_instead_row);
        if (row_triggers || (rel_->rd_att->constr && rel_->rd_att->constr->num_check > 0))
            pinned_path_ = spi::pin_search_path();
        plain_update_ = !(trig && (trig->trig_update_before_row || trig->trig_update_after_row ||
                                   trig->trig_update_instead_row || trig->trig_update_new_table ||
                                   trig->trig_update_old_table)) &&
                        !(rel_->rd_att->constr && rel_->rd_att->constr->has_generated_stored) &&
                        !rel_->rd_rel->relispartition;
        plain_insert_ = !(trig && (trig->trig_insert_before_row || trig->trig_insert_after_row ||
                                   trig->trig_insert_instead_row || trig->trig_insert_new_table)) &&
                        !(rel_->rd_att->constr && rel_->rd_att->constr->has_generated_stored) &&
                        !rel_->rd_rel->relispartition;
        // What ExecSimpleRelationUpdate checks first: a publication of
        // UPDATEs needs a replica identity.
        CheckCmdReplicaIdentity(rel_, CMD_UPDATE);
        new_ = ExecInitExtraTupleSlot(estate_, RelationGetDescr(rel_), &TTSOpsVirtual);
    });
}

// The columns claim and complete write: what UPDATE OF triggers and the
// indexes' "unchanged by this update" hint are told. And the state names.
void JobTable::name_written_columns()
{
    pg::call([this] {
        MemoryContext was = MemoryContextSwitchTo(estate_->es_query_cxt);
        Bitmapset **updated = compat::updated_columns(estate_, rte_);
        for (int col : {col_.state, col_.attempt, col_.lease_token, col_.lease_expires_at, col_.reclaim_after,
                        col_.worker, col_.started_at, col_.finished_at, col_.error, col_.result, col_.blocked_until})
            if (col >= 0)
                *updated = bms_add_member(*updated, col + 1 - FirstLowInvalidHeapAttributeNumber);
        ready_ = CStringGetTextDatum("ready");
        running_ = CStringGetTextDatum("running");
        dead_ = CStringGetTextDatum("dead");
        completed_ = CStringGetTextDatum("completed");
        MemoryContextSwitchTo(was);
    });
}

// The indexes the scans use, by name, each checked for the columns the
// scans name by position.
void JobTable::find_indexes()
{
    Oid pkey = pg::call([this] { return compat::primary_key_index(rel_); });
    for (int i = 0; i < rri_->ri_NumIndices; i++) {
        Relation idx = rri_->ri_IndexRelationDescs[i];
        const char *name = RelationGetRelationName(idx);
        if (strcmp(name, "_jobs_ready") == 0)
            index_[ready_index] = idx;
        else if (strcmp(name, "_jobs_running") == 0)
            index_[running_index] = idx;
        else if (strcmp(name, "_jobs_blocked") == 0)
            index_[blocked_index] = idx;
        else if (strcmp(name, "_jobs_unique_key") == 0)
            index_[unique_index] = idx;
        else if (RelationGetRelid(idx) == pkey)
            index_[primary_key] = idx;
    }
    for (int i = 0; i < n_indexes; i++)
        if (index_[i] == nullptr && i != unique_index && (i != blocked_index || parks()))
            throw Error(ERRCODE_INTERNAL_ERROR, "baton: an index of baton._jobs is missing");
    check_key(index_[ready_index], {col_.queue, col_.priority, col_.run_at, col_.id});
    check_key(index_[running_index], {col_.queue, col_.reclaim_after});
    check_key(index_[primary_key], {col_.id, col_.queue});
    if (parks())
        check_key(index_[blocked_index], {col_.queue, col_.blocked_until});
    if (index_[unique_index] != nullptr)
        check_key(index_[unique_index], {col_.queue, col_.unique_key});
}

void JobTable::close()
{
    if (open_scans_ != 0)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: a scan of baton._jobs was left open");
    end_find();
    pg::call([this] {
        AfterTriggerEndQuery(estate_);  // AFTER triggers run in the call's snapshot
        if (snapshot_pushed_)
            PopActiveSnapshot();
        snapshot_pushed_ = false;
        EvalPlanQualEnd(epq_);
        ExecCloseResultRelations(estate_);
        ExecResetTupleTable(estate_->es_tupleTable, false);
        FreeExecutorState(estate_);
        table_close(rel_, NoLock);
        if (pinned_path_ != 0)
            spi::unpin_search_path(pinned_path_);
    });
    pinned_path_ = 0;
}

int JobTable::natts() const
{
    return RelationGetDescr(rel_)->natts;
}

void JobTable::refresh_snapshot()
{
    // A scan reads in the snapshot it began with: none may outlive it.
    if (open_scans_ != 0)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: a scan of baton._jobs is still open");
    end_find();
    pg::call([this] {
        if (snapshot_pushed_)
            PopActiveSnapshot();
        snapshot_pushed_ = false;
        CommandCounterIncrement();
        PushActiveSnapshot(GetTransactionSnapshot());
        UpdateActiveSnapshotCommandId();
        snapshot_pushed_ = true;
        estate_->es_snapshot = GetActiveSnapshot();
        estate_->es_output_cid = GetCurrentCommandId(true);
    });
}

IndexScanDesc JobTable::begin(int which, const Key *keys, int nkeys)
{
    Relation idx = index_[which];
    return pg::call([&] {
        if (scan_slot_[which] == nullptr)
            scan_slot_[which] = table_slot_create(rel_, &estate_->es_tupleTable);
        ScanKeyData scankeys[3];
        Assert(nkeys <= 3);
        init_keys(scankeys, keys, nkeys);
        // Registered, so that the scan's snapshot is its own to release.
        IndexScanDesc scan = compat::index_begin(rel_, idx, RegisterSnapshot(GetActiveSnapshot()), nkeys);
        index_rescan(scan, scankeys, nkeys, nullptr, 0);
        return scan;
    });
}

// The entries of index `which` for `queue` whose timestamp column `time_col`
// (an index column number) is at most `now`.
JobTable::Scan JobTable::queue_scan(int which, AttrNumber time_col, Datum queue, TimestampTz now)
{
    Key keys[2] = {
        {1, BTEqualStrategyNumber, index_[which]->rd_indcollation[0], F_TEXTEQ, queue},
        {time_col, BTLessEqualStrategyNumber, InvalidOid, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(now)},
    };
    Scan s;
    s.table_ = this;
    s.scan_ = begin(which, keys, 2);
    s.slot_ = scan_slot_[which];
    open_scans_++;
    return s;
}

// _jobs_ready (queue, priority DESC, run_at, id) WHERE state = 'ready' ...,
// read with three keys, entries with their values: a probe, queue = and
// priority < below (<= INT_MAX when none) and priority > the next priority
// with a floor (>= INT_MIN when none); or one priority from its floor,
// queue =, priority = and run_at >=. A probe over priorities with no entry
// reads one page: the page's high key ends it.
// queue = on an index whose first column is a queue name.
static void queue_key(ScanKeyData *out, Relation index, Datum queue)
{
    ScanKeyEntryInitialize(out, 0, 1, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[0], F_TEXTEQ, queue);
}

static void probe_keys(ScanKeyData *out, Relation index, Datum queue, bool has_below, int32 below, bool has_level,
                       int32 level)
{
    queue_key(&out[0], index, queue);
    if (has_below)
        ScanKeyEntryInitialize(&out[1], 0, 2, BTLessStrategyNumber, InvalidOid, InvalidOid, F_INT4LT,
                               Int32GetDatum(below));
    else
        ScanKeyEntryInitialize(&out[1], 0, 2, BTLessEqualStrategyNumber, InvalidOid, InvalidOid, F_INT4LE,
                               Int32GetDatum(PG_INT32_MAX));
    if (has_level)
        ScanKeyEntryInitialize(&out[2], 0, 2, BTGreaterStrategyNumber, InvalidOid, InvalidOid, F_INT4GT,
                               Int32GetDatum(level));
    else
        ScanKeyEntryInitialize(&out[2], 0, 2, BTGreaterEqualStrategyNumber, InvalidOid, InvalidOid, F_INT4GE,
                               Int32GetDatum(PG_INT32_MIN));
}

static void level_keys(ScanKeyData *out, Relation index, Datum queue, int32 level, TimestampTz from)
{
    queue_key(&out[0], index, queue);
    ScanKeyEntryInitialize(&out[1], 0, 2, BTEqualStrategyNumber, InvalidOid, InvalidOid, F_INT4EQ,
                           Int32GetDatum(level));
    ScanKeyEntryInitialize(&out[2], 0, 3, BTGreaterEqualStrategyNumber, InvalidOid, InvalidOid, F_TIMESTAMPTZ_GE,
                           TimestampTzGetDatum(from));
}

// A scan of index `which` for `queue` that reads each entry before its row
// (xs_want_itup) and starts from this backend's floors; keys set by the caller.
JobTable::Scan JobTable::floored_scan(int which, Datum queue, TimestampTz now)
{
    Relation idx = index_[which];
    Scan s;
    s.table_ = this;
    s.queue_ = queue;
    s.now_ = now;
    s.scan_ = pg::call([&] {
        if (scan_slot_[which] == nullptr)
            scan_slot_[which] = table_slot_create(rel_, &estate_->es_tupleTable);
        IndexScanDesc scan = compat::index_begin(rel_, idx, RegisterSnapshot(GetActiveSnapshot()), 3);
        scan->xs_want_itup = true;
        return scan;
    });
    // The epoch is read after the snapshot was taken (floors.hpp).
    s.floors_ = floors::find(RelationGetRelid(rel_), queue);
    s.slot_ = scan_slot_[which];
    open_scans_++;
    return s;
}

JobTable::Scan JobTable::ready(Datum queue, TimestampTz now)
{
    Scan s = floored_scan(ready_index, queue, now);
    s.skips_future_ = true;
    pg::call([&] { s.start_probe(); });
    return s;
}

JobTable::Scan JobTable::blocked(Datum queue, TimestampTz now)
{
    // _jobs_blocked (queue, blocked_until) WHERE state = 'ready' AND ...
    return queue_scan(blocked_index, 2, queue, now);
}

// _jobs_running (queue, reclaim_after) WHERE state = 'running' AND ...:
// queue =, reclaim_after >= the floor (-infinity when none) and <= now.
static void lease_keys(ScanKeyData *out, Relation index, Datum queue, TimestampTz from, TimestampTz now)
{
    queue_key(&out[0], index, queue);
    ScanKeyEntryInitialize(&out[1], 0, 2, BTGreaterEqualStrategyNumber, InvalidOid, InvalidOid, F_TIMESTAMPTZ_GE,
                           TimestampTzGetDatum(from));
    ScanKeyEntryInitialize(&out[2], 0, 2, BTLessEqualStrategyNumber, InvalidOid, InvalidOid, F_TIMESTAMPTZ_LE,
                           TimestampTzGetDatum(now));
}

JobTable::Scan JobTable::expiring(Datum queue, TimestampTz now)
{
    Scan s = floored_scan(running_index, queue, now);
    s.leases_ = true;
    TimestampTz from = DT_NOBEGIN;
    (void) floors::lease_floor(s.floors_, &from);
    pg::call([&] {
        ScanKeyData keys[3];
        lease_keys(keys, s.scan_->indexRelation, queue, from, now);
        index_rescan(s.scan_, keys, 3, nullptr, 0);
    });
    return s;
}

bool JobTable::find(int64 id)
{
    // the primary key (id, queue): ids are unique on their own
    Key key{1, BTEqualStrategyNumber, InvalidOid, F_INT8EQ, Int64GetDatum(id)};
    if (find_scan_ == nullptr) {
        find_scan_ = begin(primary_key, &key, 1);
        found_ = scan_slot_[primary_key];
    } else {
        pg::call([&] {
            ScanKeyData scankey;
            init_keys(&scankey, &key, 1);
            index_rescan(find_scan_, &scankey, 1, nullptr, 0);
        });
    }
    return pg::call([this] {
        if (!index_getnext_slot(find_scan_, ForwardScanDirection, found_))
            return false;
        slot_getallattrs(found_);
        return true;
    });
}

void JobTable::end_find()
{
    if (find_scan_ == nullptr)
        return;
    pg::call([this] {
        Snapshot snapshot = find_scan_->xs_snapshot;
        index_endscan(find_scan_);
        UnregisterSnapshot(snapshot);
        ExecClearTuple(found_);
    });
    find_scan_ = nullptr;
}

namespace {

// Where this backend last found a queue's row (per backend, a few queues):
// the version there, if the snapshot sees it and it is still that queue's,
// is the queue's one visible version, read without the index. Plain
// values: nothing runs at load.
struct Found {
    char name[128];  // empty: unused
    Oid rel;         // _queues (a new one after DROP and CREATE EXTENSION)
    ItemPointerData tid;
};
Found found_at[16];
int next_slot = 0;

Found *found_entry(const char *name, size_t len)
{
    for (Found &f : found_at)
        if (f.name[0] != '\0' && strlen(f.name) == len && memcmp(f.name, name, len) == 0)
            return &f;
    return nullptr;
}

void remember(const char *name, size_t len, Oid rel, ItemPointer tid)
{
    if (len == 0 || len >= sizeof found_at[0].name)
        return;
    Found *f = found_entry(name, len);
    if (f == nullptr) {
        f = &found_at[next_slot];
        next_slot = (next_slot + 1) % (sizeof found_at / sizeof found_at[0]);
        memcpy(f->name, name, len);
        f->name[len] = '\0';
    }
    f->rel = rel;
    f->tid = *tid;
}

// The remembered place, if it can be read: a vacuum may have truncated
// the table below it.
bool readable(const Found *f, Relation rel)
{
    return f != nullptr && f->rel == RelationGetRelid(rel) &&
           ItemPointerGetBlockNumber(&f->tid) < RelationGetNumberOfBlocks(rel);
}

} // namespace

// The queue's row in a snapshot taken now (READ COMMITTED: it sees every
// commit so far, a drop_queue's included): at the place it was found last,
// if still there, else through _queues's primary key.
bool find_queue(Datum queue, Queue *out)
{
    Relation rel = pg::call([] {
        return table_open(get_relname_relid("_queues", get_namespace_oid("baton", false)), AccessShareLock);
    });
    TupleDesc desc = RelationGetDescr(rel);
    int queue_col = column(desc, "_queues", "queue", TEXTOID);
    int lease_col = column(desc, "_queues", "lease", INTERVALOID);
    int attempts_col = column(desc, "_queues", "max_attempts", INT4OID);
    int paused_col = has_column(desc, "paused") ? column(desc, "_queues", "paused", BOOLOID) : -1;
    int restricted_col = has_column(desc, "restricted") ? column(desc, "_queues", "restricted", BOOLOID) : -1;
    int retention_col = has_column(desc, "retention") ? column(desc, "_queues", "retention", INTERVALOID) : -1;
    text *name = pg::call([queue] { return DatumGetTextPP(queue); });
    const char *chars = VARDATA_ANY(name);
    size_t len = VARSIZE_ANY_EXHDR(name);
    TupleTableSlot *slot = nullptr;
    Snapshot snapshot = nullptr;
    bool found = pg::call([&] {
        slot = table_slot_create(rel, nullptr);
        snapshot = RegisterSnapshot(GetTransactionSnapshot());
        Found *f = found_entry(chars, len);
        if (!readable(f, rel) || !table_tuple_fetch_row_version(rel, &f->tid, snapshot, slot))
            return false;
        slot_getallattrs(slot);
        return !slot->tts_isnull[queue_col] &&
               DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, slot->tts_values[queue_col], queue));
    });
    if (!found) {
        Relation idx = pg::call([&] { return index_open(compat::primary_key_index(rel), AccessShareLock); });
        check_key(idx, {queue_col});
        found = pg::call([&] {
            ScanKeyData k;
            queue_key(&k, idx, queue);
            IndexScanDesc scan = compat::index_begin(rel, idx, snapshot, 1);
            index_rescan(scan, &k, 1, nullptr, 0);
            bool got = index_getnext_slot(scan, ForwardScanDirection, slot);
            index_endscan(scan);
            index_close(idx, AccessShareLock);
            if (got) {
                slot_getallattrs(slot);
                remember(chars, len, RelationGetRelid(rel), &slot->tts_tid);
            }
            return got;
        });
    }
    return pg::call([&] {
        bool ok = found && !slot->tts_isnull[lease_col] && !slot->tts_isnull[attempts_col];
        if (ok) {
            out->lease = datumCopy(slot->tts_values[lease_col], false, sizeof(Interval));
            out->max_attempts = DatumGetInt32(slot->tts_values[attempts_col]);
            out->paused = paused_col >= 0 && !slot->tts_isnull[paused_col] && DatumGetBool(slot->tts_values[paused_col]);
            out->restricted = restricted_col >= 0 && !slot->tts_isnull[restricted_col] &&
                              DatumGetBool(slot->tts_values[restricted_col]);
            out->has_retention = retention_col >= 0 && !slot->tts_isnull[retention_col];
            out->retention = out->has_retention ? datumCopy(slot->tts_values[retention_col], false, sizeof(Interval))
                                                : 0;
        }
        UnregisterSnapshot(snapshot);
        ExecDropSingleTupleTableSlot(slot);
        table_close(rel, AccessShareLock);
        return ok;
    });
}

Queue require_queue(Datum queue)
{
    Queue q{};
    if (!find_queue(queue, &q))
        no_such_queue(queue);
    return q;
}

[[noreturn]] void no_such_queue(Datum queue)
{
    char *name = pg::call([queue] { return text_to_cstring(DatumGetTextPP(queue)); });
    throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: queue \"%s\" does not exist", name);
}

// A role the caller is a member of was granted the action on the queue.
static spi::Statement may_access{
    "SELECT EXISTS (SELECT 1 FROM baton._queue_access a"
    "                WHERE a.queue = $1 AND CASE WHEN $3 THEN a.produce ELSE a.work END"
    "                  AND pg_catalog.pg_has_role($2, a.grantee, 'USAGE'))",
    3, {TEXTOID, OIDOID, BOOLOID}, nullptr};

void check_access(Datum queue, const Queue &q, Access what)
{
    if (!q.restricted)
        return;
    Oid caller = pg::call([] { return GetOuterUserId(); });
    if (pg::call([caller] { return superuser_arg(caller); }))
        return;
    bool produce = what == Access::produce;
    spi::connect();
    spi::exec(may_access, spi::Args().add(queue).add(ObjectIdGetDatum(caller)).add(BoolGetDatum(produce)));
    bool may = DatumGetBool(spi::value(0, 0));
    spi::finish();
    if (!may) {
        char *name = pg::call([queue] { return text_to_cstring(DatumGetTextPP(queue)); });
        const char *role = pg::call([caller] { return GetUserNameFromId(caller, false); });
        throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "baton: permission denied for queue \"%s\": role %s may not %s",
                    name, role, produce ? "produce to it" : "work on it");
    }
}

bool parking_installed()
{
    return pg::call([] {
        Oid relid = get_relname_relid("_jobs", get_namespace_oid("baton", false));
        return get_attnum(relid, "blocked_until") != InvalidAttrNumber;
    });
}

[[noreturn]] void serialization_failure()
{
    throw Error(ERRCODE_T_R_SERIALIZATION_FAILURE, "baton: could not serialize access due to concurrent update");
}

bool lock_version(Datum tid_datum)
{
    ItemPointerData tid = *reinterpret_cast<ItemPointer>(DatumGetPointer(tid_datum));
    TM_Result r = pg::call([&] {
        Relation rel = table_open(get_relname_relid("_jobs", get_namespace_oid("baton", false)), RowExclusiveLock);
        TupleTableSlot *slot = table_slot_create(rel, nullptr);
        TM_FailureData tmfd;
        TM_Result result = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot, GetCurrentCommandId(true),
                                            LockTupleNoKeyExclusive, LockWaitBlock, 0, &tmfd);
        ExecDropSingleTupleTableSlot(slot);
        table_close(rel, NoLock);
        return result;
    });
    return r == TM_Ok;
}

bool JobTable::Scan::next()
{
    if (skips_future_)
        return next_due();
    if (leases_)
        return next_lease();
    return pg::call([this] {
        if (!index_getnext_slot(scan_, ForwardScanDirection, slot_))
            return false;
        slot_getallattrs(slot_);
        return true;
    });
}

// index_getnext_slot, but each entry is read first (xs_itup): one whose
// run_at is after now_ sends the scan to the next lower priority.
bool JobTable::Scan::next_due()
{
    return pg::call([this] {
        for (;;) {
            if (!scan_->xs_heap_continue) {
                if (index_getnext_tid(scan_, ForwardScanDirection) == nullptr) {
                    if (!next_segment())
                        return false;
                    CHECK_FOR_INTERRUPTS();
                    continue;
                }
                bool isnull;
                int32 priority = DatumGetInt32(index_getattr(scan_->xs_itup, 2, scan_->xs_itupdesc, &isnull));
                TimestampTz run_at =
                    DatumGetTimestampTz(index_getattr(scan_->xs_itup, 3, scan_->xs_itupdesc, &isnull));
                note(priority, run_at);
                if (run_at > now_) {
                    finish_priority();
                    has_below_ = true;
                    below_ = priority;
                    start_probe();
                    CHECK_FOR_INTERRUPTS();
                    continue;
                }
            }
            if (index_fetch_heap(scan_, slot_)) {
                slot_getallattrs(slot_);
                return true;
            }
        }
    });
}

// index_getnext_slot, noting the first entry's reclaim_after (the first
// the index did not already know to be dead): the new lease floor.
bool JobTable::Scan::next_lease()
{
    return pg::call([this] {
        for (;;) {
            if (!scan_->xs_heap_continue) {
                if (index_getnext_tid(scan_, ForwardScanDirection) == nullptr) {
                    lease_ended_ = true;
                    return false;
                }
                if (!lease_seen_) {
                    bool isnull;
                    lease_seen_ = true;
                    lease_from_ = DatumGetTimestampTz(index_getattr(scan_->xs_itup, 2, scan_->xs_itupdesc, &isnull));
                }
            }
            if (index_fetch_heap(scan_, slot_)) {
                slot_getallattrs(slot_);
                return true;
            }
        }
    });
}

// The priorities below below_ above the highest one with a floor.
void JobTable::Scan::start_probe()
{
    in_level_ = false;
    has_level_ = floors::highest_below(floors_, has_below_, below_, &level_, &from_);
    ScanKeyData keys[3];
    probe_keys(keys, scan_->indexRelation, queue_, has_below_, below_, has_level_, level_);
    index_rescan(scan_, keys, 3, nullptr, 0);
}

// level_ from its floor.
void JobTable::Scan::start_level()
{
    in_level_ = true;
    level_seen_ = false;
    ScanKeyData keys[3];
    level_keys(keys, scan_->indexRelation, queue_, level_, from_);
    index_rescan(scan_, keys, 3, nullptr, 0);
}

// The segment read to its end: the next one, or false when none is left.
bool JobTable::Scan::next_segment()
{
    finish_priority();
    if (!in_level_) {
        if (!has_level_)
            return false;
        start_level();
        return true;
    }
    // Nothing the claim could take is left of level_: new entries come at
    // the floor's cap or later (or move the epoch).
    if (!level_seen_)
        floors::set(floors_, level_, now_ - floors::margin);
    has_below_ = true;
    below_ = level_;
    start_probe();
    return true;
}

// The first entry read of a priority: where its floor is now (the index
// skips the entries it knows are dead).
void JobTable::Scan::note(int32 priority, TimestampTz run_at)
{
    if (in_level_)
        level_seen_ = true;
    if (seen_ && seen_priority_ == priority)
        return;
    finish_priority();
    seen_ = true;
    seen_priority_ = priority;
    seen_from_ = run_at;
}

void JobTable::Scan::finish_priority()
{
    if (!seen_)
        return;
    TimestampTz cap = now_ - floors::margin;
    floors::set(floors_, seen_priority_, seen_from_ < cap ? seen_from_ : cap);
    seen_ = false;
}

void JobTable::Scan::end()
{
    finish_priority();
    if (leases_ && (lease_seen_ || lease_ended_)) {
        // New entries come at their writer's clock or later (floors.hpp).
        TimestampTz cap = now_ - floors::margin;
        floors::set_lease_floor(floors_, lease_seen_ && lease_from_ < cap ? lease_from_ : cap);
    }
    pg::call([this] {
        Snapshot snapshot = scan_->xs_snapshot;
        index_endscan(scan_);
        UnregisterSnapshot(snapshot);
        ExecClearTuple(slot_);
    });
    table_->open_scans_--;
}

bool JobTable::fetch(ItemPointerData tid)
{
    return pg::call([&] {
        if (!table_tuple_fetch_row_version(rel_, &tid, GetActiveSnapshot(), fetched_))
            return false;
        slot_getallattrs(fetched_);
        return true;
    });
}

Values JobTable::values_of(Row old)
{
    int n = natts();
    Values v = blank();
    memcpy(const_cast<Datum *>(v.values()), old.slot->tts_values, n * sizeof(Datum));
    memcpy(const_cast<bool *>(v.nulls()), old.slot->tts_isnull, n * sizeof(bool));
    return v;
}

Values JobTable::blank()
{
    int n = natts();
    char *block = pg::call([&] {
        return static_cast<char *>(MemoryContextAlloc(GetPerTupleMemoryContext(estate_),
                                                      n * (sizeof(Datum) + sizeof(bool))));
    });
    auto *values = reinterpret_cast<Datum *>(block);
    auto *nulls = reinterpret_cast<bool *>(block + n * sizeof(Datum));
    memset(values, 0, n * sizeof(Datum));
    memset(nulls, true, n * sizeof(bool));
    return Values(values, nulls);
}

bool JobTable::only_known_columns() const
{
    TupleDesc desc = RelationGetDescr(rel_);
    int known = sizeof(Columns) / sizeof(int) - (parks() ? 0 : 1);
    int live = 0;
    for (int i = 0; i < desc->natts; i++)
        live += !TupleDescAttr(desc, i)->attisdropped;
    return live == known;
}

void JobTable::store(const Values &values)
{
    int n = natts();
    ExecClearTuple(new_);
    memcpy(new_->tts_values, values.values(), n * sizeof(Datum));
    memcpy(new_->tts_isnull, values.nulls(), n * sizeof(bool));
    ExecStoreVirtualTuple(new_);
}

void JobTable::insert(const Values &values)
{
    pg::call([&] {
        MemoryContext was = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate_));
        store(values);
        ExecSimpleRelationInsert(rri_, estate_, new_);
        MemoryContextSwitchTo(was);
    });
}

bool JobTable::plain_insert() const
{
    return plain_insert_ && index_[unique_index] != nullptr && only_known_columns();
}

Values JobTable::ready_values(const NewJob &job)
{
    const Columns &c = col_;
    Values v = blank();
    v.set(c.id, Int64GetDatum(job.id)).set(c.queue, job.queue).set(c.state, ready_)
        .set(c.priority, Int32GetDatum(job.priority)).set(c.attempt, Int32GetDatum(0))
        .set(c.max_attempts, Int32GetDatum(job.max_attempts)).set(c.run_at, TimestampTzGetDatum(job.run_at))
        .set(c.enqueued_at, TimestampTzGetDatum(job.enqueued_at)).set(c.payload, job.payload);
    if (job.has_concurrency)
        v.set(c.concurrency_key, job.concurrency_key);
    if (job.has_unique)
        v.set(c.unique_key, job.unique_key);
    return v;
}

void JobTable::add_ready(const NewJob &job)
{
    insert(ready_values(job));
    next_row();
}

// ExecInsert's speculative insertion for ON CONFLICT DO NOTHING: a holder
// already committed (or this transaction's) is found by the pre-check; one
// being inserted concurrently is waited for by the pre-check, or met by the
// index insertion, which then undoes the row and the check runs again.
Added JobTable::add_ready_unless_held(const NewJob &job)
{
    Values v = ready_values(job);
    Added outcome = pg::call([&] {
        MemoryContext was = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate_));
        store(v);
        if (rel_->rd_att->constr)
            ExecConstraints(rri_, new_, estate_);
        List *arbiter = list_make1_oid(RelationGetRelid(index_[unique_index]));
        Added r = Added::added;
        for (;;) {
            ItemPointerData holder;
            if (!compat::check_index_constraints(rri_, new_, estate_, &holder, arbiter)) {
                r = Added::held;
                // As ExecCheckTupleVisible: under REPEATABLE READ a holder
                // this snapshot does not see is a serialization failure,
                // unless this transaction wrote it.
                if (IsolationUsesXactSnapshot()) {
                    if (!table_tuple_fetch_row_version(rel_, &holder, SnapshotAny, fetched_))
                        elog(ERROR, "baton: the job holding the unique key could not be read");
                    bool isnull;
                    TransactionId xmin =
                        DatumGetTransactionId(slot_getsysattr(fetched_, MinTransactionIdAttributeNumber, &isnull));
                    if (!table_tuple_satisfies_snapshot(rel_, fetched_, estate_->es_snapshot) &&
                        !TransactionIdIsCurrentTransactionId(xmin))
                        r = Added::held_unseen;
                    ExecClearTuple(fetched_);
                }
                break;
            }
            TransactionId xid = GetCurrentTransactionId();
            uint32 token = SpeculativeInsertionLockAcquire(xid);
            table_tuple_insert_speculative(rel_, new_, estate_->es_output_cid, 0, nullptr, token);
            bool conflict = false;
            List *recheck = compat::insert_new_index_entries(rri_, new_, estate_, &conflict, arbiter);
            table_tuple_complete_speculative(rel_, new_, token, !conflict);
            SpeculativeInsertionLockRelease(xid);
            list_free(recheck);
            if (!conflict)
                break;
        }
        list_free(arbiter);
        MemoryContextSwitchTo(was);
        return r;
    });
    next_row();
    return outcome;
}

// The version is locked first when the caller must not wait (claim):
// table_tuple_lock with LockWaitSkip is how PostgreSQL skips a row another
// transaction holds (heap_update has no such mode), and it locks exactly
// that version, never a newer one. A caller that waits (complete) lets
// heap_update wait for the holder and report a newer version itself.
// Without row triggers the version is then replaced by one heap_update;
// with them, by ExecSimpleRelationUpdate, which runs them (after locking).
TM_Result JobTable::update(Row seen, const Values &values, LockWaitPolicy wait)
{
    ItemPointerData tid = seen.slot->tts_tid;
    return pg::call([&] {
        MemoryContext was = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate_));
        store(values);
        TM_Result r = TM_Ok;
        TM_FailureData tmfd;
        if (wait != LockWaitBlock || !plain_update_)
            r = table_tuple_lock(rel_, &tid, estate_->es_snapshot, locked_, GetCurrentCommandId(true),
                                 LockTupleNoKeyExclusive, wait, 0, &tmfd);
        if (r == TM_Ok && plain_update_) {
            LockTupleMode lockmode;
            compat::IndexUpdate update_indexes;
            if (rel_->rd_att->constr)
                ExecConstraints(rri_, new_, estate_);
            r = table_tuple_update(rel_, &tid, new_, GetCurrentCommandId(true), estate_->es_snapshot, InvalidSnapshot,
                                   true, &tmfd, &lockmode, &update_indexes);
            if (r == TM_Ok)
                compat::insert_index_entries(rri_, new_, estate_, update_indexes);
        } else if (r == TM_Ok) {
            // The update stores the new version's place in new_; a BEFORE
            // trigger that returned NULL leaves it unset.
            ItemPointerSetInvalid(&new_->tts_tid);
            ExecSimpleRelationUpdate(rri_, estate_, epq_, locked_, new_);
            if (!ItemPointerIsValid(&new_->tts_tid))
                r = TM_Invisible;
        }
        MemoryContextSwitchTo(was);
        return r;
    });
}

void JobTable::next_row()
{
    pg::call([this] {
        ExecClearTuple(new_);
        ResetPerTupleExprContext(estate_);
    });
}

} // namespace baton::rows
