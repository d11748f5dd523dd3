// What differs between the PostgreSQL majors baton builds against (15, 17,
// 18): one small inline function per difference, each saying which major
// changed what. The only file that tests PG_VERSION_NUM. Each function makes
// Postgres calls only (call it inside pg::call, like the call it replaces).
#pragma once

extern "C" {
#include "postgres.h"
#include "access/genam.h"
#include "access/tableam.h"
#include "catalog/pg_namespace.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#endif
}

namespace baton::compat {

// A range table of one relation, `rte`, whose RT index is 1. 16: permissions
// moved from RangeTblEntry to a list of RTEPermissionInfo passed along;
// 18: so does the set of RT indexes not pruned (all of them here).
inline void init_range_table(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 180000
    List *perminfos = NIL;
    addRTEPermissionInfo(&perminfos, rte);
    ExecInitRangeTable(estate, list_make1(rte), perminfos, bms_make_singleton(1));
#elif PG_VERSION_NUM >= 160000
    List *perminfos = NIL;
    addRTEPermissionInfo(&perminfos, rte);
    ExecInitRangeTable(estate, list_make1(rte), perminfos);
#else
    ExecInitRangeTable(estate, list_make1(rte));
#endif
}

// Where the columns an update writes are listed (UPDATE OF triggers and the
// indexes' "unchanged by this update" hint read them there). 16: in the
// RTEPermissionInfo of the entry, no longer in RangeTblEntry::updatedCols.
inline Bitmapset **updated_columns(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
    return &getRTEPermissionInfo(estate->es_rteperminfos, rte)->updatedCols;
#else
    (void) estate;
    return &rte->updatedCols;
#endif
}

// An EvalPlanQual state with no plan. 16: EvalPlanQualInit takes the result
// relations' RT indexes too (none here, as in logical replication's apply).
inline void epq_init(EPQState *epq, EState *estate)
{
#if PG_VERSION_NUM >= 160000
    EvalPlanQualInit(epq, estate, nullptr, NIL, -1, NIL);
#else
    EvalPlanQualInit(epq, estate, nullptr, NIL, -1);
#endif
}

// What table_tuple_update reports about the new version's index entries.
// 16: TU_UpdateIndexes (none, all, or only summarizing indexes), not a bool.
#if PG_VERSION_NUM >= 160000
using IndexUpdate = TU_UpdateIndexes;
#else
using IndexUpdate = bool;
#endif

// The new version's index entries after table_tuple_update, as an UPDATE
// makes them (ExecSimpleRelationUpdate's way). 16: ExecInsertIndexTuples
// takes onlySummarizing, for an update that needs summarizing entries only.
inline void insert_index_entries(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, IndexUpdate needed)
{
    if (rri->ri_NumIndices == 0)
        return;
#if PG_VERSION_NUM >= 160000
    if (needed != TU_None)
        list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, nullptr, NIL, needed == TU_Summarizing));
#else
    if (needed)
        list_free(ExecInsertIndexTuples(rri, slot, estate, true, false, nullptr, NIL));
#endif
}

// A new row's index entries, for a speculative insertion: duplicates in the
// arbiter indexes are reported in *conflict, not raised. 16:
// ExecInsertIndexTuples takes onlySummarizing (false: a new row needs all).
inline List *insert_new_index_entries(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, bool *conflict,
                                      List *arbiters)
{
#if PG_VERSION_NUM >= 160000
    return ExecInsertIndexTuples(rri, slot, estate, false, true, conflict, arbiters, false);
#else
    return ExecInsertIndexTuples(rri, slot, estate, false, true, conflict, arbiters);
#endif
}

// ON CONFLICT's pre-check: false, and the conflicting row in *holder, when
// an arbiter index holds the row's key (waiting for an insertion in
// progress). 18: ExecCheckIndexConstraints takes the row's own TID (none
// for a new row).
inline bool check_index_constraints(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate, ItemPointer holder,
                                    List *arbiters)
{
#if PG_VERSION_NUM >= 180000
    return ExecCheckIndexConstraints(rri, slot, estate, holder, nullptr, arbiters);
#else
    return ExecCheckIndexConstraints(rri, slot, estate, holder, arbiters);
#endif
}

// The role's privilege on a schema. 16: pg_namespace_aclcheck was replaced by
// object_aclcheck(NamespaceRelationId, ...).
inline AclResult namespace_aclcheck(Oid nsp, Oid role, AclMode mode)
{
#if PG_VERSION_NUM >= 160000
    return object_aclcheck(NamespaceRelationId, nsp, role, mode);
#else
    return pg_namespace_aclcheck(nsp, role, mode);
#endif
}

// The relation's primary key index, InvalidOid if none or if it is
// DEFERRABLE. 18: RelationGetPrimaryKeyIndex takes deferrable_ok (false is
// what it always did).
inline Oid primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
    return RelationGetPrimaryKeyIndex(rel, false);
#else
    return RelationGetPrimaryKeyIndex(rel);
#endif
}

// An index scan with `nkeys` keys and no ORDER BY operators. 18:
// index_beginscan takes an IndexScanInstrumentation (none here).
inline IndexScanDesc index_begin(Relation heap, Relation index, Snapshot snapshot, int nkeys)
{
#if PG_VERSION_NUM >= 180000
    return index_beginscan(heap, index, snapshot, nullptr, nkeys, 0);
#else
    return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

// This backend's local id of the current transaction (unique per
// transaction within a backend). 17: moved into MyProc->vxid.
inline LocalTransactionId local_xid()
{
#if PG_VERSION_NUM >= 170000
    return MyProc->vxid.lxid;
#else
    return MyProc->lxid;
#endif
}

// The dead row versions the statistics count for a table. 16: the fields
// of PgStat_StatTabEntry lost their n_ prefix.
inline PgStat_Counter dead_tuples(const PgStat_StatTabEntry *stats)
{
#if PG_VERSION_NUM >= 160000
    return stats->dead_tuples;
#else
    return stats->n_dead_tuples;
#endif
}

} // namespace baton::compat
