// heartbeat and renew: only the owner of an unexpired lease extends it,
// checked with the clock read once its row is locked. Both move
// lease_expires_at, and reclaim_after only now and then (see EXTEND), so
// most of their updates change no indexed column.
#include "args.hpp"
#include "clock.hpp"
#include "result.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

using namespace baton;

namespace {

// The new expiry is $now + lease. reclaim_after (the indexed column claim
// finds expired leases by) is lowered when the lease shrinks, and raised to
// the new expiry once less than half a lease is left before it: a job
// heartbeated in time never falls into the range claim reads, and most
// heartbeats change no indexed column (they stay HOT).
#define EXTEND(now, lease)                                                             \
    "   SET lease_expires_at = " now " + " lease ","                                   \
    "       reclaim_after = CASE WHEN j.reclaim_after < " now " + " lease " / 2"        \
    "                            THEN " now " + " lease                                \
    "                            ELSE least(j.reclaim_after, " now " + " lease ") END"

// Rows locked in ascending id order, like every multi-row lock in baton,
// first; then the leases are checked and extended with the clock read after
// the locks are held: a heartbeat that waited for a row must not revive a
// lease that expired meanwhile (its slot may have gone to someone else).
// extend_worker locks the same rows again (already this transaction's: no
// wait, nothing written) and any that became the worker's since.
spi::Statement lock_worker{
    "SELECT count(*) FROM (SELECT 1 FROM baton._jobs"
    "                       WHERE worker = $1 AND state = 'running' AND lease_expires_at > $2"
    "                       ORDER BY id FOR NO KEY UPDATE) s",
    2, {TEXTOID, TIMESTAMPTZOID}, nullptr};

spi::Statement extend_worker{
    "UPDATE baton._jobs j" EXTEND("$2", "coalesce($3, q.lease)")
    "  FROM (SELECT id, queue FROM baton._jobs"
    "         WHERE worker = $1 AND state = 'running' AND lease_expires_at > $2"
    "         ORDER BY id FOR NO KEY UPDATE) s, baton._queues q"
    " WHERE j.id = s.id AND j.queue = s.queue AND q.queue = j.queue"
    " RETURNING j.id, j.lease_token, j.lease_expires_at",
    3, {TEXTOID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

// Lock first, by token only: a renew racing a takeover waits for it and
// then finds the token gone. The expiry is checked once the lock is held.
spi::Statement lock_owned{
    "SELECT j.lease_expires_at, coalesce($3, q.lease) FROM baton._jobs j"
    "  JOIN baton._queues q ON q.queue = j.queue"
    " WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running'"
    "   FOR NO KEY UPDATE OF j",
    3, {INT8OID, INT8OID, INTERVALOID}, nullptr};

spi::Statement extend_one{
    "UPDATE baton._jobs j" EXTEND("$3", "$4")
    " WHERE id = $1 AND lease_token = $2 AND state = 'running'"
    " RETURNING lease_expires_at",
    4, {INT8OID, INT8OID, TIMESTAMPTZOID, INTERVALOID}, nullptr};

} // namespace

BATON_FUNCTION(baton_heartbeat)
{
    Datum worker = args::key(fcinfo, 0, "worker");
    Datum lease = 0;
    bool has_lease = args::optional_interval(fcinfo, 1, "lease", args::Sign::positive, &lease);

    ResultRows result(fcinfo);

    spi::connect();
    spi::exec(lock_worker, spi::Args().add(worker).add(TimestampTzGetDatum(read_clock())));
    uint64 rows = DatumGetInt64(spi::value(0, 0));
    if (rows > 0)
        rows = spi::exec(extend_worker, spi::Args()
                                            .add(worker)
                                            .add(TimestampTzGetDatum(read_clock()))
                                            .add_maybe(!has_lease, lease));
    for (uint64 r = 0; r < rows; r++) {
        Datum values[3] = {spi::value(r, 0), spi::value(r, 1), spi::value(r, 2)};
        bool nulls[3] = {false, false, false};
        result.add(values, nulls);
    }
    spi::finish();
    return (Datum) 0;
}

BATON_FUNCTION(baton_renew)
{
    int64 id = args::int8(fcinfo, 0, "id");
    int64 token = args::int8(fcinfo, 1, "lease_token");
    Datum lease = 0;
    bool has_lease = args::optional_interval(fcinfo, 2, "lease", args::Sign::positive, &lease);

    spi::connect();
    Datum id_arg = Int64GetDatum(id), token_arg = Int64GetDatum(token);
    if (spi::exec(lock_owned, spi::Args().add(id_arg).add(token_arg).add_maybe(!has_lease, lease)) == 0) {
        spi::finish();
        PG_RETURN_NULL();
    }
    TimestampTz expires = DatumGetTimestampTz(spi::value(0, 0));
    Datum effective_lease = spi::value(0, 1);
    TimestampTz now = read_clock();
    if (expires <= now) {  // the lease is the only truth
        spi::finish();
        PG_RETURN_NULL();
    }
    if (spi::exec(extend_one, spi::Args().add(id_arg).add(token_arg).add(TimestampTzGetDatum(now)).add(effective_lease)) != 1)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: renew lost the row it had locked");
    TimestampTz renewed = DatumGetTimestampTz(spi::value(0, 0));
    spi::finish();
    PG_RETURN_TIMESTAMPTZ(renewed);
}
