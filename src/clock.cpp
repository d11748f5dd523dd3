#include "clock.hpp"
#include "keylock.hpp"
#include "spi.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "utils/lsyscache.h"
}

namespace baton {

TimestampTz read_clock()
{
    return GetCurrentTimestamp();
}

Sequence::Sequence(const char *name)
{
    relid_ = pg::call([&] { return get_relname_relid(name, get_namespace_oid("baton", false)); });
    if (!OidIsValid(relid_))
        throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: sequence baton.%s is missing", name);
}

int64 Sequence::next() const
{
    Oid relid = relid_;
    return pg::call([relid] { return nextval_internal(relid, false); });
}

namespace {

// The epoch in which this backend last raised the floor: (sequence,
// timeline, postmaster start). Plain values: no constructor runs at load.
struct Epoch {
    Oid seq;
    TimeLineID timeline;
    TimestampTz started;
};
Epoch raised = {InvalidOid, 0, 0};

spi::Statement raise_floor{
    "SELECT pg_catalog.setval('baton._token_seq', greatest(last_value, $1)) FROM baton._token_seq",
    1, {INT8OID}, nullptr};

// Raises the sequence to the floor of now. Backends raising it take turns
// (a lock held for the raise only, not to commit), so that a floor read
// earlier never lands after a later one and moves the sequence back. A
// plain nextval in between is below the floor (the rate assumption).
void raise_to_floor()
{
    LOCKTAG turn = keylock::tag(keylock::Space::token_floor, "", 0);
    keylock::acquire(turn);
    int64 floor = read_clock() * 1000;
    spi::connect();
    spi::exec(raise_floor, spi::Args().add(Int64GetDatum(floor)));
    spi::finish();
    keylock::release(turn);
    // Durable before any token above it is handed out, whatever
    // synchronous_commit says.
    pg::call([] { XLogFlush(XactLastRecEnd); });
}

} // namespace

Tokens::Tokens() : Sequence("_token_seq")
{
    // A standby issues no tokens: nextval refuses there.
    if (pg::call([] { return RecoveryInProgress(); }))
        return;
    Epoch now = {relid(), pg::call([] { return GetWALInsertionTimeLine(); }), PgStartTime};
    if (raised.seq == now.seq && raised.timeline == now.timeline && raised.started == now.started)
        return;
    raise_to_floor();
    raised = now;
}

} // namespace baton
