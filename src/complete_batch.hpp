// complete_batch: many completions in one call, rows locked in ascending id
// order, so it never deadlocks with another complete_batch, heartbeat or
// complete_and_claim.
#pragma once

#include "rows.hpp"

#include <vector>

namespace baton::complete_batch {

// (id, lease_token) pairs, sorted by id, duplicates removed (the first
// occurrence counts), each with the result to store (or none).
struct Fenced {
    std::vector<int64> ids;
    std::vector<int64> tokens;
    std::vector<Datum> results;    // jsonb, when has_result
    std::vector<bool> has_result;
};

// The pairs of the arguments ids (at ids_arg) and lease_tokens (the next),
// with the results at results_arg (-1: none; an argument of the same
// length, a NULL element meaning no result).
Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg, int results_arg = -1);

// Completes the pairs whose token still owns its job, in ascending id order;
// returns the ids completed (freed_keys: see complete::one).
std::vector<int64> complete_all(rows::JobTable &table, const Fenced &pairs, TimestampTz now,
                                std::vector<Datum> *freed_keys);

// The ids of the pairs whose completion was refused (not in `done`).
std::vector<int64> refused(const Fenced &pairs, const std::vector<int64> &done);

} // namespace baton::complete_batch
