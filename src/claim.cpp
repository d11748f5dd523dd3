// claim: take up to n due jobs without ever waiting on a row another
// transaction holds, and give each a lease with a new fencing token.
//
// A job with a concurrency_key also needs a free slot of that key's
// semaphore. Slot decisions for a key are serialized by a transaction-scoped
// guard lock that claim only ever tries (a busy key is skipped, never waited
// for); the slot count runs after the guard is held, in a statement whose
// snapshot therefore sees every earlier claimer's commit.
#include "args.hpp"
#include "jobs.hpp"
#include "semaphore.hpp"
#include "spi.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/tuplestore.h"
}

namespace baton {
namespace {

// Due jobs, each branch in claim order (higher priority, then earlier
// run_at, then lower id): ready jobs, and running jobs whose lease has
// passed, which are due again in the same order. SKIP LOCKED: rows another
// transaction holds are passed over. $4: concurrency keys already found
// full or busy in this call. One statement for both branches: one executor
// start, one snapshot.
#define DUE_COLUMNS "id, priority, run_at, attempt, max_attempts, concurrency_key"
#define NOT_BLOCKED "(concurrency_key IS NULL OR concurrency_key <> ALL ($4))"
spi::Statement due{
    "SELECT * FROM (SELECT " DUE_COLUMNS " FROM baton._jobs"
    "  WHERE queue = $1 AND state = 'ready' AND run_at <= $2 AND " NOT_BLOCKED
    "  ORDER BY priority DESC, run_at, id LIMIT $3"
    "  FOR NO KEY UPDATE SKIP LOCKED) ready"
    " UNION ALL "
    "SELECT * FROM (SELECT " DUE_COLUMNS " FROM baton._jobs"
    "  WHERE queue = $1 AND state = 'running' AND reclaim_after <= $2"
    "    AND lease_expires_at <= $2 AND " NOT_BLOCKED
    "  ORDER BY priority DESC, run_at, id LIMIT $3"
    "  FOR NO KEY UPDATE SKIP LOCKED) expired",
    4, {TEXTOID, TIMESTAMPTZOID, INT4OID, TEXTARRAYOID}, nullptr};

// The rows are locked already; the result columns are baton.claimed_job's.
spi::Statement take{
    "UPDATE baton._jobs j"
    "   SET state = 'running', attempt = j.attempt + 1, lease_token = c.token,"
    "       lease_expires_at = $3 + coalesce($4, q.lease),"
    "       reclaim_after = $3 + coalesce($4, q.lease),"
    "       worker = $5, started_at = $3"
    "  FROM unnest($2::int8[], $6::int8[]) AS c(id, token), baton._queues q"
    " WHERE j.id = c.id AND j.queue = $1 AND q.queue = $1"
    " RETURNING j.id, j.queue, j.payload, j.attempt, j.lease_token, j.lease_expires_at,"
    "           j.priority, j.unique_key, j.concurrency_key, j.enqueued_at",
    6, {TEXTOID, INT8ARRAYOID, TIMESTAMPTZOID, INTERVALOID, TEXTOID, INT8ARRAYOID}, nullptr};

// A claim that would exceed max_attempts makes the job dead instead.
spi::Statement bury{
    "UPDATE baton._jobs SET state = 'dead', finished_at = $3,"
    "       error = coalesce(error, 'lease expired on the last attempt')"
    " WHERE queue = $1 AND id = ANY ($2)",
    3, {TEXTOID, INT8ARRAYOID, TIMESTAMPTZOID}, nullptr};

constexpr int claimed_job_columns = 10;

struct Candidate {
    int64 id;
    int32 priority;
    TimestampTz run_at;
    int32 attempt;
    int32 max_attempts;
    bool has_key;
    std::string key;
    Datum key_text;
};

bool claim_order(const Candidate &a, const Candidate &b)
{
    if (a.priority != b.priority)
        return a.priority > b.priority;
    if (a.run_at != b.run_at)
        return a.run_at < b.run_at;
    return a.id < b.id;
}

std::vector<Candidate> fetch(spi::Statement &stmt, Datum queue, TimestampTz now, int limit, Datum blocked)
{
    uint64 rows = spi::exec(stmt, spi::Args().add(queue).add(TimestampTzGetDatum(now))
                                      .add(Int32GetDatum(limit)).add(blocked));
    std::vector<Candidate> out;
    out.reserve(rows);
    for (uint64 r = 0; r < rows; r++) {
        Candidate c{DatumGetInt64(spi::value(r, 0)), DatumGetInt32(spi::value(r, 1)),
                    DatumGetTimestampTz(spi::value(r, 2)), DatumGetInt32(spi::value(r, 3)),
                    DatumGetInt32(spi::value(r, 4)), false, {}, 0};
        bool null_key;
        c.key_text = spi::value(r, 5, &null_key);
        if (!null_key) {
            text *t = spi::text_value(r, 5);
            c.has_key = true;
            c.key.assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
        }
        out.push_back(std::move(c));
    }
    return out;
}

// Slot bookkeeping for the concurrency keys met during one claim call.
class Slots {
public:
    // Takes a slot of c's key if one is free; false (and the key is
    // remembered as blocked) otherwise.
    bool take(const Candidate &c, TimestampTz now)
    {
        auto it = free_.find(c.key);
        if (it == free_.end()) {
            if (IsolationUsesXactSnapshot())
                throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "baton: claiming jobs with a concurrency_key needs READ COMMITTED isolation");
            int64 n = semaphore::try_guard(c.key.data(), static_cast<int>(c.key.size()))
                          ? semaphore::free_slots(c.key_text, now)
                          : 0;  // another transaction is deciding for this key
            it = free_.emplace(c.key, n).first;
        }
        if (it->second == 0) {
            blocked_.push_back(c.key_text);
            return false;
        }
        it->second--;
        return true;
    }

    // The keys found full or busy, as a text[] for the due_* statements.
    Datum blocked() const
    {
        return spi::array(TEXTOID, blocked_, std::vector<bool>(blocked_.size(), false));
    }

private:
    std::map<std::string, int64> free_;
    std::vector<Datum> blocked_;
};

} // namespace
} // namespace baton

namespace baton::jobs {

void claim_into(ReturnSetInfo *rsinfo, Datum queue, Datum worker, int32 n, bool has_lease, Datum lease)
{
    Sequence tokens = jobs::tokens();
    int remaining = n;
    int claimed = 0;
    Slots slots;
    for (;;) {
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        TimestampTz now = jobs::clock();
        // The first `remaining` of both branches in claim order win. Rows
        // locked but not taken stay locked until this transaction ends.
        std::vector<Candidate> chosen = fetch(due, queue, now, remaining, slots.blocked());
        std::sort(chosen.begin(), chosen.end(), claim_order);
        if (chosen.size() > static_cast<size_t>(remaining))
            chosen.resize(remaining);

        std::vector<int64> take_ids, take_tokens, dead_ids;
        bool skipped = false;
        for (const Candidate &c : chosen) {
            if (c.attempt >= c.max_attempts) {
                dead_ids.push_back(c.id);
            } else if (c.has_key && !slots.take(c, now)) {
                skipped = true;  // rows stay locked until commit; others may not take them either
            } else {
                take_ids.push_back(c.id);
                take_tokens.push_back(tokens.next());
            }
        }
        if (!dead_ids.empty())
            spi::exec(bury, spi::Args().add(queue).add(spi::int8_array(dead_ids)).add(TimestampTzGetDatum(now)));
        if (!take_ids.empty()) {
            uint64 rows = spi::exec(take, spi::Args()
                                              .add(queue)
                                              .add(spi::int8_array(take_ids))
                                              .add(TimestampTzGetDatum(now))
                                              .add_maybe(!has_lease, lease)
                                              .add(worker)
                                              .add(spi::int8_array(take_tokens)));
            // RETURNING order is the join's; hand rows back in claim order.
            std::vector<std::pair<size_t, uint64>> order;
            for (uint64 r = 0; r < rows; r++) {
                int64 id = DatumGetInt64(spi::value(r, 0));
                size_t pos = std::find(take_ids.begin(), take_ids.end(), id) - take_ids.begin();
                order.emplace_back(pos, r);
            }
            std::sort(order.begin(), order.end());
            for (auto [pos, r] : order) {
                Datum values[claimed_job_columns];
                bool nulls[claimed_job_columns];
                for (int col = 0; col < claimed_job_columns; col++)
                    values[col] = spi::value(r, col, &nulls[col]);
                pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
            }
            claimed += static_cast<int>(rows);
            remaining -= static_cast<int>(rows);
        }
        // Burying a job or skipping a full key leaves room for another pass;
        // each pass buries or blocks something new, so the loop ends.
        if ((dead_ids.empty() && !skipped) || remaining <= 0)
            break;
    }
    if (claimed == 0)
        require_queue(queue);
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
    jobs::claim_into(rsinfo, a.queue, a.worker, a.n, a.has_lease, a.lease);
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
    jobs::complete_many(done);
    jobs::claim_into(rsinfo, a.queue, a.worker, a.n, a.has_lease, a.lease);
    spi::finish();
    return (Datum) 0;
}
