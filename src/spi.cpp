#include "spi.hpp"
#include "floors.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace baton::spi {

void connect()
{
    int rc = pg::call([] { return SPI_connect(); });
    if (rc != SPI_OK_CONNECT)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: SPI_connect failed: %s", SPI_result_code_string(rc));
}

void finish()
{
    int rc = pg::call([] { return SPI_finish(); });
    if (rc != SPI_OK_FINISH)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: SPI_finish failed: %s", SPI_result_code_string(rc));
}

int pin_search_path()
{
    int level = NewGUCNestLevel();
    (void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                             true, 0, false);
    return level;
}

void unpin_search_path(int level)
{
    AtEOXact_GUC(true, level);
}

static void prepare(Statement &stmt)
{
    SPIPlanPtr plan = pg::call([&] {
        // Generic plans: planned once; a custom plan per call would cost more
        // than most of these statements take to run.
        int pinned = pin_search_path();
        SPIPlanPtr p = SPI_prepare_cursor(stmt.sql, stmt.nargs, stmt.argtypes, CURSOR_OPT_GENERIC_PLAN);
        if (p != nullptr && SPI_keepplan(p) != 0)
            p = nullptr;
        unpin_search_path(pinned);
        return p;
    });
    if (plan == nullptr)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: could not prepare statement: %s",
                    SPI_result_code_string(SPI_result));
    stmt.plan = plan;
}

uint64 exec(Statement &stmt, const Args &args, In snapshot)
{
    if (args.count != stmt.nargs)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: statement takes %d arguments, got %d",
                    stmt.nargs, args.count);
    if (stmt.plan == nullptr)
        prepare(stmt);
    int rc = pg::call([&] {
        Datum *values = const_cast<Datum *>(args.values);
        int pinned = pin_search_path();
        bool was_own = floors::own_statement;
        int r = 0;
        floors::own_statement = true;  // its caller moves the epoch (floors.hpp)
        PG_TRY();
        {
            r = snapshot == In::latest_snapshot
                    ? SPI_execute_snapshot(stmt.plan, values, args.nulls, GetLatestSnapshot(), InvalidSnapshot,
                                           false, true, 0)
                    : SPI_execute_plan(stmt.plan, values, args.nulls, false, 0);
        }
        PG_FINALLY();
        {
            floors::own_statement = was_own;
        }
        PG_END_TRY();
        unpin_search_path(pinned);
        return r;
    });
    if (rc < 0)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: statement failed: %s", SPI_result_code_string(rc));
    return SPI_processed;
}

Datum value(uint64 row, int col, bool *isnull)
{
    if (SPI_tuptable == nullptr || row >= SPI_tuptable->numvals || col >= SPI_tuptable->tupdesc->natts)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: no row %llu, column %d in the last result",
                    static_cast<unsigned long long>(row), col + 1);
    return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, isnull);
}

text *text_value(uint64 row, int col)
{
    Datum d = value(row, col);
    return pg::call([d] { return DatumGetTextPP(d); });
}

Datum value(uint64 row, int col)
{
    bool isnull;
    Datum d = value(row, col, &isnull);
    if (isnull)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: unexpected NULL in result column %d", col + 1);
    return d;
}

Datum array(Oid elemtype, const std::vector<Datum> &values, const std::vector<bool> &nulls)
{
    int count = static_cast<int>(values.size());
    // std::vector<bool> is packed: copy to plain arrays before entering Postgres.
    Datum *elems = pg::call([count] { return static_cast<Datum *>(palloc(sizeof(Datum) * (count + 1))); });
    bool *isnull = pg::call([count] { return static_cast<bool *>(palloc(sizeof(bool) * (count + 1))); });
    for (int k = 0; k < count; k++) {
        elems[k] = values[k];
        isnull[k] = nulls[k];
    }
    return pg::call([=] {
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
        int dims[1] = {count};
        int lbs[1] = {1};
        return PointerGetDatum(construct_md_array(elems, isnull, 1, dims, lbs, elemtype, typlen,
                                                  typbyval, typalign));
    });
}

} // namespace baton::spi
