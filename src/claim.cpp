// claim: how candidates are chosen and taken.
//
// A job with a concurrency_key also needs a free slot of that key's
// semaphore. Slot decisions for a key are serialized by a transaction-scoped
// guard lock that claim only ever tries (a busy key is skipped, never waited
// for); the slot count runs after the guard is held, in a statement whose
// snapshot therefore sees every earlier claimer's commit. A candidate seen
// in an older snapshot is only taken if it is still the version seen (see
// claim::into), so a job claimed meanwhile is never counted twice.
//
// A ready job whose key is full is parked (blocked_until): it leaves the
// ready index, so later claims do not walk it, until a slot of its key
// frees (semaphore::wake) or the moment one may free by itself passes.
#include "claim.hpp"
#include "args.hpp"
#include "clock.hpp"
#include "interrupts.hpp"
#include "notify.hpp"
#include "retention.hpp"
#include "semaphore.hpp"
#include "spi.hpp"
#include "vacuum.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
}

namespace baton {
namespace {

constexpr int claimed_job_columns = 10;

// A due job as a scan saw it: where it is and what claim needs to decide.
struct Candidate {
    ItemPointerData tid;
    int64 id;
    int32 priority;
    TimestampTz run_at;
    int32 attempt;
    int32 max_attempts;
    bool running;  // an expired lease; else a ready job (parked or not)
    bool has_key;
    std::string key;
};

// Claim order: higher priority, then earlier run_at, then lower id.
bool claim_order(const Candidate &a, const Candidate &b)
{
    if (a.priority != b.priority)
        return a.priority > b.priority;
    if (a.run_at != b.run_at)
        return a.run_at < b.run_at;
    return a.id < b.id;
}

Candidate candidate(rows::Row r, const rows::Columns &c, bool running)
{
    Candidate out{r.slot->tts_tid, r.int8(c.id), r.int4(c.priority), r.timestamp(c.run_at),
                  r.int4(c.attempt), r.int4(c.max_attempts), running, !r.is_null(c.concurrency_key), {}};
    if (out.has_key) {
        text *t = pg::call([&] { return DatumGetTextPP(r.datum(c.concurrency_key)); });
        out.key.assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    }
    return out;
}

// How many jobs due again (of each kind) a claim of n reads beyond n: the
// order among them is exact as long as fewer are due again than that.
constexpr size_t again_margin = 100;

// Jobs due again, sorted in claim order: running jobs whose lease has
// passed, and ready jobs parked until a moment that has come; at most
// `limit` of each kind, those due again first (after a fleet of workers
// died, a claim does not read every expired lease).
std::vector<Candidate> due_again(rows::JobTable &table, Datum queue, TimestampTz now, size_t limit)
{
    const rows::Columns &c = table.col();
    std::vector<Candidate> out;
    rows::JobTable::Scan scan = table.expiring(queue, now);
    for (uint64 seen = 1; out.size() < limit && scan.next(); seen++) {
        check_interrupts_every(seen);
        rows::Row r = scan.row();
        if (r.text_is(c.state, "running") && !r.is_null(c.lease_expires_at) &&
            r.timestamp(c.lease_expires_at) <= now)
            out.push_back(candidate(r, c, true));
    }
    scan.end();
    if (table.parks()) {
        size_t expired = out.size();
        scan = table.blocked(queue, now);
        for (uint64 seen = 1; out.size() - expired < limit && scan.next(); seen++) {
            check_interrupts_every(seen);
            rows::Row r = scan.row();
            if (r.text_is(c.state, "ready") && !r.is_null(c.blocked_until) &&
                r.timestamp(c.blocked_until) <= now && r.timestamp(c.run_at) <= now)
                out.push_back(candidate(r, c, false));
        }
        scan.end();
    }
    std::sort(out.begin(), out.end(), claim_order);
    return out;
}

// Ready jobs of a queue due now, read one at a time in claim order.
class ReadyJobs {
public:
    ReadyJobs(rows::JobTable &table, Datum queue, TimestampTz now) : table_(table), scan_(table.ready(queue, now)), now_(now)
    {
        advance();
    }
    const Candidate *head() const { return has_ ? &head_ : nullptr; }
    rows::Row row() const { return scan_.row(); }  // the head's version
    void advance()
    {
        const rows::Columns &c = table_.col();
        for (uint64 seen = 1; (has_ = scan_.next()); seen++) {
            check_interrupts_every(seen);
            // The index holds every version that was ready once; the one
            // this snapshot sees must still be, and not parked.
            rows::Row r = scan_.row();
            if (r.text_is(c.state, "ready") && r.timestamp(c.run_at) <= now_ &&
                (!table_.parks() || r.is_null(c.blocked_until))) {
                head_ = candidate(r, c, false);
                return;
            }
        }
    }
    void end() { scan_.end(); }

private:
    rows::JobTable &table_;
    rows::JobTable::Scan scan_;
    TimestampTz now_;
    bool has_ = false;
    Candidate head_;
};

// Every candidate of one claim call, in claim order: the ready jobs (read
// lazily) merged with the jobs due again (read at once).
class Candidates {
public:
    Candidates(rows::JobTable &table, Datum queue, TimestampTz now, int n)
        : table_(table), again_(due_again(table, queue, now, static_cast<size_t>(n) + again_margin)),
          ready_(table, queue, now)
    {
    }
    // The next candidate and the version its scan saw; false at the end.
    bool next(Candidate *out, rows::Row *seen)
    {
        if (last_from_ready_)
            ready_.advance();
        for (;;) {
            const Candidate *head = ready_.head();
            last_from_ready_ =
                head && (next_again_ == again_.size() || claim_order(*head, again_[next_again_]));
            if (last_from_ready_) {
                *out = *head;
                *seen = ready_.row();
                return true;
            }
            if (next_again_ == again_.size())
                return false;
            *out = again_[next_again_++];
            if (table_.fetch(out->tid)) {  // still visible in this snapshot
                *seen = table_.fetched();
                return true;
            }
        }
    }
    void end() { ready_.end(); }

private:
    rows::JobTable &table_;
    std::vector<Candidate> again_;
    size_t next_again_ = 0;
    ReadyJobs ready_;
    bool last_from_ready_ = false;
};

// Slot bookkeeping for the concurrency keys met during one claim call.
class Slots {
public:
    enum Answer { taken, full, parkable, busy };

    explicit Slots(bool parks) : parks_(parks) {}

    // Takes a slot of `key` if one is free. full: none is; parkable: none
    // is and the key's jobs may be parked (*until: when a slot may free by
    // itself); busy: another transaction is deciding for the key, so this
    // call cannot know.
    Answer take(const std::string &key, TimestampTz now, TimestampTz *until)
    {
        auto it = keys_.find(key);
        if (it == keys_.end())
            it = keys_.emplace(key, count(key, now)).first;
        Key &k = it->second;
        *until = k.until;
        if (k.busy)
            return busy;
        if (k.free == 0)
            return k.park_locked ? parkable : full;
        k.free--;
        return taken;
    }

    // A slot taken but not used (the job could not be locked).
    void give_back(const std::string &key) { keys_[key].free++; }

private:
    struct Key {
        int64 free = 0;
        TimestampTz until = 0;  // 0: no holder's lease or ttl ends (or this call filled the key)
        bool busy = false;
        bool park_locked = false;
    };

    Key count(const std::string &key, TimestampTz now)
    {
        if (IsolationUsesXactSnapshot())
            throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "baton: claiming jobs with a concurrency_key needs READ COMMITTED isolation");
        int len = static_cast<int>(key.size());
        if (!semaphore::try_guard(key.data(), len))
            return {0, 0, true, false};
        // The parking lock before the count: a slot freed after the count
        // then wakes whatever this call parks (see semaphore.hpp).
        bool park_locked = parks_ && semaphore::try_park_lock(key.data(), len);
        Datum key_text = pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(key.data(), len)); });
        semaphore::Slots s = semaphore::free_slots(key_text, now);
        // A full key decides nothing: held to commit, the guards of every
        // busy key passed would fill the lock table.
        if (s.free == 0)
            semaphore::release_guard(key.data(), len);
        return {s.free, s.until, false, park_locked};
    }

    bool parks_;
    std::map<std::string, Key> keys_;
};

// What one claim call needs besides the candidates.
struct Claim {
    rows::JobTable &table;
    ResultRows &result;
    bool refused_column;
    Datum worker;
    Datum expires;
    TimestampTz now;
    Datum last_attempt;  // the error of a job buried at its last attempt
    Tokens tokens;
    Slots slots;
};

// Returns the claimed job to the caller (baton.claimed_job, or a
// baton.loop_row whose refused column is false).
void emit(Claim &cl, const rows::Values &v)
{
    const rows::Columns &c = cl.table.col();
    const int cols[claimed_job_columns] = {c.id, c.queue, c.payload, c.attempt, c.lease_token,
                                           c.lease_expires_at, c.priority, c.unique_key,
                                           c.concurrency_key, c.enqueued_at};
    Datum values[claimed_job_columns + 1];
    bool nulls[claimed_job_columns + 1];
    int first = cl.refused_column ? 1 : 0;
    values[0] = BoolGetDatum(false);
    nulls[0] = false;
    for (int k = 0; k < claimed_job_columns; k++) {
        values[first + k] = v.value(cols[k]);
        nulls[first + k] = v.is_null(cols[k]);
    }
    cl.result.add(values, nulls);
}

// The new version of a candidate: claimed, buried at its last attempt, or
// (a ready job whose key is full) parked until `until`.
enum class Outcome { claimed, buried, parked, passed };

void set_outcome(Claim &cl, rows::Values &v, const Candidate &cand, Outcome o, TimestampTz until)
{
    const rows::Columns &c = cl.table.col();
    if (o == Outcome::parked) {
        v.set(c.blocked_until, TimestampTzGetDatum(until));
        return;
    }
    if (cl.table.parks())
        v.set_null(c.blocked_until);
    if (o == Outcome::buried) {
        v.set(c.state, cl.table.dead()).set(c.finished_at, TimestampTzGetDatum(cl.now));
        if (v.is_null(c.error))
            v.set(c.error, cl.last_attempt);
        return;
    }
    v.set(c.state, cl.table.running())
        .set(c.attempt, Int32GetDatum(cand.attempt + 1))
        .set(c.lease_token, Int64GetDatum(cl.tokens.next()))
        .set(c.lease_expires_at, cl.expires)
        .set(c.reclaim_after, cl.expires)
        .set(c.worker, cl.worker)
        .set(c.started_at, TimestampTzGetDatum(cl.now));
}

// Decides for one candidate and writes its new version, locking exactly the
// version seen without waiting: a job another transaction holds or changed
// is passed over (a version a row trigger refused to change stays locked).
// Returns true when it was claimed.
bool try_candidate(Claim &cl, const Candidate &cand, rows::Row seen)
{
    // A claim that would exceed max_attempts makes the job dead instead.
    Outcome o = cand.attempt >= cand.max_attempts ? Outcome::buried : Outcome::claimed;
    TimestampTz until = 0;
    bool keyed = o == Outcome::claimed && cand.has_key;
    if (keyed) {
        Slots::Answer a = cl.slots.take(cand.key, cl.now, &until);
        if (a == Slots::parkable && !cand.running)
            o = Outcome::parked;
        else if (a != Slots::taken)
            return false;  // decided by another claimer, an expired lease, or a wake under way: left as it is
        // Filled by this very call: a slot frees when its leases end.
        if (o == Outcome::parked && until == 0)
            until = DatumGetTimestampTz(cl.expires);
    }
    rows::Values v = cl.table.values_of(seen);
    set_outcome(cl, v, cand, o, until);
    TM_Result r = cl.table.update(seen, v, LockWaitSkip);
    if (r == TM_Ok && o == Outcome::claimed)
        emit(cl, v);
    cl.table.next_row();
    // Under REPEATABLE READ a changed job fails the call, as PostgreSQL's
    // own SKIP LOCKED does there.
    if ((r == TM_Updated || r == TM_Deleted) && IsolationUsesXactSnapshot())
        rows::serialization_failure();
    if (r != TM_Ok && keyed && o == Outcome::claimed)
        cl.slots.give_back(cand.key);
    return r == TM_Ok && o == Outcome::claimed;
}

} // namespace
} // namespace baton

namespace baton::claim {

Args args(FunctionCallInfo fcinfo, int first)
{
    Args a;
    a.queue = args::queue(fcinfo, first);
    a.worker = args::key(fcinfo, first + 1, "worker");
    a.n = args::int4_or(fcinfo, first + 2, "n", 1, 1, 1000);
    a.lease = 0;
    a.has_lease = args::optional_interval(fcinfo, first + 3, "lease", args::Sign::positive, &a.lease);
    return a;
}

// Each candidate is locked without waiting, and only in the version the
// scan saw (a fencing token drawn for a job passed over is never used), so
// claim never waits for a row and never locks one it does not write (or
// that a row trigger refused to change).
Claimed into(rows::JobTable &table, ResultRows &result, const Args &a)
{
    rows::Queue queue = rows::require_queue(a.queue);
    rows::check_access(a.queue, queue, rows::Access::work);
    if (queue.paused)
        return {queue, 0};
    TimestampTz now = read_clock();
    Datum expires = pg::call([&] {
        return DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now),
                                   a.has_lease ? a.lease : queue.lease);
    });
    Claim cl{table, result, a.refused_column, a.worker, expires, now,
             rows::text_datum("lease expired on the last attempt"), tokens(), Slots(table.parks())};
    Candidates candidates(table, a.queue, now, a.n);
    Candidate cand;
    rows::Row seen{};
    int remaining = a.n;
    while (remaining > 0 && candidates.next(&cand, &seen)) {
        check_interrupts();
        if (try_candidate(cl, cand, seen))
            remaining--;
    }
    candidates.end();
    return {queue, a.n - remaining};
}

Claimed run(rows::JobTable &table, ResultRows &result, const Args &a)
{
    Claimed c = into(table, result, a);
    if (c.jobs == 0 && notify::idle(a.queue)) {
        table.refresh_snapshot();  // sees what producers committed meanwhile
        c = into(table, result, a);
    }
    if (c.jobs > 0)
        notify::busy(a.queue);
    return c;
}

void upkeep(const Args &a, const Claimed &c)
{
    TimestampTz now = read_clock();
    vacuum::look(now);
    if (!vacuum::worker_prunes())
        retention::prune(a.queue, c.queue, now);
}

} // namespace baton::claim

using namespace baton;

BATON_FUNCTION(baton_claim)
{
    claim::Args a = claim::args(fcinfo, 0);
    ResultRows result(fcinfo);
    spi::connect();
    rows::JobTable table("baton.claim()");
    claim::Claimed c = claim::run(table, result, a);
    table.close();
    claim::upkeep(a, c);
    spi::finish();
    return (Datum) 0;
}
