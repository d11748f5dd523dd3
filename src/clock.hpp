// Time and order: the clock every call reads, and the sequences that number
// jobs and fencing tokens. Both are read in C++ and passed to statements as
// values (never clock_timestamp() or nextval() inside a statement).
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace baton {

// The clock at the moment of the call (clock_timestamp(), not now()).
TimestampTz read_clock();

// A sequence of schema baton, looked up by name once per call.
class Sequence {
public:
    explicit Sequence(const char *name);
    int64 next() const;

private:
    Oid relid_;
};

// Every fencing token (claims and semaphore holders) comes from this one.
inline Sequence tokens() { return Sequence("_token_seq"); }
inline Sequence job_ids() { return Sequence("_job_id_seq"); }

} // namespace baton
