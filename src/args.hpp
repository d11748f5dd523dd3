// Argument rules of the contract (docs/contract.md, "General rules"):
// 22004 for a forbidden NULL, 22023 for any other bad value; the message
// names the argument and the rule.
#pragma once

#include "pg_boundary.hpp"

#include <vector>

extern "C" {
#include "utils/timestamp.h"
}

namespace baton::args {

bool is_null(FunctionCallInfo fcinfo, int i);

// A required text argument, checked as a queue name; returns the Datum.
Datum queue(FunctionCallInfo fcinfo, int i, const char *name = "queue");

// Keys (unique, concurrency, semaphore, lock keys) and worker/owner names
// are 1 to max_key_bytes bytes long; `what` names the value in the error.
constexpr int max_key_bytes = 512;
void check_key_length(const char *what, int len);

// A key or worker/owner name argument, checked. Required.
Datum key(FunctionCallInfo fcinfo, int i, const char *name);

// Like key(), but NULL is allowed: returns false when NULL.
bool optional_key(FunctionCallInfo fcinfo, int i, const char *name, Datum *out);

// Required non-NULL scalars.
int64 int8(FunctionCallInfo fcinfo, int i, const char *name);

// An int argument with a default (NULL means the default), in [lo, hi].
int32 int4_or(FunctionCallInfo fcinfo, int i, const char *name, int32 dflt, int32 lo, int32 hi);

enum class Sign { positive, non_negative };

// An interval's sign must not depend on the date it is added to: the
// shortest span it can stand for counts a positive month as 28 days and a
// negative one as 31, a positive day as 23 hours and a negative one as 25
// (a daylight-saving change). '-1 year 361 days' is negative, '1 month
// -30 days' may be either (refused), '1 day -1 hour' is positive.
__int128 shortest_span_us(const Interval *iv);
// The span of an interval in microseconds, counting each month and day as
// given (shortest_span_us; lock timeouts count 30 and 24), in 128 bits so
// that no interval overflows.
__int128 span_us(const Interval *iv, int month_days, int day_hours);
void check_interval(const Interval *iv, const char *name, Sign sign);

// An interval argument whose NULL means "the default": returns false then.
bool optional_interval(FunctionCallInfo fcinfo, int i, const char *name, Sign sign, Datum *out);

// Every array argument holds at most this many elements (22023 beyond),
// checked before anything is read or allocated per element.
constexpr int max_array_elements = 10000;

// The elements of a one-dimensional array argument of `elemtype` (int8 or
// text); false when the argument is NULL. NULL elements are 22004.
bool array_elements(FunctionCallInfo fcinfo, int i, const char *name, Oid elemtype, std::vector<Datum> *out);

// The same, NULL elements allowed: (*nulls)[k] marks them.
bool array_elements(FunctionCallInfo fcinfo, int i, const char *name, Oid elemtype, std::vector<Datum> *out,
                    std::vector<bool> *nulls);

// on_conflict: 'keep' (also NULL, the default) or 'replace'; true for replace.
bool on_conflict_replace(FunctionCallInfo fcinfo, int i);

// A text argument as a NUL-terminated C string (palloc'd).
char *cstring(Datum text);

} // namespace baton::args
