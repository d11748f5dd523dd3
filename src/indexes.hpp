// The index entries of baton._jobs: ExecOpenIndices (with what ON CONFLICT
// needs of unique indexes, as speculative = true gives), but the IndexInfo of
// each index, its partial-index predicate compiled, is built once per
// backend and kept across calls. PostgreSQL builds them, and compiles the
// predicates of the indexes a row version is checked against, once per
// executor state: for baton's eight partial indexes that was a fifth of an
// enqueue's executor time and a few percent of every claim and completion.
//
// Kept only while every index is a btree on plain columns (no expressions,
// nothing an access method caches per IndexInfo), and dropped when a
// relcache invalidation names the table or one of its indexes (an index
// created, dropped or altered): the next call builds them again.
#pragma once

#include "pg_boundary.hpp"

extern "C" {
#include "nodes/execnodes.h"
}

namespace baton::indexes {

// Opens the indexes of rri's relation (RowExclusiveLock, closed by
// ExecCloseIndices as ExecOpenIndices's are) and gives rri their IndexInfo.
// Call inside pg::call.
void open(ResultRelInfo *rri);

} // namespace baton::indexes
