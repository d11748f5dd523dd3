// Returning rows from a set-returning function: the caller's result is a
// tuplestore materialized by the function (InitMaterializedSRF).
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "funcapi.h"
}

namespace baton {

class ResultRows {
public:
    // Starts the result of the function called with fcinfo: rows of its
    // composite result type, or (scalar) of the one column of a SETOF a
    // scalar type, as the caller expects it.
    explicit ResultRows(FunctionCallInfo fcinfo, bool scalar = false);

    // Adds one row: values and nulls of the result type's columns.
    void add(const Datum *values, const bool *nulls);

private:
    ReturnSetInfo *rsinfo_;
};

} // namespace baton
