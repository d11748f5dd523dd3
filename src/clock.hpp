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

    Oid relid() const { return relid_; }

private:
    Oid relid_;
};

// Fencing tokens (claims and semaphore holders) come from one sequence,
// and are never issued twice: not after a crash that lost commits, a
// standby's promotion, a restore, or a drop and re-create of the extension.
// Before its first token in an epoch — since its postmaster started, on its
// WAL timeline, of this install's sequence — a backend raises the sequence
// to at least 1,000 x the microseconds since 2000 (the floor) and makes
// that durable: every token issued in an epoch that started earlier is
// below it, as long as fewer than 1,000 tokens a microsecond were issued
// and the clock did not step back by more than the time between the two
// epochs' starts (docs/leases.md). After that it compares three values.
class Tokens : public Sequence {
public:
    Tokens();
};
inline Tokens tokens() { return Tokens(); }
inline Sequence job_ids() { return Sequence("_job_id_seq"); }

} // namespace baton
