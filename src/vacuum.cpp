#include "vacuum.hpp"
#include "compat.hpp"
#include "keylock.hpp"

#include <cstdio>

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void baton_vacuum_worker_main(Datum database);
}

namespace baton::vacuum {

static bool enabled = false;
static int threshold = 10000;

constexpr TimestampTz look_every_us = 1000 * 1000;  // launchers and the worker alike
constexpr int idle_checks = 3;                      // then the worker exits

void define_settings()
{
    DefineCustomBoolVariable("baton.vacuum_worker",
                             "Starts a background worker that vacuums baton._jobs whenever it holds "
                             "baton.vacuum_threshold dead row versions.",
                             "Set it for a database (ALTER DATABASE ... SET) or the server: the worker "
                             "reads the database's settings, not a session's.",
                             &enabled, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("baton.vacuum_threshold",
                            "Dead row versions in baton._jobs that make the vacuum worker vacuum it.",
                            nullptr, &threshold, 10000, 100, INT_MAX, PGC_SUSET, 0, nullptr, nullptr,
                            nullptr);
}

// The worker of this database holds it, at session level, while it lives.
static LOCKTAG worker_tag()
{
    return keylock::tag(keylock::Space::vacuum_worker, "", 0);
}

// The backend that starts this database's worker holds it from the
// registration until the worker holds worker_tag: the other backends'
// looks in between start none.
static LOCKTAG launch_tag()
{
    return keylock::tag(keylock::Space::vacuum_launch, "", 0);
}

static Oid jobs_table()
{
    Oid schema = get_namespace_oid("baton", true);
    return OidIsValid(schema) ? get_relname_relid("_jobs", schema) : InvalidOid;
}

// As counted by the statistics the backends report (about once a second).
static bool needs_vacuum(Oid table)
{
    PgStat_StatTabEntry *stats = OidIsValid(table) ? pgstat_fetch_stat_tabentry(table) : nullptr;
    return stats && compat::dead_tuples(stats) >= threshold;
}

// Held (tag's lock taken in a mode its holder's conflicts with): a probe
// takes the share mode for a moment, so that probes never meet each other.
static bool held(LOCKTAG tag)
{
    if (LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
        return true;
    LockRelease(&tag, ShareLock, false);
    return false;
}

static BackgroundWorkerHandle *register_worker()
{
    BackgroundWorker w = {};
    snprintf(w.bgw_name, sizeof w.bgw_name, "baton vacuum worker");
    snprintf(w.bgw_type, sizeof w.bgw_type, "baton vacuum worker");
    snprintf(w.bgw_library_name, sizeof w.bgw_library_name, "baton");
    snprintf(w.bgw_function_name, sizeof w.bgw_function_name, "baton_vacuum_worker_main");
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
    BackgroundWorkerHandle *handle = nullptr;
    return RegisterDynamicBackgroundWorker(&w, &handle) ? handle : nullptr;
}

constexpr int launch_wait_ms = 2000;  // then the launch lock goes, worker or not

// Until the worker holds its lock, has stopped, or launch_wait_ms passed
// (a millisecond a turn): its process starts and connects in a few
// milliseconds, once per worker's life.
static bool wait_until_it_runs(BackgroundWorkerHandle *handle)
{
    for (int waited_ms = 0; !held(worker_tag()); waited_ms++) {
        pid_t pid;
        BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);
        if ((status != BGWH_NOT_YET_STARTED && status != BGWH_STARTED) || waited_ms >= launch_wait_ms)
            return false;
        (void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1, PG_WAIT_EXTENSION);
        CHECK_FOR_INTERRUPTS();
    }
    return true;
}

// Registering asks the postmaster for the worker; when every worker slot
// is taken (max_worker_processes), a later look asks again. True when a
// worker runs now, or another backend is starting one.
static bool start_if_needed()
{
    if (held(worker_tag()))
        return true;
    if (!needs_vacuum(jobs_table()))
        return false;
    LOCKTAG launch = launch_tag();
    if (LockAcquire(&launch, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
        return true;
    bool runs = held(worker_tag());  // another backend's launch may have ended since the first look
    if (!runs) {
        BackgroundWorkerHandle *handle = register_worker();
        runs = handle && wait_until_it_runs(handle);
    }
    LockRelease(&launch, ExclusiveLock, false);
    return runs;
}

static TimestampTz next_look = 0;
static bool worker_seen = false;  // at this backend's last look

void look(TimestampTz now)
{
    if (!enabled || now < next_look)
        return;
    next_look = now + look_every_us;
    worker_seen = pg::call([] { return start_if_needed(); });
}

bool worker_prunes()
{
    return enabled && worker_seen;
}

// VACUUM (SKIP_LOCKED, TRUNCATE false) baton._jobs, as its own transactions:
// ExecVacuum commits the caller's and starts a new one when it is done. No
// truncation: it would hold the table's exclusive lock while claims wait.
static void vacuum_jobs()
{
    VacuumStmt *stmt = makeNode(VacuumStmt);
    stmt->options = list_make2(makeDefElem(pstrdup("skip_locked"), nullptr, -1),
                               makeDefElem(pstrdup("truncate"), (Node *) makeString(pstrdup("false")), -1));
    stmt->rels = list_make1(makeVacuumRelation(makeRangeVar(pstrdup("baton"), pstrdup("_jobs"), -1),
                                               InvalidOid, NIL));
    stmt->is_vacuumcmd = true;
    pgstat_report_activity(STATE_RUNNING, "VACUUM (SKIP_LOCKED, TRUNCATE false) baton._jobs");
    ExecVacuum(make_parsestate(nullptr), stmt, true);
    pgstat_report_activity(STATE_IDLE, nullptr);
}

// One batch of retention for every queue that has one, as the claims'
// (retention.cpp) would delete it; the most rows deleted from one queue.
static const char *const prune_sql =
    "SELECT coalesce(max(baton._delete_finished(q.queue, clock_timestamp() - q.retention, 1000)), 0)"
    "  FROM baton._queues q WHERE q.retention IS NOT NULL";
constexpr int64 prune_batch = 1000;
constexpr int prunes_per_look = 20;  // then the vacuum gets its turn

static bool has_retention()
{
    Oid schema = get_namespace_oid("baton", true);
    Oid queues = OidIsValid(schema) ? get_relname_relid("_queues", schema) : InvalidOid;
    return OidIsValid(queues) && get_attnum(queues, "retention") != InvalidAttrNumber;
}

static int64 prune_once()
{
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    int64 most = 0;
    if (has_retention()) {
        pgstat_report_activity(STATE_RUNNING, prune_sql);
        SPI_connect();
        if (SPI_execute(prune_sql, false, 1) == SPI_OK_SELECT && SPI_processed == 1) {
            bool isnull;
            Datum n = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
            most = isnull ? 0 : DatumGetInt64(n);
        }
        SPI_finish();
        pgstat_report_activity(STATE_IDLE, nullptr);
    }
    PopActiveSnapshot();
    CommitTransactionCommand();
    return most;
}

static bool vacuum_once()
{
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    bool due = needs_vacuum(jobs_table());
    if (due)
        vacuum_jobs();
    CommitTransactionCommand();
    return due;
}

// One look: retention, then the vacuum if the table needs it; says whether
// there was anything to do.
static bool look_once()
{
    bool worked = false;
    for (int i = 0; i < prunes_per_look; i++) {
        int64 most = prune_once();
        worked |= most > 0;
        if (most < prune_batch)
            break;
    }
    worked |= vacuum_once();
    return worked;
}

// What the database's or the server's settings must not change for the
// worker, as autovacuum does for itself: a statement_timeout would cancel
// every long VACUUM, a stricter isolation level would fail the deletes.
static void override_settings()
{
    static const char *const settings[][2] = {
        {"search_path", "pg_catalog, pg_temp"},
        {"statement_timeout", "0"},
        {"lock_timeout", "0"},
        {"idle_in_transaction_session_timeout", "0"},
        {"default_transaction_isolation", "read committed"},
        {"default_transaction_read_only", "off"},
        {"synchronous_commit", "local"},
    };
    for (const auto &setting : settings)
        SetConfigOption(setting[0], setting[1], PGC_SUSET, PGC_S_OVERRIDE);
}

// A look holds the lock for a moment (held): a worker that meets one tries
// again; one that meets another worker gives up.
static bool hold_worker_lock()
{
    StartTransactionCommand();
    LOCKTAG tag = worker_tag();
    bool alone = false;
    for (int attempt = 0; attempt < 500 && !alone; attempt++) {
        alone = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
        if (!alone)
            pg_usleep(1000L);
    }
    CommitTransactionCommand();
    return alone;
}

} // namespace baton::vacuum

// The worker's body, called by Postgres in a process of its own: Postgres
// calls only, no C++ object (an ERROR ends the process, which the next
// claim that finds the table in need starts again).
void baton_vacuum_worker_main(Datum database)
{
    using namespace baton::vacuum;
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(database), InvalidOid, 0);
    override_settings();
    if (!hold_worker_lock())
        proc_exit(0);
    int idle = 0;
    while (idle < idle_checks && enabled) {
        idle = look_once() ? 0 : idle + 1;
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, look_every_us / 1000,
                         PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
    }
    proc_exit(0);
}
