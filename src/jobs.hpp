// What the job functions share: the clock, the sequences, the wake-up.
#pragma once

#include "pg_boundary.hpp"

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

// NOTIFY baton, '<queue>' at commit (Postgres folds duplicates into one).
void notify_due(Datum queue_text);

// Building blocks of the entry points; they expect SPI to be connected.

// ERROR 42704 unless the queue exists.
void require_queue(Datum queue_text);

// Claims up to n due jobs into the caller's materialized result.
void claim_into(ReturnSetInfo *rsinfo, Datum queue, Datum worker, int32 n, bool has_lease, Datum lease);

// (id, lease_token) pairs, sorted by id, duplicates removed.
struct Fenced {
    std::vector<int64> ids;
    std::vector<int64> tokens;
};
Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg);

// Completes the pairs whose token still owns its job, locking rows in
// ascending id order; returns the ids completed.
std::vector<int64> complete_many(const Fenced &jobs);

} // namespace baton::jobs
