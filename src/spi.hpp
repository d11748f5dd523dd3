// Prepared SPI statements: parsed and planned once per backend, kept for its
// life (Postgres revalidates them after DDL). Every call goes through
// pg::call, so callers may hold C++ objects.
//
// The search_path: baton's C functions have no SET clause (a GUC set and
// reset per call costs more than a whole enqueue's insert). Instead every
// statement here is parsed, planned and run under the pinned path
// (pin_search_path), and so is a call that fires triggers on baton's
// tables (rows::JobTable): no SQL baton runs, and no user code it fires,
// resolves a name through the caller's search_path.
#pragma once

#include "pg_boundary.hpp"

#include <vector>

extern "C" {
#include "executor/spi.h"
}

namespace baton::spi {

constexpr int max_args = 10;

struct Statement {
    const char *sql;
    int nargs;
    Oid argtypes[max_args];
    SPIPlanPtr plan;  // nullptr until first use
};

// Parameter values for one execution.
struct Args {
    Datum values[max_args];
    char nulls[max_args];
    int count = 0;

    Args &add(Datum d)
    {
        values[count] = d;
        nulls[count++] = ' ';
        return *this;
    }
    Args &add_null()
    {
        values[count] = 0;
        nulls[count++] = 'n';
        return *this;
    }
    Args &add_maybe(bool isnull, Datum d) { return isnull ? add_null() : add(d); }
};

void connect();
void finish();

// search_path = pg_catalog, pg_temp until unpin_search_path(level), in a GUC
// nest level of its own (an error's abort ends it). Call both inside
// pg::call.
int pin_search_path();
void unpin_search_path(int level);

// Which snapshot a statement runs in: the transaction's usual one, or the
// newest (even under REPEATABLE READ), as PostgreSQL's RI triggers do.
enum class In { usual_snapshot, latest_snapshot };

// Runs the statement; returns the number of rows processed or returned.
uint64 exec(Statement &stmt, const Args &args, In snapshot = In::usual_snapshot);

// Column `col` (0-based) of row `row` of the last result.
Datum value(uint64 row, int col, bool *isnull);
Datum value(uint64 row, int col);  // the column must not be NULL
text *text_value(uint64 row, int col);  // a non-NULL text column, detoasted

// A palloc'd one-dimensional array of `elemtype`; nulls[k] marks NULLs.
Datum array(Oid elemtype, const std::vector<Datum> &values, const std::vector<bool> &nulls);

} // namespace baton::spi
