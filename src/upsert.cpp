// sorted_upsert: INSERT ... ON CONFLICT into the caller's own table that never
// deadlocks with another call on the same table and conflict columns: rows
// are written in the conflict key's type order, results come back in input
// order. Runs with the caller's rights; identifiers are checked against the
// catalog and quoted.
#include "args.hpp"
#include "json.hpp"
#include "spi.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

using namespace baton;

namespace {

constexpr int max_rows = 10000;

// The elements of a text[] argument as strings; false when it is NULL.
bool text_elements(FunctionCallInfo fcinfo, int i, const char *name, std::vector<std::string> *out)
{
    std::vector<Datum> elems;
    if (!args::array_elements(fcinfo, i, name, TEXTOID, &elems))
        return false;
    for (Datum d : elems)
        out->push_back(args::cstring(d));
    return true;
}

struct Target {
    Oid relid;
    std::string name;  // schema-qualified and quoted
};

Target target_table(FunctionCallInfo fcinfo)
{
    if (PG_ARGISNULL(0))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: target must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    // Locked first, so that a concurrent DROP cannot pull the names away
    // between the catalog look-ups below.
    char kind = pg::call([&] {
        LockRelationOid(relid, AccessShareLock);
        return get_rel_relkind(relid);
    });
    if (kind == '\0')
        throw Error(ERRCODE_UNDEFINED_TABLE, "baton: target relation with OID %u does not exist", relid);
    // A partitioned table cannot report xmax through RETURNING, which is how
    // inserted rows are told from updated ones.
    if (kind == RELKIND_PARTITIONED_TABLE)
        throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "baton: sorted_upsert does not support partitioned tables; upsert into the partition");
    if (kind != RELKIND_RELATION)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: target must be a table");
    const char *name = pg::call([&] {
        char *nsp = get_namespace_name(get_rel_namespace(relid));
        char *rel = get_rel_name(relid);
        return (nsp && rel) ? quote_qualified_identifier(nsp, rel) : nullptr;
    });
    if (name == nullptr)
        throw Error(ERRCODE_UNDEFINED_TABLE, "baton: target relation with OID %u does not exist", relid);
    return {relid, name};
}

// A user column of the target, or an error naming the argument.
void check_column(Oid relid, const std::string &col, const char *what)
{
    const char *c = col.c_str();
    AttrNumber attnum = pg::call([&] { return get_attnum(relid, c); });
    if (attnum <= 0)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s \"%s\" is not a column of the target table",
                    what, c);
}

std::string quoted(const std::string &ident)
{
    const char *s = ident.c_str();
    return pg::call([&] { return quote_identifier(s); });
}

// An alias for a column of baton's own that no field of the rows uses.
std::string fresh_alias(const char *base, const std::set<std::string> &taken)
{
    std::string name = base;
    for (int k = 1; taken.count(name); k++)
        name = std::string(base) + "_" + std::to_string(k);
    return name;
}

std::string joined(const std::vector<std::string> &cols, const char *prefix = "")
{
    std::string out;
    for (const std::string &c : cols)
        out += (out.empty() ? "" : ", ") + std::string(prefix) + quoted(c);
    return out;
}

} // namespace

BATON_FUNCTION(baton_sorted_upsert)
{
    Target target = target_table(fcinfo);
    std::vector<std::string> keys, updates;
    if (!text_elements(fcinfo, 1, "conflict_columns", &keys))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: conflict_columns must not be NULL");
    if (keys.empty())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: conflict_columns must name at least one column");
    if (PG_ARGISNULL(2))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: rows must not be NULL");
    bool update_all = !text_elements(fcinfo, 3, "update_columns", &updates);

    // Every row has the same fields, each a column of the target.
    std::vector<json::Object> rows = json::objects(PG_GETARG_DATUM(2), "rows", max_rows);
    std::vector<std::string> fields;
    for (const json::Field &f : rows[0])
        fields.push_back(f.key);
    if (fields.size() > MaxHeapAttributeNumber)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: rows elements have more fields than a table has columns");
    std::set<std::string> field_set(fields.begin(), fields.end());
    for (size_t r = 0; r < rows.size(); r++) {
        if (r % 1024 == 0)
            pg::call([] { CHECK_FOR_INTERRUPTS(); });
        if (rows[r].size() != fields.size())
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "baton: rows element %zu must have the same fields as element 1", r + 1);
        std::set<std::string> these;
        for (const json::Field &f : rows[r])
            these.insert(f.key);
        if (these != field_set)
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "baton: rows element %zu must have the same fields as element 1", r + 1);
    }
    for (const std::string &f : fields)
        check_column(target.relid, f, "rows field");
    std::set<std::string> key_set;
    for (const std::string &k : keys) {
        check_column(target.relid, k, "conflict column");
        if (!key_set.insert(k).second)
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: conflict column \"%s\" is named twice", k.c_str());
        if (!field_set.count(k))
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: every row needs the conflict column \"%s\"", k.c_str());
    }
    for (size_t r = 0; r < rows.size(); r++)
        for (const json::Field &f : rows[r])
            if (key_set.count(f.key) && f.value.type == jbvNull)
                throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                            "baton: rows element %zu: conflict column \"%s\" must not be null", r + 1, f.key.c_str());
    if (update_all) {
        for (const std::string &f : fields)
            if (!key_set.count(f))
                updates.push_back(f);
    } else {
        std::set<std::string> seen;
        for (const std::string &u : updates) {
            check_column(target.relid, u, "update column");
            if (!field_set.count(u))
                throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is not a field of rows", u.c_str());
            if (key_set.count(u))
                throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is a conflict column", u.c_str());
            if (!seen.insert(u).second)
                throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is named twice", u.c_str());
        }
    }

    // src: the rows typed as the target's columns; firsts: the first
    // occurrence of each key, in key order; the INSERT writes them in that
    // order. Later occurrences of a key report inserted = false.
    std::string key_list = joined(keys), field_list = joined(fields);
    std::string key_match;
    for (const std::string &k : keys)
        key_match += std::string(key_match.empty() ? "" : " AND ") + "i." + quoted(k) + " = s." + quoted(k);
    std::string action = "DO NOTHING";
    if (!updates.empty()) {
        action = "DO UPDATE SET ";
        for (size_t k = 0; k < updates.size(); k++)
            action += (k ? ", " : "") + quoted(updates[k]) + " = EXCLUDED." + quoted(updates[k]);
    }
    std::string ord = quoted(fresh_alias("baton_ord", field_set));
    std::string ins_flag = quoted(fresh_alias("baton_inserted", field_set));
    std::string sql =
        "WITH src AS ("
        "  SELECT t.ord AS " + ord + ", " + joined(fields, "r.") +
        "    FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS t(elem, ord),"
        "         LATERAL pg_catalog.jsonb_populate_record(NULL::" + target.name + ", t.elem) AS r),"
        " firsts AS (SELECT DISTINCT ON (" + key_list + ") " + ord + ", " + field_list +
        "   FROM src ORDER BY " + key_list + ", " + ord + "),"
        " ins AS (INSERT INTO " + target.name + " (" + field_list + ")"
        "   SELECT " + field_list + " FROM firsts ORDER BY " + key_list +
        "   ON CONFLICT (" + key_list + ") " + action +
        "   RETURNING " + key_list + ", (xmax = 0) AS " + ins_flag + ")"
        " SELECT s." + ord + "::int4, coalesce(i." + ins_flag + ", false)"
        "   FROM src s LEFT JOIN firsts f ON f." + ord + " = s." + ord +
        "   LEFT JOIN ins i ON f." + ord + " IS NOT NULL AND " + key_match +
        "  ORDER BY s." + ord;

    pg::call([&] { InitMaterializedSRF(fcinfo, 0); });
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    spi::connect();
    Oid argtype = JSONBOID;
    Datum rows_arg = PG_GETARG_DATUM(2);
    const char *query = sql.c_str();
    int rc = pg::call([&] { return SPI_execute_with_args(query, 1, &argtype, &rows_arg, nullptr, false, 0); });
    if (rc != SPI_OK_SELECT)
        throw Error(ERRCODE_INTERNAL_ERROR, "baton: sorted_upsert failed: %s", SPI_result_code_string(rc));
    for (uint64 r = 0; r < SPI_processed; r++) {
        Datum values[2] = {spi::value(r, 0), spi::value(r, 1)};
        bool nulls[2] = {false, false};
        pg::call([&] { tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls); });
    }
    spi::finish();
    return (Datum) 0;
}
