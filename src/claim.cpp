// claim: take up to n due jobs without ever waiting on a row another
// transaction holds, and give each a lease with a new fencing token.
#include "args.hpp"
#include "jobs.hpp"
#include "spi.hpp"

#include <algorithm>
#include <vector>

extern "C" {
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/tuplestore.h"
}

namespace baton {
namespace {

// Due jobs in claim order: higher priority, then earlier run_at, then lower
// id. SKIP LOCKED: rows another transaction holds are passed over.
spi::Statement due_ready{
    "SELECT id, priority, run_at, attempt, max_attempts FROM baton._jobs"
    " WHERE queue = $1 AND state = 'ready' AND run_at <= $2"
    " ORDER BY priority DESC, run_at, id LIMIT $3"
    " FOR NO KEY UPDATE SKIP LOCKED",
    3, {TEXTOID, TIMESTAMPTZOID, INT4OID}, nullptr};

// Running jobs whose lease has passed are due again, in the same order.
spi::Statement due_expired{
    "SELECT id, priority, run_at, attempt, max_attempts FROM baton._jobs"
    " WHERE queue = $1 AND state = 'running'"
    "   AND reclaim_after <= $2 AND lease_expires_at <= $2"
    " ORDER BY priority DESC, run_at, id LIMIT $3"
    " FOR NO KEY UPDATE SKIP LOCKED",
    3, {TEXTOID, TIMESTAMPTZOID, INT4OID}, nullptr};

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

spi::Statement queue_exists{
    "SELECT 1 FROM baton._queues WHERE queue = $1", 1, {TEXTOID}, nullptr};

constexpr int claimed_job_columns = 10;

struct Candidate {
    int64 id;
    int32 priority;
    TimestampTz run_at;
    int32 attempt;
    int32 max_attempts;
};

bool claim_order(const Candidate &a, const Candidate &b)
{
    if (a.priority != b.priority)
        return a.priority > b.priority;
    if (a.run_at != b.run_at)
        return a.run_at < b.run_at;
    return a.id < b.id;
}

std::vector<Candidate> fetch(spi::Statement &stmt, Datum queue, TimestampTz now, int limit)
{
    uint64 rows = spi::exec(stmt, spi::Args().add(queue).add(TimestampTzGetDatum(now)).add(Int32GetDatum(limit)));
    std::vector<Candidate> out;
    out.reserve(rows);
    for (uint64 r = 0; r < rows; r++)
        out.push_back({DatumGetInt64(spi::value(r, 0)), DatumGetInt32(spi::value(r, 1)),
                       DatumGetTimestampTz(spi::value(r, 2)), DatumGetInt32(spi::value(r, 3)),
                       DatumGetInt32(spi::value(r, 4))});
    return out;
}

} // namespace
} // namespace baton

namespace baton::jobs {

void claim_into(ReturnSetInfo *rsinfo, Datum queue, Datum worker, int32 n, bool has_lease, Datum lease)
{
    Sequence tokens = jobs::tokens();
    int remaining = n;
    int claimed = 0;
    for (;;) {
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        TimestampTz now = jobs::clock();
        std::vector<Candidate> expired = fetch(due_expired, queue, now, remaining);
        std::vector<Candidate> due = fetch(due_ready, queue, now, remaining);
        // Both lists are sorted; the first `remaining` of their union win.
        // Rows locked but not taken stay locked until this transaction ends.
        std::vector<Candidate> chosen;
        std::merge(expired.begin(), expired.end(), due.begin(), due.end(),
                   std::back_inserter(chosen), claim_order);
        if (chosen.size() > static_cast<size_t>(remaining))
            chosen.resize(remaining);

        std::vector<int64> take_ids, take_tokens, dead_ids;
        for (const Candidate &c : chosen) {
            if (c.attempt >= c.max_attempts) {
                dead_ids.push_back(c.id);
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
        // Only burying a job can leave room for another pass.
        if (dead_ids.empty() || remaining <= 0)
            break;
    }
    if (claimed == 0 && spi::exec(queue_exists, spi::Args().add(queue)) == 0)
        throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: queue \"%s\" does not exist", args::cstring(queue));
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
