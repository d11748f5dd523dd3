#include "indexes.hpp"

extern "C" {
#include "access/genam.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

namespace baton::indexes {

namespace {

// The IndexInfo of one table's indexes, in the order of their OIDs (the
// order RelationGetIndexList gives), or the finding that they cannot be
// kept. Plain values: nothing runs at load.
struct Cache {
    MemoryContext cxt;
    Oid table;
    List *oids;  // in cxt
    IndexInfo **infos;
    bool fresh;  // no invalidation since it was built
    bool kept;   // infos hold every index's
    bool callback_registered;
};
Cache cache = {nullptr, InvalidOid, NIL, nullptr, false, false, false};

void forget(Datum, Oid relid)
{
    if (cache.fresh && (relid == InvalidOid || relid == cache.table || list_member_oid(cache.oids, relid)))
        cache.fresh = false;
}

// A btree on plain columns: its IndexInfo holds nothing built for one
// executor state but the predicate, which is compiled here.
bool keepable(Relation index, const IndexInfo *info)
{
    return index->rd_rel->relam == BTREE_AM_OID && info->ii_Expressions == NIL && info->ii_ExclusionOps == nullptr;
}

void compile_predicate(IndexInfo *info)
{
    if (info->ii_Predicate == NIL)
        return;
    Expr *pred = expression_planner(make_ands_explicit(info->ii_Predicate));
    info->ii_PredicateState = ExecInitQual(make_ands_implicit(pred), nullptr);
}

bool matches(Relation rel, List *oids)
{
    return cache.fresh && cache.table == RelationGetRelid(rel) && equal(cache.oids, oids);
}

// Builds the cache from the open indexes (kept false when one of them is
// not keepable).
void build(Relation rel, List *oids, Relation *descs, int n)
{
    if (!cache.callback_registered) {
        CacheRegisterRelcacheCallback(forget, (Datum) 0);
        cache.callback_registered = true;
    }
    cache.fresh = false;
    if (cache.cxt == nullptr)
        cache.cxt = AllocSetContextCreate(TopMemoryContext, "baton index infos", ALLOCSET_SMALL_SIZES);
    else
        MemoryContextReset(cache.cxt);
    MemoryContext was = MemoryContextSwitchTo(cache.cxt);
    cache.infos = static_cast<IndexInfo **>(palloc(sizeof(IndexInfo *) * (n > 0 ? n : 1)));
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        cache.infos[i] = BuildIndexInfo(descs[i]);
        ok = keepable(descs[i], cache.infos[i]);
        if (ok)
            compile_predicate(cache.infos[i]);
        if (ok && cache.infos[i]->ii_Unique)
            BuildSpeculativeIndexInfo(descs[i], cache.infos[i]);
    }
    cache.oids = list_copy(oids);
    cache.table = RelationGetRelid(rel);
    MemoryContextSwitchTo(was);
    cache.kept = ok;
    cache.fresh = true;
}

} // namespace

void open(ResultRelInfo *rri)
{
    Relation rel = rri->ri_RelationDesc;
    rri->ri_NumIndices = 0;
    if (!RelationGetForm(rel)->relhasindex)
        return;
    List *oids = RelationGetIndexList(rel);
    int n = list_length(oids);
    if (n == 0)
        return;
    auto *descs = static_cast<Relation *>(palloc(sizeof(Relation) * n));
    auto *infos = static_cast<IndexInfo **>(palloc(sizeof(IndexInfo *) * n));
    int i = 0;
    ListCell *lc;
    foreach (lc, oids)
        descs[i++] = index_open(lfirst_oid(lc), RowExclusiveLock);
    // The table and its indexes are locked: no index is created, dropped
    // or altered until the call ends, and invalidations that came before
    // were taken by the locking.
    if (!matches(rel, oids))
        build(rel, oids, descs, n);
    for (i = 0; i < n; i++) {
        if (cache.kept) {
            infos[i] = cache.infos[i];
            infos[i]->ii_CheckedUnchanged = false;  // an update's hint, per call
        } else {
            infos[i] = BuildIndexInfo(descs[i]);
            if (infos[i]->ii_Unique)
                BuildSpeculativeIndexInfo(descs[i], infos[i]);
        }
    }
    list_free(oids);
    rri->ri_NumIndices = n;
    rri->ri_IndexRelationDescs = descs;
    rri->ri_IndexRelationInfo = infos;
}

} // namespace baton::indexes
