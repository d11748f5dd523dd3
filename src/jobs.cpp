#include "jobs.hpp"
#include "args.hpp"
#include "spi.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace baton::jobs {

TimestampTz clock()
{
    return GetCurrentTimestamp();
}

Sequence::Sequence(const char *name)
{
    relid_ = pg::call([&] {
        Oid nsp = get_namespace_oid("baton", false);
        return get_relname_relid(name, nsp);
    });
    if (!OidIsValid(relid_))
        throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: sequence baton.%s is missing", name);
}

int64 Sequence::next() const
{
    Oid relid = relid_;
    return pg::call([relid] { return nextval_internal(relid, false); });
}

static spi::Statement queue_max_attempts{
    "SELECT max_attempts FROM baton._queues WHERE queue = $1", 1, {TEXTOID}, nullptr};

[[noreturn]] void no_such_queue(Datum queue_text)
{
    throw Error(ERRCODE_UNDEFINED_OBJECT, "baton: queue \"%s\" does not exist", args::cstring(queue_text));
}

int32 require_queue(Datum queue_text)
{
    if (spi::exec(queue_max_attempts, spi::Args().add(queue_text)) == 0)
        no_such_queue(queue_text);
    return DatumGetInt32(spi::value(0, 0));
}

void notify_due(Datum queue_text)
{
    char *queue = args::cstring(queue_text);
    pg::call([queue] { Async_Notify("baton", queue); });
}

} // namespace baton::jobs
