// complete: only the owner of an unexpired lease finishes a job, and only
// once. complete_batch and complete_and_claim complete through it too.
#pragma once

#include "rows.hpp"

#include <vector>

namespace baton::complete {

// Completes job `id` if `token` owns its lease and the lease has not expired
// at `now`; `result` (if has_result) becomes its result. The concurrency key
// of a completed job is added to freed_keys: its slot is free.
bool one(rows::JobTable &table, int64 id, int64 token, TimestampTz now, bool has_result, Datum result,
         std::vector<Datum> *freed_keys);

// Wakes one parked job per freed key (semaphore::wake).
void wake(const std::vector<Datum> &freed_keys);

} // namespace baton::complete
