// complete_and_claim: a worker's loop in one round trip and one commit:
// completes what it finished, exactly as complete_batch, then claims, exactly
// as claim.
#include "claim.hpp"
#include "clock.hpp"
#include "complete.hpp"
#include "complete_batch.hpp"
#include "result.hpp"
#include "spi.hpp"

using namespace baton;

BATON_FUNCTION(baton_complete_and_claim)
{
    complete_batch::Fenced done = complete_batch::fenced_args(fcinfo, 0);
    claim::Args a = claim::args(fcinfo, 2);
    ResultRows result(fcinfo);
    spi::connect();
    rows::JobTable table("baton.complete_and_claim()");
    std::vector<Datum> freed;
    complete_batch::complete_all(table, done, read_clock(), &freed);
    complete::wake(freed);
    table.refresh_snapshot();
    claim::into(table, result, a);
    table.close();
    spi::finish();
    return (Datum) 0;
}
