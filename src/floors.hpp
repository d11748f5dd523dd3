// Where a claim starts reading each priority of a queue in _jobs_ready, and
// the range of possibly expired leases in _jobs_running.
//
// A claim leaves behind the ready entry of every job it takes: the entry
// points to a version that is dead once the claim commits, and only VACUUM
// removes it. Between two autovacuum passes the head of a busy queue's
// range fills with such entries (a 10,000-job drain left 50 pages of them;
// claims read 31 index pages each), and every claim walked them again.
//
// This backend remembers, per queue and priority, a floor: a run_at below
// which the priority has no entry a claim could take, found by its last
// read of that priority (the run_at of the first entry the index did not
// already know to be dead), capped at the claim's clock less `margin`. A
// claim reads each priority from its floor, after a probe of one page for
// priorities it has no floor for.
//
// An entry can come below a floor only if it is written with a run_at
// more than `margin` before the moment it is written (a backdated job, an
// unparked or retried one, a replaced one): such a write moves the epoch
// (the sequence baton._ready_epoch) before it commits, and a claim that
// finds the epoch moved since its floors were found forgets them. baton's
// direct inserts check the rule (moved()); every SQL statement that inserts
// into or updates baton._jobs moves it (a statement trigger).
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace baton::floors {

// How far before its claim's clock a floor may be, and how far before the
// moment it is written a new entry's run_at may be without moving the
// epoch (0.1 s).
constexpr TimestampTz margin = 100 * 1000;

// One queue's floors (floors.cpp).
struct Queue;


// The floors of `queue` in the table `jobs`, emptied if the epoch moved
// since they were found: read after the snapshot of the scan that uses
// them was taken. nullptr (read every priority from its start) when there
// is no epoch sequence (a 0.1.0 install awaiting its upgrade script) or
// the queue's name is too long to keep.
Queue *find(Oid jobs, Datum queue);

// The highest priority below `below` (any priority, when !has_below) that
// has a floor: false if none.
bool highest_below(const Queue *q, bool has_below, int32 below, int32 *priority, TimestampTz *from);

// The priority's entries a claim could take are at run_at `from` or later.
void set(Queue *q, int32 priority, TimestampTz from);

// The same for _jobs_running, which claims read for leases that may have
// expired (queue =, reclaim_after <= now): a completed or reclaimed job
// leaves its entry there too. The leases a claim could find expired have a
// reclaim_after of `from` or later; false when this backend knows of no
// such floor. Every reclaim_after baton writes is its writer's clock plus
// a lease (or NULL): only an SQL statement can backdate one, and it moves
// the epoch.
bool lease_floor(const Queue *q, TimestampTz *from);
void set_lease_floor(Queue *q, TimestampTz from);

// Whether the statement running is one of baton's own (spi::exec): the
// statement trigger leaves the epoch to its caller, which moves it itself
// when it wrote a ready entry below a floor (heartbeats and renewals, which
// write none, then move nothing).
extern bool own_statement;

// Moves the epoch (an unparked job keeps its old run_at).
void moved();

// Moves the epoch if a ready entry just written (before the commit) has a
// run_at more than `margin` before now (read after the write).
void moved_if_backdated(TimestampTz run_at);

} // namespace baton::floors
