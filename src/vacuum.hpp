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
// when the table needs a vacuum and no worker runs there; it exits when
// three checks in a row, a second apart, found nothing to do.
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace baton::vacuum {

// baton.vacuum_worker and baton.vacuum_threshold (from _PG_init).
void define_settings();

// Called by every claim: at most once a second per backend, starts the
// database's worker if it is on, the table needs it and none runs.
void maybe_start(TimestampTz now);

} // namespace baton::vacuum
