#include "clock.hpp"

extern "C" {
#include "catalog/namespace.h"
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

} // namespace baton
