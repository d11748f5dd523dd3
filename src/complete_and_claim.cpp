// complete_and_claim: a worker's loop in one round trip and one commit:
// completes what it finished, exactly as complete_batch, then claims, exactly
// as claim. With results (the 7-argument form) it stores each job's result
// and reports every refused completion in its own row (refused = true, only
// the id set) before the claimed jobs (refused = false).
#include "claim.hpp"
#include "clock.hpp"
#include "complete.hpp"
#include "complete_batch.hpp"
#include "result.hpp"
#include "spi.hpp"

using namespace baton;

namespace {

constexpr int loop_row_columns = 11;

void report_refused(ResultRows &result, const std::vector<int64> &ids)
{
    for (int64 id : ids) {
        Datum values[loop_row_columns] = {BoolGetDatum(true), Int64GetDatum(id)};
        bool nulls[loop_row_columns];
        for (int k = 0; k < loop_row_columns; k++)
            nulls[k] = k > 1;
        result.add(values, nulls);
    }
}

} // namespace

// complete_and_claim(ids, lease_tokens, queue, worker, n, lease[, results])
BATON_FUNCTION(baton_complete_and_claim)
{
    bool with_results = PG_NARGS() > 6;
    complete_batch::Fenced done = complete_batch::fenced_args(fcinfo, 0, with_results ? 6 : -1);
    claim::Args a = claim::args(fcinfo, 2);
    a.refused_column = with_results;
    ResultRows result(fcinfo);
    spi::connect();
    rows::JobTable table("baton.complete_and_claim()");
    std::vector<Datum> freed;
    std::vector<int64> completed = complete_batch::complete_all(table, done, read_clock(), &freed);
    if (with_results)
        report_refused(result, complete_batch::refused(done, completed));
    complete::wake(freed);
    table.refresh_snapshot();
    claim::Claimed c = claim::run(table, result, a);
    table.close();
    claim::upkeep(a, c);
    spi::finish();
    return (Datum) 0;
}
