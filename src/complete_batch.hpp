// complete_batch: many completions in one call, rows locked in ascending id
// order, so it never deadlocks with another complete_batch, heartbeat or
// complete_and_claim.
#pragma once

#include "rows.hpp"

#include <vector>

namespace baton::complete_batch {

// (id, lease_token) pairs, sorted by id, duplicates removed.
struct Fenced {
    std::vector<int64> ids;
    std::vector<int64> tokens;
};

// The pairs of the arguments ids (at ids_arg) and lease_tokens (the next).
Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg);

// Completes the pairs whose token still owns its job, in ascending id order;
// returns the ids completed (freed_keys: see complete::one).
std::vector<int64> complete_all(rows::JobTable &table, const Fenced &pairs, TimestampTz now,
                                std::vector<Datum> *freed_keys);

} // namespace baton::complete_batch
