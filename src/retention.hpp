// Retention: finished jobs (completed, dead, cancelled) older than their
// queue's retention (set_retention; 7 days for a new queue, none for a queue
// created before 0.2.0) are deleted by the claims of that queue, a bounded
// batch at a time, so that a queue that never stops never grows and nobody
// has to call purge. While the database's vacuum worker runs (vacuum.hpp),
// it deletes them instead, through the same baton._delete_finished.
#pragma once

#include "rows.hpp"

namespace baton::retention {

// Deletes up to one batch of the queue's expired finished jobs, at most
// about once a second per backend and queue unless the last batch was full;
// one backend at a time per queue, and never waiting for a row or a lock.
void prune(Datum queue, const rows::Queue &q, TimestampTz now);

} // namespace baton::retention
