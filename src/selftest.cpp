// baton._boundary_selftest: proves the C++/Postgres boundary on demand.
//   'cxx'         a C++ exception thrown under a frame owning a destructor
//   'pg'          a Postgres ERROR (division by zero) raised under such a frame
//   'destructors' how many of those frames' destructors have run so far
#include "args.hpp"

#include <cstring>
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

} // namespace

BATON_FUNCTION(baton_boundary_selftest)
{
    char *what = args::cstring(args::key(fcinfo, 0, "what"));
    if (strcmp(what, "destructors") == 0)
        PG_RETURN_INT64(destructors_run);
    Witness witness;
    if (strcmp(what, "cxx") == 0)
        throw std::runtime_error("selftest exception");
    if (strcmp(what, "pg") == 0) {
        Datum r = pg::call([] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
        PG_RETURN_INT64(DatumGetInt32(r));
    }
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: what must be 'cxx', 'pg' or 'destructors'");
}
