#!/usr/bin/env bash
# make soak: baton against the plain-SQL baseline (test/bench/plain.sql) under
# a production-shaped load (test/bench/loadgen.cpp, `loadgen soak`: app
# producers enqueueing inside their own transactions, a batch producer,
# complete_and_claim and heartbeating workers, 1% failures, idle listeners, a
# wake-up probe, finished jobs removed as it goes), then the 10,000-job drain
# of make bench on the table the soak left against the same drain on a fresh
# table. Same conventions and cluster settings as test/bench.sh; baton runs
# first, then the baseline.
#
#   make soak             SOAK_JOBS jobs per system (3,000,000 by default, an
#                         estimated 25-30 minutes on 2 cores): also writes
#                         docs/performance.md's soak section and docs/soak.png
#   make soak QUICK=1     300,000 jobs per system (about 3 minutes); prints,
#                         writes no doc
#
# The run fails (exit 1) only when a job is lost or ends twice; the targets
# at the end are reported, never asserted. Its data stay in test/bin/soak/.
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
OUT=test/bin/soak
DATA=$OUT/data.tsv
LOADGEN=test/bin/loadgen
. test/bench/common.sh
DOC=docs/performance.md
export PGDATABASE=soak

if [ -n "$QUICK" ]; then
  COMMAND="make soak QUICK=1"
  JOBS=${SOAK_JOBS:-300000}
  PAUSE=0.2
else
  JOBS=${SOAK_JOBS:-3000000}
  COMMAND="make soak"
  [ "$JOBS" = 3000000 ] || COMMAND="make soak SOAK_JOBS=$JOBS"
  PAUSE=0.5
fi
JOBS_SHOWN=$(sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$JOBS")  # 3,000,000
KEEP_SECONDS=15      # finished jobs are kept this long (baton.set_retention; the baseline's janitor)
DRAIN_BACKLOG=10000  # the after-soak drain: make bench's, W=16, n=1, complete per job
DRAIN_W=16
DRAIN_N=1

# baton's vacuum worker (src/vacuum.hpp), an optional extra, is on for the
# soak's database: it vacuums baton._jobs only, the baseline's table gets
# autovacuum alone. A baton without the setting ignores it.
VACUUM_WORKER="ALTER DATABASE soak SET baton.vacuum_worker = on"

setup_db() {
  sql -d postgres -c "CREATE DATABASE soak" -c "$VACUUM_WORKER" &&
    sql -c "CREATE EXTENSION baton" \
        -c "SELECT baton.create_queue('bench')" \
        -c "SELECT baton.create_queue('warmup')" \
        -f test/bench/plain.sql >/dev/null
}

# A fresh cluster zero-fills every WAL segment it creates; one that has run
# for a while recycles them. Both systems must find the cluster in the same
# state: about 600 MB of WAL written and checkpointed first, so that both
# reuse segments (baton, which runs first, would otherwise pay for creating
# them alone).
warm_wal() {
  echo "== writing and checkpointing about 600 MB of WAL, so that segments are recycled"
  sql -c "CREATE TABLE wal_warmup AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 2000000) g" \
      -c "DROP TABLE wal_warmup" -c CHECKPOINT
}

settings() {
  echo "- command: \`$COMMAND\` ($(date -u '+%Y-%m-%d %H:%M UTC'), baton at $(measured_commit)), $JOBS_SHOWN jobs per system, baton first"
  machine_lines
  echo "- baton's vacuum worker: \`$VACUUM_WORKER\` (baton.vacuum_threshold $(sql -c "LOAD 'baton'" -c "SHOW baton.vacuum_threshold" 2>/dev/null || echo '—')); the baseline's table has autovacuum only"
}

# loadgen PREFIX ARGS...: one loadgen run; its lines go to $DATA (each kind
# prefixed with PREFIX) and to the terminal.
loadgen() {
  local prefix=$1 lines
  shift
  lines=$("$LOADGEN" "$@") || { printf '%s\n' "$lines"; echo "!! loadgen $* failed" >&2; return 1; }
  printf '%s\n' "$lines" | sed "s/^/$prefix/" >>"$DATA"
  printf '%s\n' "$lines" | sed "s/^/   $prefix/"
}

settle() { sql -c CHECKPOINT && sleep "$PAUSE"; }

# soak_one SYSTEM: the soak on an empty table, then the drain on the table
# as it left it (no VACUUM), then the same drain on a fresh table.
soak_one() {
  local table
  table=$(table_of "$1")
  echo "== soak $1: $JOBS_SHOWN jobs (tab-separated lines: see loadgen.cpp's soak)"
  sql -c "TRUNCATE $table" && settle || return 1
  loadgen "" soak "$1" "$JOBS" "$KEEP_SECONDS" || return 1
  echo "== drain $1 after the soak: $DRAIN_BACKLOG jobs, W=$DRAIN_W, n=$DRAIN_N, complete per job"
  "$LOADGEN" load "$1" "$DRAIN_BACKLOG" && settle &&
    loadgen aged_ drain "$1" complete "$DRAIN_BACKLOG" "$DRAIN_W" "$DRAIN_N" || return 1
  echo "== the same drain on a fresh table"
  sql -c "TRUNCATE $table" && "$LOADGEN" load "$1" "$DRAIN_BACKLOG" && sql -c "VACUUM ANALYZE $table" &&
    settle && loadgen fresh_ drain "$1" complete "$DRAIN_BACKLOG" "$DRAIN_W" "$DRAIN_N"
}

publish() {
  local section=$OUT/section.md
  python3 test/bench/soak_report.py plot "$DATA" "$OUT" &&
    gnuplot -e "dir='$OUT'; jobs='$JOBS_SHOWN'; out='docs/soak.png'" test/bench/soak_plot.gp || return 1
  {
    echo "### Results"
    echo
    cat "$OUT/settings.md"
    echo
    echo '![soak](soak.png)'
    echo
    cat "$OUT/results.md"
  } >"$section"
  python3 test/bench/soak_report.py splice "$DOC" "$section"
  echo "== wrote $DOC and docs/soak.png"
}

started=$SECONDS
ensure_packages $BENCH_PACKAGES || exit 1
build_and_install || exit 1
build_loadgen || exit 1
cluster_start soak || exit 1
trap cleanup EXIT
setup_db || exit 1
warm_wal || exit 1

rm -rf "$OUT"
mkdir -p "$OUT"
: >"$DATA"
settings >"$OUT/settings.md"
echo "== settings"
cat "$OUT/settings.md"

for system in baton plain; do
  t0=$SECONDS
  soak_one "$system" || { echo "!! soak $system failed; server log:" >&2; tail -20 "$CLUSTER_LOG" >&2; exit 1; }
  echo "   (soak $system: $((SECONDS - t0)) s)"
done

python3 test/bench/soak_report.py tables "$DATA" >"$OUT/results.md" || exit 1
echo
cat "$OUT/results.md"
[ -n "$QUICK" ] || publish || exit 1
echo "== results in $OUT/results.md; soak took $((SECONDS - started)) s"
