// claim: take up to n due jobs without ever waiting on a row another
// transaction holds, and give each a lease with a new fencing token.
// complete_and_claim claims through it too.
#pragma once

#include "result.hpp"
#include "rows.hpp"

namespace baton::claim {

// claim's arguments from `first` on: queue, worker, n, lease.
struct Args {
    Datum queue, worker, lease;
    int32 n;
    bool has_lease;  // else the queue's lease
    // Rows of baton.loop_row (a refused column first, false for a claimed
    // job) instead of baton.claimed_job: complete_and_claim with results.
    bool refused_column = false;
};
Args args(FunctionCallInfo fcinfo, int first);

// Claims into `result` (rows of baton.claimed_job). SPI must be connected:
// concurrency keys count their slots with it.
// Returns the queue's settings as it read them and how many jobs it claimed.
struct Claimed {
    rows::Queue queue;
    int jobs;
};
Claimed into(rows::JobTable &table, ResultRows &result, const Args &a);

// into(), and the session's wake-ups (notify.hpp): a claim that gets
// nothing registers a listening session idle on the queue and claims once
// more; one that gets jobs unregisters it.
Claimed run(rows::JobTable &table, ResultRows &result, const Args &a);

// The table's upkeep after a claim, its JobTable closed: a look for the
// vacuum worker (vacuum.hpp), then the queue's expired finished jobs
// (retention.hpp) unless that worker runs and deletes them itself.
void upkeep(const Args &a, const Claimed &c);

} // namespace baton::claim
