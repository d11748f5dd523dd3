// sorted_upsert: INSERT ... ON CONFLICT into the caller's own table that never
// deadlocks with another call on the same table and conflict columns: rows
// are written in the order of the unique index that arbitrates the conflict
// (its key columns, operators and collations), results come back in input
// order. Runs with the caller's rights, checked before the table is locked;
// identifiers are checked against the catalog and quoted, operators and
// collations are schema-qualified (the search_path is pinned to pg_catalog).
#include "args.hpp"
#include "compat.hpp"
#include "interrupts.hpp"
#include "json.hpp"
#include "result.hpp"
#include "spi.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

using namespace baton;

namespace {

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

// The array arguments, read before the table is touched.
struct Call {
    std::vector<std::string> keys;     // conflict_columns as given
    std::vector<std::string> updates;  // update_columns, or (update_all) filled in later
    bool update_all;                   // update_columns IS NULL
};

Call read_arguments(FunctionCallInfo fcinfo)
{
    if (PG_ARGISNULL(0))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: target must not be NULL");
    Call call;
    if (!text_elements(fcinfo, 1, "conflict_columns", &call.keys))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: conflict_columns must not be NULL");
    if (call.keys.empty())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: conflict_columns must name at least one column");
    if (PG_ARGISNULL(2))
        throw Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "baton: rows must not be NULL");
    call.update_all = !text_elements(fcinfo, 3, "update_columns", &call.updates);
    return call;
}

// ---------------------------------------------------------------------------
// Privileges, checked before any lock: a role that may not write the table
// must not hold a lock on it, not even while its call fails.
// ---------------------------------------------------------------------------

// The privilege a call lacks. The statement itself checks the exact column
// privileges again; this check refuses the calls that cannot succeed.
enum class Missing { nothing, relation, usage, insert, update, select };

// Postgres calls only (run under pg::call). `mode` on the table, or on at
// least one of its columns.
bool may_table_or_column(Oid relid, Oid role, AclMode mode, bool *is_missing)
{
    if (pg_class_aclcheck_ext(relid, role, mode, is_missing) == ACLCHECK_OK)
        return true;
    return !*is_missing && pg_attribute_aclcheck_all(relid, role, mode, ACLMASK_ANY) == ACLCHECK_OK;
}

// Postgres calls only. SELECT on the table, or on xmax (read by RETURNING to
// tell inserted rows from updated ones; the columns the statement reads are
// checked by may_select_column).
bool may_select_xmax(Oid relid, Oid role, bool *is_missing)
{
    if (pg_class_aclcheck_ext(relid, role, ACL_SELECT, is_missing) == ACLCHECK_OK)
        return true;
    return !*is_missing &&
           pg_attribute_aclcheck_ext(relid, MaxTransactionIdAttributeNumber, role, ACL_SELECT, is_missing) ==
               ACLCHECK_OK;
}

// Postgres calls only: the first privilege the current user lacks.
Missing missing_privilege(Oid relid, bool needs_update)
{
    Oid role = GetUserId();
    Oid nsp = get_rel_namespace(relid);
    bool is_missing = false;
    if (!OidIsValid(nsp))
        return Missing::relation;
    if (compat::namespace_aclcheck(nsp, role, ACL_USAGE) != ACLCHECK_OK)
        return Missing::usage;
    if (!may_table_or_column(relid, role, ACL_INSERT, &is_missing))
        return is_missing ? Missing::relation : Missing::insert;
    if (needs_update && !may_table_or_column(relid, role, ACL_UPDATE, &is_missing))
        return is_missing ? Missing::relation : Missing::update;
    if (!may_select_xmax(relid, role, &is_missing))
        return is_missing ? Missing::relation : Missing::select;
    return Missing::nothing;
}

// Postgres calls only: SELECT on the table or on the column (a name that is
// no column passes here: the argument check reports it later).
bool may_select_column(Oid relid, const char *col)
{
    Oid role = GetUserId();
    bool is_missing = false;
    if (pg_class_aclcheck_ext(relid, role, ACL_SELECT, &is_missing) == ACLCHECK_OK || is_missing)
        return true;
    AttrNumber attnum = get_attnum(relid, col);
    return attnum <= 0 || pg_attribute_aclcheck_ext(relid, attnum, role, ACL_SELECT, &is_missing) == ACLCHECK_OK;
}

const char *needed(Missing missing)
{
    switch (missing) {
    case Missing::usage:
        return "USAGE on its schema";
    case Missing::insert:
        return "INSERT";
    case Missing::update:
        return "UPDATE (update_columns is not empty)";
    default:
        return "SELECT on it, or on its conflict columns, update columns and xmax";
    }
}

[[noreturn]] void no_such_relation(Oid relid)
{
    throw Error(ERRCODE_UNDEFINED_TABLE, "baton: target relation with OID %u does not exist", relid);
}

// The schema-qualified, quoted name of a relation, or nullptr if it is gone.
const char *qualified_name(Oid relid)
{
    return pg::call([&] {
        char *nsp = get_namespace_name(get_rel_namespace(relid));
        char *rel = get_rel_name(relid);
        return (nsp && rel) ? quote_qualified_identifier(nsp, rel) : nullptr;
    });
}

// The columns the statement reads (SELECT privilege): the conflict columns
// (RETURNING) and the update columns (EXCLUDED.col), as far as the arguments
// name them before the rows are read.
std::vector<std::string> read_columns(const Call &call)
{
    std::vector<std::string> cols = call.keys;
    if (!call.update_all)
        cols.insert(cols.end(), call.updates.begin(), call.updates.end());
    return cols;
}

// 42501 (PostgreSQL's "permission denied for table"), or 42P01, before any
// lock on the table is taken and before the rows are parsed.
void require_privileges(Oid relid, const Call &call)
{
    bool needs_update = !call.update_all && !call.updates.empty();
    Missing missing = pg::call([&] { return missing_privilege(relid, needs_update); });
    for (const std::string &c : read_columns(call)) {
        const char *col = c.c_str();
        if (missing == Missing::nothing && !pg::call([&] { return may_select_column(relid, col); }))
            missing = Missing::select;
    }
    if (missing == Missing::nothing)
        return;
    if (missing == Missing::relation)
        no_such_relation(relid);
    const char *name = qualified_name(relid);
    if (name == nullptr)
        no_such_relation(relid);
    throw Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "baton: permission denied for table %s: sorted_upsert needs %s",
                name, needed(missing));
}

struct Target {
    Oid relid;
    std::string name;  // schema-qualified and quoted
};

Target target_table(FunctionCallInfo fcinfo, const Call &call)
{
    Oid relid = PG_GETARG_OID(0);
    require_privileges(relid, call);
    // Locked (in the mode the INSERT takes) before the names are read, so
    // that a concurrent DROP cannot pull them away between the look-ups.
    char kind = pg::call([&] {
        LockRelationOid(relid, RowExclusiveLock);
        return get_rel_relkind(relid);
    });
    if (kind == '\0')
        no_such_relation(relid);
    // A partitioned table cannot report xmax through RETURNING, which is how
    // inserted rows are told from updated ones.
    if (kind == RELKIND_PARTITIONED_TABLE)
        throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    "baton: sorted_upsert does not support partitioned tables; upsert into the partition");
    if (kind != RELKIND_RELATION)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: target must be a table");
    const char *name = qualified_name(relid);
    if (name == nullptr)
        no_such_relation(relid);
    return {relid, name};
}

// ---------------------------------------------------------------------------
// The rows and the column arguments.
// ---------------------------------------------------------------------------

// A user column of the target, or an error naming the argument.
AttrNumber check_column(Oid relid, const std::string &col, const char *what)
{
    const char *c = col.c_str();
    AttrNumber attnum = pg::call([&] { return get_attnum(relid, c); });
    if (attnum <= 0)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: %s \"%s\" is not a column of the target table",
                    what, c);
    return attnum;
}

// The fields of the rows: every row has the same ones, each a column.
std::vector<std::string> row_fields(const std::vector<json::Object> &rows, Oid relid)
{
    std::vector<std::string> fields;
    for (const json::Field &f : rows[0])
        fields.push_back(f.key);
    if (fields.size() > MaxHeapAttributeNumber)
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: rows elements have more fields than a table has columns");
    std::set<std::string> field_set(fields.begin(), fields.end());
    for (size_t r = 0; r < rows.size(); r++) {
        check_interrupts_every(r);
        bool same = rows[r].size() == fields.size();
        if (same) {
            std::set<std::string> these;
            for (const json::Field &f : rows[r])
                these.insert(f.key);
            same = these == field_set;
        }
        if (!same)
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "baton: rows element %zu must have the same fields as element 1", r + 1);
    }
    for (const std::string &f : fields)
        check_column(relid, f, "rows field");
    return fields;
}

// The conflict columns' attribute numbers; every row carries them, not null.
std::vector<AttrNumber> check_keys(const Call &call, const std::vector<json::Object> &rows,
                                   const std::set<std::string> &field_set, Oid relid)
{
    std::vector<AttrNumber> attnums;
    std::set<std::string> key_set;
    for (const std::string &k : call.keys) {
        attnums.push_back(check_column(relid, k, "conflict column"));
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
    return attnums;
}

// The columns DO UPDATE sets: update_columns checked, or (NULL) every field
// that is not a conflict column.
std::vector<std::string> update_columns(const Call &call, const std::vector<std::string> &fields,
                                        const std::set<std::string> &field_set, Oid relid)
{
    std::set<std::string> key_set(call.keys.begin(), call.keys.end());
    std::vector<std::string> updates;
    if (call.update_all) {
        for (const std::string &f : fields)
            if (!key_set.count(f))
                updates.push_back(f);
        return updates;
    }
    std::set<std::string> seen;
    for (const std::string &u : call.updates) {
        check_column(relid, u, "update column");
        if (!field_set.count(u))
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is not a field of rows", u.c_str());
        if (key_set.count(u))
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is a conflict column", u.c_str());
        if (!seen.insert(u).second)
            throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "baton: update column \"%s\" is named twice", u.c_str());
    }
    return call.updates;
}

// ---------------------------------------------------------------------------
// The arbiter: the unique index ON CONFLICT (conflict_columns) infers. Rows
// are deduplicated and written in its order, with its operators and
// collations, so that every call on the same table and columns, in whatever
// order it names them, locks the rows in one order and never writes a row
// twice.
// ---------------------------------------------------------------------------

// A btree unique index on plain columns, as read from pg_index.
struct IndexKey {
    bool primary;
    int nkeys;  // key columns, a column named twice counted once
    AttrNumber attnums[INDEX_MAX_KEYS];
    Oid collations[INDEX_MAX_KEYS];
    Oid opfamilies[INDEX_MAX_KEYS];
    Oid opcintypes[INDEX_MAX_KEYS];
};

// Postgres calls only: the opclass's family and input type; false unless it
// is a btree opclass.
bool btree_opclass(Oid opclass, Oid *opfamily, Oid *opcintype)
{
    HeapTuple tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
    if (!HeapTupleIsValid(tup))
        return false;
    auto *form = reinterpret_cast<Form_pg_opclass>(GETSTRUCT(tup));
    bool btree = form->opcmethod == BTREE_AM_OID;
    *opfamily = form->opcfamily;
    *opcintype = form->opcintype;
    ReleaseSysCache(tup);
    return btree;
}

// Postgres calls only: fills *out from the key columns of an index tuple.
bool read_index_keys(HeapTuple tup, Form_pg_index index, IndexKey *out)
{
    bool isnull;
    auto *colls = reinterpret_cast<oidvector *>(
        DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indcollation, &isnull)));
    auto *classes = reinterpret_cast<oidvector *>(
        DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup, Anum_pg_index_indclass, &isnull)));
    out->primary = index->indisprimary;
    out->nkeys = 0;
    for (int k = 0; k < index->indnkeyatts; k++) {
        AttrNumber att = index->indkey.values[k];
        bool seen = false;
        for (int j = 0; j < out->nkeys; j++)
            seen = seen || out->attnums[j] == att;
        if (seen)
            continue;
        int n = out->nkeys++;
        out->attnums[n] = att;
        out->collations[n] = colls->values[k];
        if (!btree_opclass(classes->values[k], &out->opfamilies[n], &out->opcintypes[n]))
            return false;
    }
    return true;
}

// Postgres calls only: false when the index cannot arbitrate ON CONFLICT on a
// list of columns (not unique, not valid, partial, on expressions, not btree).
bool read_index(Oid indexoid, IndexKey *out)
{
    HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
    if (!HeapTupleIsValid(tup))
        return false;
    auto *index = reinterpret_cast<Form_pg_index>(GETSTRUCT(tup));
    bool ok = index->indisunique && index->indisvalid && heap_attisnull(tup, Anum_pg_index_indexprs, nullptr) &&
              heap_attisnull(tup, Anum_pg_index_indpred, nullptr) && read_index_keys(tup, index, out);
    ReleaseSysCache(tup);
    return ok;
}

// Postgres calls only: the table's indexes, in OID order.
List *index_list(Oid relid)
{
    Relation rel = relation_open(relid, NoLock);
    List *indexes = RelationGetIndexList(rel);
    relation_close(rel, NoLock);
    return indexes;
}

// The arbiter for the conflict columns: a unique index whose key columns
// are exactly those (the primary key first, then the oldest). Without one
// the INSERT would fail with 42P10: so does the call, before any SQL.
IndexKey arbiter(Oid relid, std::vector<AttrNumber> keys)
{
    std::sort(keys.begin(), keys.end());
    List *indexes = pg::call([&] { return index_list(relid); });
    IndexKey found{}, candidate{};
    bool have = false;
    for (int i = 0; i < list_length(indexes); i++) {
        Oid indexoid = list_nth_oid(indexes, i);
        if (!pg::call([&] { return read_index(indexoid, &candidate); }))
            continue;
        std::vector<AttrNumber> cols(candidate.attnums, candidate.attnums + candidate.nkeys);
        std::sort(cols.begin(), cols.end());
        if (cols != keys || (have && (found.primary || !candidate.primary)))
            continue;
        found = candidate;
        have = true;
    }
    if (!have)
        throw Error(ERRCODE_INVALID_COLUMN_REFERENCE,
                    "baton: there is no unique or exclusion constraint matching the ON CONFLICT specification");
    return found;
}

// Postgres calls only: OPERATOR(schema.name) of a btree opfamily member.
char *operator_sql(Oid opfamily, Oid type, int16 strategy)
{
    Oid opno = get_opfamily_member(opfamily, type, type, strategy);
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "baton: btree operator family %u lacks strategy %d for type %u", opfamily, strategy, type);
    auto *form = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tup));
    char *sql = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(form->oprnamespace)),
                         NameStr(form->oprname));
    ReleaseSysCache(tup);
    return sql;
}

// Postgres calls only: " COLLATE schema.name", or "" for no collation.
char *collate_sql(Oid collation)
{
    if (!OidIsValid(collation))
        return pstrdup("");
    HeapTuple tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collation));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "baton: cache lookup failed for collation %u", collation);
    auto *form = reinterpret_cast<Form_pg_collation>(GETSTRUCT(tup));
    char *sql = psprintf(" COLLATE %s", quote_qualified_identifier(get_namespace_name(form->collnamespace),
                                                                  NameStr(form->collname)));
    ReleaseSysCache(tup);
    return sql;
}

// One key column of the arbiter, as SQL that needs no search_path.
struct KeyColumn {
    std::string column;   // quoted name
    std::string collate;  // " COLLATE schema.name" or ""
    std::string eq;       // OPERATOR(schema.=)
    std::string less;     // OPERATOR(schema.<)
};

std::vector<KeyColumn> key_columns(Oid relid, const IndexKey &index)
{
    std::vector<KeyColumn> cols;
    for (int k = 0; k < index.nkeys; k++) {
        Oid family = index.opfamilies[k], type = index.opcintypes[k], coll = index.collations[k];
        AttrNumber att = index.attnums[k];
        KeyColumn c;
        c.column = pg::call([&] { return quote_identifier(get_attname(relid, att, false)); });
        c.collate = pg::call([&] { return collate_sql(coll); });
        c.eq = pg::call([&] { return operator_sql(family, type, BTEqualStrategyNumber); });
        c.less = pg::call([&] { return operator_sql(family, type, BTLessStrategyNumber); });
        cols.push_back(c);
    }
    return cols;
}

// ---------------------------------------------------------------------------
// The statement.
// ---------------------------------------------------------------------------

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

// The key columns as a list: "col COLLATE c" (with_order: "... USING <").
std::string key_list(const std::vector<KeyColumn> &keys, bool collate, bool with_order)
{
    std::string out;
    for (const KeyColumn &k : keys)
        out += (out.empty() ? "" : ", ") + k.column + (collate ? k.collate : "") +
               (with_order ? " USING " + k.less : "");
    return out;
}

// src: the rows typed as the target's columns; firsts: the first occurrence
// of each key (equal as the arbiter sees it), in the arbiter's order; the
// INSERT writes them in that order. Later occurrences report inserted = false.
std::string upsert_sql(const Target &target, const std::vector<std::string> &fields,
                       const std::vector<KeyColumn> &keys, const std::vector<std::string> &updates)
{
    std::set<std::string> field_set(fields.begin(), fields.end());
    std::string field_list = joined(fields), conflict = key_list(keys, false, false);
    std::string distinct = key_list(keys, true, false), order = key_list(keys, true, true);
    std::string key_match;
    for (const KeyColumn &k : keys)
        key_match += (key_match.empty() ? "" : " AND ") + ("i." + k.column + k.collate) + " " + k.eq + " " +
                     ("s." + k.column + k.collate);
    std::string action = "DO NOTHING";
    if (!updates.empty()) {
        action = "DO UPDATE SET ";
        for (size_t k = 0; k < updates.size(); k++)
            action += (k ? ", " : "") + quoted(updates[k]) + " = EXCLUDED." + quoted(updates[k]);
    }
    std::string ord = quoted(fresh_alias("baton_ord", field_set));
    std::string ins_flag = quoted(fresh_alias("baton_inserted", field_set));
    return "WITH src AS ("
           "  SELECT t.ord AS " + ord + ", " + joined(fields, "r.") +
           "    FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS t(elem, ord),"
           "         LATERAL pg_catalog.jsonb_populate_record(NULL::" + target.name + ", t.elem) AS r),"
           " firsts AS (SELECT DISTINCT ON (" + distinct + ") " + ord + ", " + field_list +
           "   FROM src ORDER BY " + order + ", " + ord + "),"
           " ins AS (INSERT INTO " + target.name + " (" + field_list + ")"
           "   SELECT " + field_list + " FROM firsts ORDER BY " + order +
           "   ON CONFLICT (" + conflict + ") " + action +
           "   RETURNING " + conflict + ", (xmax = 0) AS " + ins_flag + ")"
           " SELECT s." + ord + "::int4, coalesce(i." + ins_flag + ", false)"
           "   FROM src s LEFT JOIN firsts f ON f." + ord + " = s." + ord +
           "   LEFT JOIN ins i ON f." + ord + " IS NOT NULL AND " + key_match +
           "  ORDER BY s." + ord;
}

// Runs the statement; its (ord, inserted) rows become the function's result.
void run(FunctionCallInfo fcinfo, const std::string &sql)
{
    ResultRows result(fcinfo);
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
        result.add(values, nulls);
    }
    spi::finish();
}

} // namespace

BATON_FUNCTION(baton_sorted_upsert)
{
    Call call = read_arguments(fcinfo);
    Target target = target_table(fcinfo, call);
    std::vector<json::Object> rows = json::objects(PG_GETARG_DATUM(2), "rows", args::max_array_elements);
    std::vector<std::string> fields = row_fields(rows, target.relid);
    std::set<std::string> field_set(fields.begin(), fields.end());
    std::vector<AttrNumber> key_attnums = check_keys(call, rows, field_set, target.relid);
    std::vector<std::string> updates = update_columns(call, fields, field_set, target.relid);
    std::vector<KeyColumn> keys = key_columns(target.relid, arbiter(target.relid, key_attnums));
    run(fcinfo, upsert_sql(target, fields, keys, updates));
    return (Datum) 0;
}
