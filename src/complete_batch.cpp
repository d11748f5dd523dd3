#include "complete_batch.hpp"
#include "args.hpp"
#include "clock.hpp"
#include "complete.hpp"
#include "interrupts.hpp"
#include "result.hpp"

#include <algorithm>
#include <utility>

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

// The results argument, as long as ids (empty when absent or NULL).
static std::vector<Datum> result_elements(FunctionCallInfo fcinfo, int i, size_t n, std::vector<bool> *nulls)
{
    std::vector<Datum> out;
    if (i < 0 || !args::array_elements(fcinfo, i, "results", JSONBOID, &out, nulls))
        return out;
    if (out.size() != n)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: results must have the same length as ids, got %zu and %zu", out.size(), n);
    return out;
}

Fenced fenced_args(FunctionCallInfo fcinfo, int ids_arg, int results_arg)
{
    std::vector<int64> ids = int8_elements(fcinfo, ids_arg, "ids");
    std::vector<int64> tokens = int8_elements(fcinfo, ids_arg + 1, "lease_tokens");
    if (ids.size() != tokens.size())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: ids and lease_tokens must have the same length, got %zu and %zu",
                    ids.size(), tokens.size());
    std::vector<bool> no_result;
    std::vector<Datum> results = result_elements(fcinfo, results_arg, ids.size(), &no_result);
    std::vector<size_t> order(ids.size());
    for (size_t k = 0; k < order.size(); k++)
        order[k] = k;
    auto key = [&](size_t k) { return std::make_pair(ids[k], tokens[k]); };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    Fenced out;
    for (size_t n = 0; n < order.size(); n++) {
        size_t k = order[n];
        if (n > 0 && key(order[n - 1]) == key(k))
            continue;  // the first occurrence counts
        out.ids.push_back(ids[k]);
        out.tokens.push_back(tokens[k]);
        bool has = !results.empty() && !no_result[k];
        out.results.push_back(has ? results[k] : 0);
        out.has_result.push_back(has);
    }
    return out;
}

std::vector<int64> complete_all(rows::JobTable &table, const Fenced &pairs, TimestampTz now,
                                std::vector<Datum> *freed_keys)
{
    std::vector<int64> done;
    for (size_t k = 0; k < pairs.ids.size(); k++)
        if (complete::one(table, pairs.ids[k], pairs.tokens[k], now, pairs.has_result[k], pairs.results[k],
                          freed_keys))
            done.push_back(pairs.ids[k]);
    return done;
}

std::vector<int64> refused(const Fenced &pairs, const std::vector<int64> &done)
{
    std::vector<int64> out;
    size_t d = 0;
    for (int64 id : pairs.ids) {  // both ascending
        if (d < done.size() && done[d] == id)
            d++;
        else
            out.push_back(id);
    }
    return out;
}

} // namespace baton::complete_batch

using namespace baton;

BATON_FUNCTION(baton_complete_batch)
{
    // complete_batch(ids, lease_tokens[, results])
    complete_batch::Fenced pairs = complete_batch::fenced_args(fcinfo, 0, PG_NARGS() > 2 ? 2 : -1);
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
