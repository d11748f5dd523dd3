#include "notify.hpp"
#include "args.hpp"
#include "keylock.hpp"
#include "rows.hpp"

#include <cstring>

extern "C" {
#include "access/xact.h"
#include "commands/async.h"
#include "common/hashfn.h"
#include "nodes/pg_list.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
}

namespace baton::notify {

// The state below is plain C (Postgres lists, palloc'd structs): the
// transaction callback, which Postgres calls, reads and resets it, and
// calls nothing of Postgres that can raise but the lock manager and NOTIFY.
namespace {

// baton.notify: off leaves a transaction's calls unannounced.
bool enabled = true;

// Queues this transaction made a job of due now (TopTransactionContext).
List *due_queues = NIL;

// What this session does with a queue (TopMemoryContext, one per queue it
// ever listened to).
struct Listener {
    char queue[NAMEDATALEN];
    bool listening;    // listen() was called (and not unlisten())
    bool listened_in_xact;  // by this transaction: undone if it aborts
    bool idle;         // holds the waiter tag shared, at session level
};
List *listeners = NIL;

Listener *listener_of(const char *queue)
{
    ListCell *lc;
    foreach (lc, listeners) {
        Listener *l = static_cast<Listener *>(lfirst(lc));
        if (strcmp(l->queue, queue) == 0)
            return l;
    }
    return nullptr;
}

LOCKTAG waiter_tag(const char *queue)
{
    return keylock::tag(keylock::Space::waiter, queue, static_cast<int>(strlen(queue)));
}

LOCKTAG gate_tag(const char *queue)
{
    return keylock::tag(keylock::Space::gate, queue, static_cast<int>(strlen(queue)));
}

// "baton.<queue>"; a queue name too long for that keeps its first 40
// characters and adds a hash of the whole: 63 bytes at most.
void channel_of(const char *queue, char out[NAMEDATALEN])
{
    size_t len = strlen(queue);
    if (len + 6 < NAMEDATALEN) {
        snprintf(out, NAMEDATALEN, "baton.%s", queue);
        return;
    }
    uint64 h = hash_bytes_extended(reinterpret_cast<const unsigned char *>(queue), static_cast<int>(len), 0);
    snprintf(out, NAMEDATALEN, "baton.%.40s.%016llx", queue, static_cast<unsigned long long>(h));
}

// At PRE_COMMIT: each queue a job became due in is announced if a session
// is registered idle on it; the gate stays shared to the end of the commit.
void announce()
{
    ListCell *lc;
    foreach (lc, due_queues) {
        const char *queue = static_cast<const char *>(lfirst(lc));
        LOCKTAG gate = gate_tag(queue), waiter = waiter_tag(queue);
        (void) LockAcquire(&gate, ShareLock, false, false);
        if (LockAcquire(&waiter, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL) {
            LockRelease(&waiter, ExclusiveLock, false);
            continue;  // nobody waits for this queue
        }
        char channel[NAMEDATALEN];
        channel_of(queue, channel);
        Async_Notify(channel, queue);
    }
}

// At the end of a transaction: the LISTENs of an aborted one never took
// effect (a claim then drops the session's idle registration).
void end_listens(bool committed)
{
    ListCell *lc;
    foreach (lc, listeners) {
        Listener *l = static_cast<Listener *>(lfirst(lc));
        if (l->listened_in_xact && !committed)
            l->listening = false;
        l->listened_in_xact = false;
    }
}

void at_xact_event(XactEvent event, void *)
{
    switch (event) {
    case XACT_EVENT_PRE_COMMIT:
        announce();
        return;
    case XACT_EVENT_ABORT:
        end_listens(false);
        break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PREPARE:  // a prepared transaction cannot notify
        end_listens(true);
        break;
    default:
        return;
    }
    due_queues = NIL;  // its memory goes with the transaction's
}

void add_due(const char *queue)
{
    ListCell *lc;
    foreach (lc, due_queues)
        if (strcmp(static_cast<const char *>(lfirst(lc)), queue) == 0)
            return;
    MemoryContext was = MemoryContextSwitchTo(TopTransactionContext);
    due_queues = lappend(due_queues, pstrdup(queue));
    MemoryContextSwitchTo(was);
}

Listener *add_listener(const char *queue)
{
    Listener *l = listener_of(queue);
    if (l == nullptr) {
        l = static_cast<Listener *>(MemoryContextAllocZero(TopMemoryContext, sizeof(Listener)));
        strlcpy(l->queue, queue, NAMEDATALEN);
        MemoryContext was = MemoryContextSwitchTo(TopMemoryContext);
        listeners = lappend(listeners, l);
        MemoryContextSwitchTo(was);
    }
    return l;
}

void stop_idle(Listener *l)
{
    if (l == nullptr || !l->idle)
        return;
    LOCKTAG waiter = waiter_tag(l->queue);
    LockRelease(&waiter, ShareLock, true);
    l->idle = false;
}

// A claim found nothing: a listening session registers idle, then waits
// for the producers that checked before it, to their commit.
bool start_idle(const char *queue)
{
    Listener *l = listener_of(queue);
    if (l == nullptr || !l->listening) {
        stop_idle(l);  // its listen() was rolled back
        return false;
    }
    if (l->idle)
        return false;
    LOCKTAG waiter = waiter_tag(queue), gate = gate_tag(queue);
    (void) LockAcquire(&waiter, ShareLock, true, false);
    l->idle = true;
    (void) LockAcquire(&gate, ExclusiveLock, false, false);
    LockRelease(&gate, ExclusiveLock, false);
    return true;
}

} // namespace

void define_settings()
{
    DefineCustomBoolVariable("baton.notify", "Notifies waiting workers when a commit makes a job due now.",
                             "Off: the calls of the transaction (or session) notify nobody; workers find "
                             "their jobs by polling.",
                             &enabled, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    RegisterXactCallback(at_xact_event, nullptr);
}

void due(Datum queue_text)
{
    if (!enabled)
        return;
    char *queue = args::cstring(queue_text);
    pg::call([queue] { add_due(queue); });
}

// A session that never called listen() (a pooled worker, a producer) skips
// both on every claim: no name to copy, no list to walk.
bool idle(Datum queue_text)
{
    if (listeners == NIL)
        return false;
    char *queue = args::cstring(queue_text);
    return pg::call([queue] { return start_idle(queue); });
}

void busy(Datum queue_text)
{
    if (listeners == NIL)
        return;
    char *queue = args::cstring(queue_text);
    pg::call([queue] { stop_idle(listener_of(queue)); });
}

} // namespace baton::notify

using namespace baton;

// retry, resume (SQL) announce due jobs through the same path.
BATON_FUNCTION(baton_notify_due)
{
    notify::due(args::queue(fcinfo, 0));
    PG_RETURN_VOID();
}

// listen(queue) returns the queue's channel, which this session LISTENs to
// from the commit on.
BATON_FUNCTION(baton_listen)
{
    pg::call([] { PreventCommandDuringRecovery("baton.listen()"); });  // a standby gets no NOTIFY
    Datum queue_text = args::queue(fcinfo, 0);
    rows::Queue q = rows::require_queue(queue_text);
    rows::check_access(queue_text, q, rows::Access::work);
    char *queue = args::cstring(queue_text);
    return pg::call([queue] {
        char channel[NAMEDATALEN];
        notify::channel_of(queue, channel);
        Async_Listen(channel);
        notify::Listener *l = notify::add_listener(queue);
        if (!l->listening)
            l->listening = l->listened_in_xact = true;
        return CStringGetTextDatum(channel);
    });
}

// unlisten(queue): UNLISTEN its channel; the session stops waiting for it.
BATON_FUNCTION(baton_unlisten)
{
    char *queue = args::cstring(args::queue(fcinfo, 0));
    pg::call([queue] {
        char channel[NAMEDATALEN];
        notify::channel_of(queue, channel);
        Async_Unlisten(channel);
        notify::Listener *l = notify::listener_of(queue);
        notify::stop_idle(l);
        if (l != nullptr)
            l->listening = false;
    });
    PG_RETURN_VOID();
}
