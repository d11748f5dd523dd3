#include "floors.hpp"
#include "clock.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
}

#include <cstring>

namespace baton::floors {

// Plain values: nothing runs at load.
struct Level {
    int32 priority;
    TimestampTz from;
};

struct Queue {
    char name[128];  // empty: unused
    Oid jobs;        // baton._jobs (a new one after DROP and CREATE EXTENSION)
    int64 epoch;
    int levels;
    Level level[8];
    bool has_lease_floor;
    TimestampTz lease_floor;
};

namespace {

// baton._ready_epoch, or InvalidOid before the 0.2.0 upgrade script ran.
Oid epoch_sequence()
{
    return pg::call([] {
        Oid nsp = get_namespace_oid("baton", true);
        return OidIsValid(nsp) ? get_relname_relid("_ready_epoch", nsp) : InvalidOid;
    });
}

Queue queues[16];
int next_slot = 0;

// The sequence's last value (0 before its first nextval).
int64 read_epoch(Oid seq)
{
    return pg::call([seq] {
        LOCAL_FCINFO(fcinfo, 1);
        InitFunctionCallInfoData(*fcinfo, nullptr, 1, InvalidOid, nullptr, nullptr);
        fcinfo->args[0].value = ObjectIdGetDatum(seq);
        fcinfo->args[0].isnull = false;
        Datum value = pg_sequence_last_value(fcinfo);
        return fcinfo->isnull ? int64{0} : DatumGetInt64(value);
    });
}

} // namespace

Queue *find(Oid jobs, Datum queue)
{
    Oid seq = epoch_sequence();
    if (!OidIsValid(seq))
        return nullptr;
    text *t = pg::call([queue] { return DatumGetTextPP(queue); });
    const char *name = VARDATA_ANY(t);
    size_t len = VARSIZE_ANY_EXHDR(t);
    if (len == 0 || len >= sizeof queues[0].name)
        return nullptr;
    int64 epoch = read_epoch(seq);
    Queue *q = nullptr;
    for (Queue &each : queues)
        if (each.name[0] != '\0' && strlen(each.name) == len && memcmp(each.name, name, len) == 0)
            q = &each;
    if (q == nullptr) {
        q = &queues[next_slot];
        next_slot = (next_slot + 1) % (sizeof queues / sizeof queues[0]);
        memcpy(q->name, name, len);
        q->name[len] = '\0';
        q->levels = 0;
        q->has_lease_floor = false;
    }
    if (q->jobs != jobs || q->epoch != epoch) {
        q->jobs = jobs;
        q->epoch = epoch;
        q->levels = 0;
        q->has_lease_floor = false;
    }
    return q;
}

bool highest_below(const Queue *q, bool has_below, int32 below, int32 *priority, TimestampTz *from)
{
    bool found = false;
    for (int i = 0; q != nullptr && i < q->levels; i++) {
        const Level &l = q->level[i];
        if ((!has_below || l.priority < below) && (!found || l.priority > *priority)) {
            *priority = l.priority;
            *from = l.from;
            found = true;
        }
    }
    return found;
}

void set(Queue *q, int32 priority, TimestampTz from)
{
    if (q == nullptr)
        return;
    for (int i = 0; i < q->levels; i++)
        if (q->level[i].priority == priority) {
            q->level[i].from = from;
            return;
        }
    if (q->levels < static_cast<int>(sizeof q->level / sizeof q->level[0]))
        q->level[q->levels++] = {priority, from};
}

bool lease_floor(const Queue *q, TimestampTz *from)
{
    if (q == nullptr || !q->has_lease_floor)
        return false;
    *from = q->lease_floor;
    return true;
}

void set_lease_floor(Queue *q, TimestampTz from)
{
    if (q == nullptr)
        return;
    q->has_lease_floor = true;
    q->lease_floor = from;
}

bool own_statement = false;

void moved()
{
    Oid seq = epoch_sequence();
    if (OidIsValid(seq))
        pg::call([seq] { (void) nextval_internal(seq, false); });
}

void moved_if_backdated(TimestampTz run_at)
{
    if (run_at < read_clock() - margin)
        moved();
}

} // namespace baton::floors

using namespace baton;

// baton._ready_epoch_moves(): the statement trigger of baton._jobs (AFTER
// INSERT OR UPDATE): every SQL statement that writes the table, but
// baton's own, moves the epoch before its transaction commits.
BATON_FUNCTION(baton_ready_epoch_moves)
{
    bool trigger = pg::call([&] { return CALLED_AS_TRIGGER(fcinfo); });
    if (!trigger)
        throw Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, "baton: _ready_epoch_moves() must be a trigger");
    if (!floors::own_statement)
        floors::moved();
    return PointerGetDatum(nullptr);
}
