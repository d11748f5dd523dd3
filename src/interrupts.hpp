// Interrupt checks in loops that can run long: statement_timeout and a
// cancel must end any call promptly (57014), at one cadence everywhere.
#pragma once

#include "pg_boundary.hpp"

namespace baton {

// CHECK_FOR_INTERRUPTS, through the boundary.
inline void check_interrupts()
{
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
}

// Every 1,024th step of a loop (`step` counts from 0 or 1).
inline void check_interrupts_every(uint64 step)
{
    if (step % 1024 == 0)
        check_interrupts();
}

} // namespace baton
