// What the job functions share: the clock, the sequences, the wake-up.
#pragma once

#include "pg_boundary.hpp"
#include "rows.hpp"

#include <vector>

extern "C" {
#include "nodes/execnodes.h"
}

namespace baton::jobs {

// The clock at the moment of the call (clock_timestamp(), not now()).
TimestampTz clock();

// A sequence of schema baton, looked up by name once per call.
class Sequence {
public:
    explicit Sequence(const char *name);
    int64 next() const;

private:
    Oid relid_;
};

inline Sequence tokens() { return Sequence("_token_seq"); }
inline Sequence job_ids() { return Sequence("_job_id_seq"); }

// Defines baton's settings (baton.notify); called once, by _PG_init.
void define_settings();

// NOTIFY baton, '<queue>' at commit (Postgres folds duplicates into one),
// unless baton.notify is off.
void notify_due(Datum queue_text);

// Whether baton._jobs has 0.2.0's blocked_until (claims park keyed jobs
// whose key is full); false while a 0.1.0 install awaits its upgrade script.
bool parking_installed();

// ERROR 42704: the queue does not exist.
[[noreturn]] void no_such_queue(Datum queue_text);

// The queue's max_attempts; ERROR 42704 unless the queue exists (SPI
// connected).
int32 require_queue(Datum queue_text);

// Claims up to n due jobs into the caller's materialized result (SPI
// connected: concurrency keys count their slots with it).
void claim_into(rows::Jobs &jobs, ReturnSetInfo *rsinfo, Datum queue, Datum worker, int32 n, bool has_lease,
                Datum lease);

// (id, lease_token) pairs, sorted by id, duplicates removed.
struct Fenced {
    std::vector<int64> ids;
    std::vector<int64> tokens;
};
Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg);

// Completes job `id` if `token` owns its lease and the lease has not expired
// at `now`; `result` (if has_result) becomes its result. The concurrency key
// of a completed job is added to freed_keys (its slot is free).
bool complete_one(rows::Jobs &jobs, int64 id, int64 token, TimestampTz now, bool has_result, Datum result,
                  std::vector<Datum> *freed_keys);

// Completes the pairs whose token still owns its job, locking rows in
// ascending id order; returns the ids completed.
std::vector<int64> complete_many(rows::Jobs &jobs, const Fenced &pairs, TimestampTz now,
                                 std::vector<Datum> *freed_keys);

// Wakes a job parked on each freed key (connects SPI itself).
void wake(const std::vector<Datum> &freed_keys);

} // namespace baton::jobs
