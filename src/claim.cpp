// claim: take up to n due jobs without ever waiting on a row another
// transaction holds, and give each a lease with a new fencing token.
//
// A job with a concurrency_key also needs a free slot of that key's
// semaphore. Slot decisions for a key are serialized by a transaction-scoped
// guard lock that claim only ever tries (a busy key is skipped, never waited
// for); the slot count runs after the guard is held, in a statement whose
// snapshot therefore sees every earlier claimer's commit. A candidate seen
// in an older snapshot is only taken if it is still the version seen (see
// claim_into), so a job claimed meanwhile is never counted twice.
#include "args.hpp"
#include "jobs.hpp"
#include "rows.hpp"
#include "semaphore.hpp"
#include "spi.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
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

Candidate candidate(rows::Row r, const rows::Columns &c)
{
    Candidate out{r.slot->tts_tid, r.int8(c.id), r.int4(c.priority), r.timestamp(c.run_at),
                  r.int4(c.attempt), r.int4(c.max_attempts), !r.is_null(c.concurrency_key), {}};
    if (out.has_key) {
        text *t = pg::call([&] { return DatumGetTextPP(r.datum(c.concurrency_key)); });
        out.key.assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    }
    return out;
}

// Running jobs whose lease has passed, in claim order: due again.
std::vector<Candidate> expired_leases(rows::Jobs &jobs, Datum queue, TimestampTz now)
{
    const rows::Columns &c = jobs.col();
    std::vector<Candidate> out;
    rows::Jobs::Scan scan = jobs.expiring(queue, now);
    for (uint64 seen = 1; scan.next(); seen++) {
        if (seen % 1024 == 0)
            pg::call([] { CHECK_FOR_INTERRUPTS(); });
        rows::Row r = scan.row();
        if (r.text_is(c.state, "running") && !r.is_null(c.lease_expires_at) &&
            r.timestamp(c.lease_expires_at) <= now)
            out.push_back(candidate(r, c));
    }
    scan.end();
    std::sort(out.begin(), out.end(), claim_order);
    return out;
}

// Ready jobs of a queue due now, read one at a time in claim order.
class ReadyJobs {
public:
    ReadyJobs(rows::Jobs &jobs, Datum queue, TimestampTz now) : jobs_(jobs), scan_(jobs.ready(queue, now)), now_(now)
    {
        advance();
    }
    const Candidate *head() const { return has_ ? &head_ : nullptr; }
    rows::Row row() const { return scan_.row(); }  // the head's version
    void advance()
    {
        const rows::Columns &c = jobs_.col();
        for (uint64 seen = 1; (has_ = scan_.next()); seen++) {
            if (seen % 1024 == 0)
                pg::call([] { CHECK_FOR_INTERRUPTS(); });
            rows::Row r = scan_.row();
            // The index holds every version that was ready once; the one
            // this snapshot sees must still be.
            if (r.text_is(c.state, "ready") && r.timestamp(c.run_at) <= now_) {
                head_ = candidate(r, c);
                return;
            }
        }
    }
    void end() { scan_.end(); }

private:
    rows::Jobs &jobs_;
    rows::Jobs::Scan scan_;
    TimestampTz now_;
    bool has_ = false;
    Candidate head_;
};

// Slot bookkeeping for the concurrency keys met during one claim call.
class Slots {
public:
    // Takes a slot of `key` if one is free; false when the key is full, or
    // another transaction is deciding for it (then it counts as full).
    bool take(const std::string &key, TimestampTz now)
    {
        auto it = free_.find(key);
        if (it == free_.end()) {
            if (IsolationUsesXactSnapshot())
                throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "baton: claiming jobs with a concurrency_key needs READ COMMITTED isolation");
            int64 n = 0;
            int len = static_cast<int>(key.size());
            if (semaphore::try_guard(key.data(), len)) {
                Datum key_text = pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(key.data(), len)); });
                n = semaphore::free_slots(key_text, now);
                // A full key decides nothing: held to commit, the guards of
                // every busy key passed would fill the lock table.
                if (n == 0)
                    semaphore::release_guard(key.data(), len);
            }
            it = free_.emplace(key, n).first;
        }
        if (it->second == 0)
            return false;
        it->second--;
        return true;
    }

    // A slot taken but not used (the job could not be locked).
    void give_back(const std::string &key) { free_[key]++; }

private:
    std::map<std::string, int64> free_;
};

} // namespace
} // namespace baton

namespace baton::jobs {

// Candidates come from two sources merged in claim order: the ready jobs (an
// index scan read lazily) and the expired leases (all of them, sorted). Each
// is locked without waiting, and only in the version the scan saw: a job
// another transaction holds or has changed since is passed over, so claim
// never waits for a row and never locks one it does not take.
void claim_into(rows::Jobs &jobs, ReturnSetInfo *rsinfo, Datum queue, Datum worker, int32 n, bool has_lease,
                Datum lease)
{
    const rows::Columns &c = jobs.col();
    Datum queue_lease = 0;
    if (!jobs.queue_lease(queue, &queue_lease))
        no_such_queue(queue);
    TimestampTz now = jobs::clock();
    Datum expires = pg::call([&] {
        return DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(now), has_lease ? lease : queue_lease);
    });
    Datum last_attempt = rows::text_datum("lease expired on the last attempt");
    Sequence tokens = jobs::tokens();
    Slots slots;

    std::vector<Candidate> expired = expired_leases(jobs, queue, now);
    size_t next_expired = 0;
    ReadyJobs ready(jobs, queue, now);
    int remaining = n;
    while (remaining > 0) {
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        const Candidate *ready_head = ready.head();
        bool from_ready;
        if (ready_head && (next_expired == expired.size() || claim_order(*ready_head, expired[next_expired])))
            from_ready = true;
        else if (next_expired < expired.size())
            from_ready = false;
        else
            break;
        const Candidate cand = from_ready ? *ready_head : expired[next_expired];
        // The version the snapshot saw: the ready scan's current row, or an
        // expired lease fetched again by its place.
        rows::Row seen = ready.row();
        if (!from_ready) {
            next_expired++;
            if (!jobs.fetch(cand.tid))
                continue;
            seen = jobs.fetched();
        }

        // A claim that would exceed max_attempts makes the job dead instead.
        bool bury = cand.attempt >= cand.max_attempts;
        bool keyed = !bury && cand.has_key;
        if (keyed && !slots.take(cand.key, now)) {
            if (from_ready)
                ready.advance();
            continue;  // the key is full or busy
        }
        rows::Values v = jobs.values_of(seen);
        if (bury) {
            v.set(c.state, jobs.dead()).set(c.finished_at, TimestampTzGetDatum(now));
            if (v.is_null(c.error))
                v.set(c.error, last_attempt);
        } else {
            v.set(c.state, jobs.running())
                .set(c.attempt, Int32GetDatum(cand.attempt + 1))
                .set(c.lease_token, Int64GetDatum(tokens.next()))
                .set(c.lease_expires_at, expires)
                .set(c.reclaim_after, expires)
                .set(c.worker, worker)
                .set(c.started_at, TimestampTzGetDatum(now));
        }
        TM_Result r = jobs.update(seen, v, LockWaitSkip);
        if (r == TM_Ok && !bury) {
            // baton.claimed_job
            const int cols[claimed_job_columns] = {c.id, c.queue, c.payload, c.attempt, c.lease_token,
                                                   c.lease_expires_at, c.priority, c.unique_key,
                                                   c.concurrency_key, c.enqueued_at};
            Datum values[claimed_job_columns];
            bool nulls[claimed_job_columns];
            for (int k = 0; k < claimed_job_columns; k++) {
                values[k] = v.value(cols[k]);
                nulls[k] = v.is_null(cols[k]);
            }
            pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
            remaining--;
        }
        jobs.next_row();
        if (from_ready)
            ready.advance();
        if (r == TM_Ok)
            continue;
        // Held by another transaction, or changed since the snapshot: passed
        // over (a fencing token drawn for it is simply never used). Under
        // REPEATABLE READ a changed job fails the call, as PostgreSQL's own
        // SKIP LOCKED does.
        if ((r == TM_Updated || r == TM_Deleted) && IsolationUsesXactSnapshot())
            throw Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                        "baton: could not serialize access due to concurrent update");
        if (keyed)
            slots.give_back(cand.key);
    }
    ready.end();
}

} // namespace baton::jobs

using namespace baton;

namespace {

struct ClaimArgs {
    Datum queue, worker, lease;
    int32 n;
    bool has_lease;
};

ClaimArgs claim_args(FunctionCallInfo fcinfo, int first)
{
    ClaimArgs a;
    a.queue = args::queue(fcinfo, first);
    a.worker = args::key(fcinfo, first + 1, "worker");
    a.n = args::int4_or(fcinfo, first + 2, "n", 1, 1, 1000);
    a.lease = 0;
    a.has_lease = args::optional_interval(fcinfo, first + 3, "lease", args::Sign::positive, &a.lease);
    return a;
}

ReturnSetInfo *materialize(FunctionCallInfo fcinfo)
{
    pg::call([&] { InitMaterializedSRF(fcinfo, 0); });
    return reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

} // namespace

BATON_FUNCTION(baton_claim)
{
    ClaimArgs a = claim_args(fcinfo, 0);
    ReturnSetInfo *rsinfo = materialize(fcinfo);
    spi::connect();
    rows::Jobs jobs("baton.claim()");
    jobs::claim_into(jobs, rsinfo, a.queue, a.worker, a.n, a.has_lease, a.lease);
    jobs.close();
    spi::finish();
    return (Datum) 0;
}

// A worker's loop in one round trip and one commit.
BATON_FUNCTION(baton_complete_and_claim)
{
    jobs::Fenced done = jobs::fenced_args(fcinfo, 0);
    ClaimArgs a = claim_args(fcinfo, 2);
    ReturnSetInfo *rsinfo = materialize(fcinfo);
    spi::connect();
    rows::Jobs jobs("baton.complete_and_claim()");
    jobs::complete_many(jobs, done, jobs::clock());
    jobs.refresh_snapshot();
    jobs::claim_into(jobs, rsinfo, a.queue, a.worker, a.n, a.has_lease, a.lease);
    jobs.close();
    spi::finish();
    return (Datum) 0;
}
