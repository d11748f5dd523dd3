// What the job functions share: the clock, the sequences, the wake-up.
#pragma once

#include "pg_boundary.hpp"

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

} // namespace baton::jobs
