// The vacuum worker, an optional extra (off unless baton.vacuum_worker is
// on): a background worker per database that vacuums baton._jobs as soon as
// it holds baton.vacuum_threshold dead row versions, instead of waiting for
// autovacuum, which visits a database once a minute (autovacuum_naptime)
// and sleeps as it goes (autovacuum_vacuum_cost_delay). A queue that never
// stops leaves three dead versions per job: at 10,000 jobs/s, two million
// between two autovacuum passes, and its claims slow down as they pile up.
//
// No shared_preload_libraries and no restart: the claims of a database
// whose settings turn it on start the worker (a dynamic background worker)
// when the table needs a vacuum and no worker runs there. While it runs it
// also applies the queues' retention, so that no claim carries a batch of
// deletes; it exits when three looks in a row, a second apart, found
// nothing to delete or vacuum.
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace baton::vacuum {

// baton.vacuum_worker and baton.vacuum_threshold (from _PG_init).
void define_settings();

// Called by every claim: at most once a second per backend, looks whether
// the database's worker runs, and starts it if it is on, none runs and the
// table needs a vacuum.
void look(TimestampTz now);

// The worker also deletes finished jobs past their queue's retention, as
// claims would (retention.hpp): true while this backend's last look saw it
// run, and claims leave retention to it.
bool worker_prunes();

} // namespace baton::vacuum
