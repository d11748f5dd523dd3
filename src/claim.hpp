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
void into(rows::JobTable &table, ResultRows &result, const Args &a);

} // namespace baton::claim
