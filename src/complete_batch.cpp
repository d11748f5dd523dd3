#include "complete_batch.hpp"
#include "args.hpp"
#include "clock.hpp"
#include "complete.hpp"
#include "interrupts.hpp"
#include "result.hpp"

#include <algorithm>

extern "C" {
#include "catalog/pg_type.h"
}

namespace baton::complete_batch {

static std::vector<int64> int8_elements(FunctionCallInfo fcinfo, int i, const char *name)
{
    std::vector<Datum> elems;
    if (!args::array_elements(fcinfo, i, name, INT8OID, &elems))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: %s must not be NULL", name);
    std::vector<int64> out;
    out.reserve(elems.size());
    for (Datum d : elems)
        out.push_back(DatumGetInt64(d));
    return out;
}

Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg)
{
    std::vector<int64> ids = int8_elements(fcinfo, ids_arg, "ids");
    std::vector<int64> tokens = int8_elements(fcinfo, ids_arg + 1, "lease_tokens");
    if (ids.size() != tokens.size())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: ids and lease_tokens must have the same length, got %zu and %zu",
                    ids.size(), tokens.size());
    std::vector<std::pair<int64, int64>> pairs;
    for (size_t k = 0; k < ids.size(); k++)
        pairs.emplace_back(ids[k], tokens[k]);
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    Fenced out;
    for (auto [id, token] : pairs) {
        out.ids.push_back(id);
        out.tokens.push_back(token);
    }
    return out;
}

std::vector<int64> complete_all(rows::JobTable &table, const Fenced &pairs, TimestampTz now,
                                std::vector<Datum> *freed_keys)
{
    std::vector<int64> done;
    for (size_t k = 0; k < pairs.ids.size(); k++)
        if (complete::one(table, pairs.ids[k], pairs.tokens[k], now, false, 0, freed_keys))
            done.push_back(pairs.ids[k]);
    return done;
}

} // namespace baton::complete_batch

using namespace baton;

BATON_FUNCTION(baton_complete_batch)
{
    complete_batch::Fenced pairs = complete_batch::fenced_args(fcinfo, 0);
    ResultRows result(fcinfo, true);
    rows::JobTable table("baton.complete_batch()");
    std::vector<Datum> freed;
    for (int64 id : complete_batch::complete_all(table, pairs, read_clock(), &freed)) {
        Datum value = Int64GetDatum(id);
        bool isnull = false;
        result.add(&value, &isnull);
    }
    table.close();
    complete::wake(freed);
    return (Datum) 0;
}
