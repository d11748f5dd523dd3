// baton._boundary_selftest: proves the C++/Postgres boundary on demand.
//   'cxx'         a C++ exception thrown under a frame owning a destructor
//   'pg'          a Postgres ERROR (division by zero) raised under such a frame
//   'cxx_in_call' a C++ exception thrown inside a pg::call lambda (against
//                 its rule) after it pushed an error context callback
//   'bad_alloc_in_call'   std::bad_alloc thrown inside a pg::call lambda
//   'cxx_in_call_then_pg' 'cxx_in_call' caught, the error stacks checked,
//                 then a Postgres ERROR: it must land in a live frame
//   'nested'      pg::call inside pg::call: returns 84 / 2 / 2 = 21
//   'nested_pg'   a Postgres ERROR in the inner of two nested pg::calls
//   'destructors' how many of those frames' destructors have run so far
#include "args.hpp"

#include <cstring>
#include <new>
#include <stdexcept>

extern "C" {
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
}

using namespace baton;

namespace {

int64 destructors_run = 0;

struct Witness {
    ~Witness() { destructors_run++; }
};

void selftest_context(void *)
{
    errcontext("baton selftest context");
}

// Pushes an error context callback that lives in this frame, then throws
// without popping it: only pg::call's guard can put error_context_stack back.
[[noreturn]] void throw_with_context_pushed()
{
    ErrorContextCallback cb;
    cb.callback = selftest_context;
    cb.arg = nullptr;
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    throw std::runtime_error("selftest exception inside pg::call");
}

Datum divide(int32 a, int32 b)
{
    return DirectFunctionCall2(int4div, Int32GetDatum(a), Int32GetDatum(b));
}

} // namespace

BATON_FUNCTION(baton_boundary_selftest)
{
    char *what = args::cstring(args::key(fcinfo, 0, "what"));
    if (strcmp(what, "destructors") == 0)
        PG_RETURN_INT64(destructors_run);
    Witness witness;
    sigjmp_buf *exception_stack = PG_exception_stack;
    ErrorContextCallback *context_stack = error_context_stack;
    if (strcmp(what, "cxx") == 0)
        throw std::runtime_error("selftest exception");
    if (strcmp(what, "pg") == 0) {
        Datum r = pg::call([] { return divide(1, 0); });
        PG_RETURN_INT64(DatumGetInt32(r));
    }
    if (strcmp(what, "cxx_in_call") == 0)
        pg::call([] { throw_with_context_pushed(); });
    if (strcmp(what, "bad_alloc_in_call") == 0)
        pg::call([] { throw std::bad_alloc(); });
    if (strcmp(what, "cxx_in_call_then_pg") == 0) {
        try {
            pg::call([] { throw_with_context_pushed(); });
        } catch (const std::runtime_error &) {
        }
        if (PG_exception_stack != exception_stack || error_context_stack != context_stack)
            throw Error(ERRCODE_INTERNAL_ERROR, "baton: pg::call left Postgres's error stacks pointing into its frame");
        Datum r = pg::call([] { return divide(1, 0); });
        PG_RETURN_INT64(DatumGetInt32(r));
    }
    if (strcmp(what, "nested") == 0 || strcmp(what, "nested_pg") == 0) {
        int32 divisor = strcmp(what, "nested") == 0 ? 2 : 0;
        Datum r = pg::call([divisor] {
            Datum inner = pg::call([divisor] { return divide(84, divisor); });
            return divide(DatumGetInt32(inner), 2);
        });
        if (PG_exception_stack != exception_stack || error_context_stack != context_stack)
            throw Error(ERRCODE_INTERNAL_ERROR, "baton: nested pg::call left Postgres's error stacks changed");
        PG_RETURN_INT64(DatumGetInt32(r));
    }
    // The message the regression test has always expected; the full list
    // is at the top of this file.
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: what must be 'cxx', 'pg' or 'destructors'");
}
