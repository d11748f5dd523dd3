#include "args.hpp"
#include "interrupts.hpp"

extern "C" {
#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace baton::args {

constexpr int max_queue_chars = 63;

bool is_null(FunctionCallInfo fcinfo, int i)
{
    return PG_ARGISNULL(i);
}

static void require(FunctionCallInfo fcinfo, int i, const char *name)
{
    if (PG_ARGISNULL(i))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: %s must not be NULL", name);
}

static text *detoasted(FunctionCallInfo fcinfo, int i)
{
    return pg::call([&] { return PG_GETARG_TEXT_PP(i); });
}

Datum queue(FunctionCallInfo fcinfo, int i, const char *name)
{
    require(fcinfo, i, name);
    text *t = detoasted(fcinfo, i);
    const char *s = VARDATA_ANY(t);
    int len = VARSIZE_ANY_EXHDR(t);
    bool ok = len >= 1 && len <= max_queue_chars;
    for (int k = 0; ok && k < len; k++) {
        char c = s[k];
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == ':' || c == '-';
    }
    if (!ok)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: invalid %s name: a queue name is 1 to 63 characters of A-Z a-z 0-9 _ . : -",
                    name);
    return PointerGetDatum(t);
}

void check_key_length(const char *what, int len)
{
    if (len < 1 || len > max_key_bytes)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must be 1 to %d bytes long, got %d", what,
                    max_key_bytes, len);
}

static Datum checked_key(FunctionCallInfo fcinfo, int i, const char *name)
{
    text *t = detoasted(fcinfo, i);
    check_key_length(name, VARSIZE_ANY_EXHDR(t));
    return PointerGetDatum(t);
}

Datum key(FunctionCallInfo fcinfo, int i, const char *name)
{
    require(fcinfo, i, name);
    return checked_key(fcinfo, i, name);
}

bool optional_key(FunctionCallInfo fcinfo, int i, const char *name, Datum *out)
{
    if (PG_ARGISNULL(i))
        return false;
    *out = checked_key(fcinfo, i, name);
    return true;
}

int64 int8(FunctionCallInfo fcinfo, int i, const char *name)
{
    require(fcinfo, i, name);
    return PG_GETARG_INT64(i);
}

int32 int4_or(FunctionCallInfo fcinfo, int i, const char *name, int32 dflt, int32 lo, int32 hi)
{
    if (PG_ARGISNULL(i))
        return dflt;
    int32 v = PG_GETARG_INT32(i);
    if (v < lo || v > hi)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must be between %d and %d, got %d",
                    name, lo, hi, v);
    return v;
}

__int128 span_us(const Interval *iv, int month_days, int day_hours)
{
    return static_cast<__int128>(iv->time) + static_cast<__int128>(iv->day) * day_hours * USECS_PER_HOUR +
           static_cast<__int128>(iv->month) * month_days * USECS_PER_DAY;
}

__int128 shortest_span_us(const Interval *iv)
{
    return span_us(iv, iv->month > 0 ? 28 : 31, iv->day > 0 ? 23 : 25);
}

void check_interval(const Interval *iv, const char *name, Sign sign)
{
    __int128 span = shortest_span_us(iv);
    if (sign == Sign::positive && span <= 0)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: %s must be greater than zero on every date (a month may have 28 days, a day 23 hours)",
                    name);
    if (sign == Sign::non_negative && span < 0)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    "baton: %s must not be negative on any date (a month may have 31 days, a day 25 hours)", name);
}

bool optional_interval(FunctionCallInfo fcinfo, int i, const char *name, Sign sign, Datum *out)
{
    if (PG_ARGISNULL(i))
        return false;
    Interval *iv = PG_GETARG_INTERVAL_P(i);
    check_interval(iv, name, sign);
    *out = PointerGetDatum(iv);
    return true;
}

bool array_elements(FunctionCallInfo fcinfo, int i, const char *name, Oid elemtype, std::vector<Datum> *out,
                    std::vector<bool> *nulls)
{
    if (PG_ARGISNULL(i))
        return false;
    ArrayType *arr = pg::call([&] { return PG_GETARG_ARRAYTYPE_P(i); });
    if (ARR_NDIM(arr) > 1)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must be a one-dimensional array", name);
    int items = pg::call([arr] { return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)); });
    if (items > max_array_elements)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s must have at most %d elements, got %d", name,
                    max_array_elements, items);
    Datum *elems;
    bool *isnull;
    int count;
    pg::call([&] {
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
        deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &isnull, &count);
    });
    out->reserve(count);
    for (int k = 0; k < count; k++) {
        check_interrupts_every(k);
        if (isnull[k] && !nulls)
            throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: %s must not contain NULL elements", name);
        out->push_back(elems[k]);
        if (nulls)
            nulls->push_back(isnull[k]);
    }
    return true;
}

bool array_elements(FunctionCallInfo fcinfo, int i, const char *name, Oid elemtype, std::vector<Datum> *out)
{
    return array_elements(fcinfo, i, name, elemtype, out, nullptr);
}

bool on_conflict_replace(FunctionCallInfo fcinfo, int i)
{
    if (PG_ARGISNULL(i))
        return false;
    char *mode = cstring(PG_GETARG_DATUM(i));
    if (strcmp(mode, "replace") == 0)
        return true;
    if (strcmp(mode, "keep") != 0)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: on_conflict must be 'keep' or 'replace'");
    return false;
}

char *cstring(Datum t)
{
    return pg::call([&] { return text_to_cstring(DatumGetTextPP(t)); });
}

} // namespace baton::args

using namespace baton;

// The SQL-language functions (create_queue, purge) check their intervals
// with the same rule: baton._check_interval(name, value, positive).
BATON_FUNCTION(baton_check_interval)
{
    if (args::is_null(fcinfo, 1))
        PG_RETURN_VOID();
    char *name = args::is_null(fcinfo, 0) ? nullptr : args::cstring(PG_GETARG_DATUM(0));
    bool positive = !args::is_null(fcinfo, 2) && PG_GETARG_BOOL(2);
    args::check_interval(PG_GETARG_INTERVAL_P(1), name ? name : "interval",
                         positive ? args::Sign::positive : args::Sign::non_negative);
    PG_RETURN_VOID();
}

// set_limit (SQL) checks its key with the same rule: baton._check_key(key).
BATON_FUNCTION(baton_check_key)
{
    (void) args::key(fcinfo, 0, "key");
    PG_RETURN_VOID();
}
