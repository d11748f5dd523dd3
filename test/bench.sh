#!/usr/bin/env bash
# make bench: baton against a plain-SQL SKIP LOCKED queue (test/bench/plain.sql)
# on a throwaway cluster: the same workloads, in the same run, with the same
# settings, driven by test/bench/loadgen.cpp. Every configuration runs both
# systems back to back (which goes first alternates), each on a freshly
# truncated table after a CHECKPOINT and a pause.
#
#   make bench            full run (< 15 min): also writes docs/performance.md
#                         and docs/performance.png
#   make bench QUICK=1    a subset (< 2 min)
#
# Every run leaves its data and tables in test/bin/bench/ (gitignored).
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
OUT=test/bin/bench
DATA=$OUT/data.tsv
LOADGEN=test/bin/loadgen
. test/bench/common.sh
DOC=docs/performance.md
export PGDATABASE=bench

# Drain sets: "backlog W-list n-list finish-list". The full run covers every
# W x n x finish at 10,000 jobs; at 100,000 only W=16, and at n=1 only the
# per-job complete whose claim latency the issue's targets read: a
# 100,000-job drain at n=1 takes most of a minute per system.
if [ -n "$QUICK" ]; then
  COMMAND="make bench QUICK=1"
  DRAIN_SETS=("10000 16 1,10 complete,batch,loop")
  ENQUEUE_SINGLE_ROWS=4000
  ENQUEUE_BATCH_ROWS=20000
  HEARTBEAT_CALLS=5
  CEILING_SECONDS=5
  CHURN_JOBS=100000
  PAUSE=0.2
else
  COMMAND="make bench"
  DRAIN_SETS=("10000 1,4,16 1,10 complete,batch,loop"
              "100000 16 1 complete"
              "100000 16 10 batch,loop")
  ENQUEUE_SINGLE_ROWS=20000
  ENQUEUE_BATCH_ROWS=100000
  HEARTBEAT_CALLS=10
  CEILING_SECONDS=10
  CHURN_JOBS=1000000
  PAUSE=0.5
fi
ENQUEUE_SINGLE_THREADS="1 4"  # single calls are commit-bound: one producer and several
IDLE_LISTENERS=8           # during the enqueues: idle workers waiting on other queues
CEILING_CLIENTS=16         # the machine's one-row UPDATE + COMMIT rate (pgbench), as W=16
ENQUEUE_BATCH_THREADS=1    # batches are CPU-bound: one producer shows the cost per row
HEARTBEAT_JOBS=10000
CHURN_WORKERS=4
CHURN_N=10
CHURN_LOADED=10000         # backlog at the start, analyzed: a queue that has been running
AGED_BACKLOG=10000         # the drain after the churn, compared with the fresh one of the same size

setup_db() {
  sql -d postgres -c "CREATE DATABASE bench" &&
    sql -c "CREATE EXTENSION baton" \
        -c "SELECT baton.create_queue('bench')" \
        -c "SELECT baton.create_queue('warmup')" \
        -c "SELECT baton.create_queue('idle_' || g) FROM generate_series(1, $IDLE_LISTENERS) g" \
        -c "CREATE TABLE ceiling (id int PRIMARY KEY, v bigint NOT NULL DEFAULT 0)" \
        -c "INSERT INTO ceiling (id) SELECT generate_series(1, 10000)" \
        -f test/bench/plain.sql >/dev/null
}

# Idle workers of other queues, for the enqueues: each waits the way
# docs/workers.md says (baton.listen, a claim that finds nothing; the
# baseline's LISTEN on a channel of its own), then sits in a long sleep.
IDLE_PIDS=()
start_idle_listeners() {
  local i
  for i in $(seq "$IDLE_LISTENERS"); do
    psql -X -q -At -c "SELECT baton.listen('idle_$i')" -c "SELECT count(*) FROM baton.claim('idle_$i', 'idle')" \
      -c "LISTEN plain_idle_$i" -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
    IDLE_PIDS+=($!)
  done
  sleep 0.5
}
stop_idle_listeners() {
  ((${#IDLE_PIDS[@]})) || return 0
  sql -d postgres -c "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
                       WHERE datname = 'bench' AND query LIKE 'SELECT pg_sleep%'" >/dev/null
  wait "${IDLE_PIDS[@]}" 2>/dev/null
  IDLE_PIDS=()
}
setting() { sql -c "SHOW $1"; }

# The header of every result: what ran, where, with which settings.
settings() {
  echo "- command: \`$COMMAND\` ($(date -u '+%Y-%m-%d %H:%M UTC'), baton at $(measured_commit))"
  machine_lines
  cat <<EOF
- load generator: C++ on libpq, one thread and connection per worker, prepared statements, each worker's statements warmed up once before the clock starts
- between runs: TRUNCATE, reload, VACUUM ANALYZE of a backlog, CHECKPOINT, ${PAUSE} s pause; baton and baseline alternate which runs first; W=1 drains run twice in ABBA order and report the two runs' totals (their claim percentiles: the claim-weighted mean)
EOF
}

# fresh SYSTEM [BACKLOG]: an empty table (plus BACKLOG analyzed ready jobs),
# checkpointed and left alone for a moment, so no run pays for the last.
fresh() {
  local table
  table=$(table_of "$1")
  sql -c "TRUNCATE $table" || return 1
  if [ "${2:-0}" -gt 0 ]; then
    "$LOADGEN" load "$1" "$2" && sql -c "VACUUM ANALYZE $table" || return 1
  fi
  sql -c CHECKPOINT && sleep "$PAUSE"
}

# loadgen ARGS...: one measurement; its lines go to $DATA and, summarized, to
# the terminal.
loadgen() {
  local lines
  lines=$("$LOADGEN" "$@") || { echo "!! loadgen $* failed" >&2; return 1; }
  printf '%s\n' "$lines" >>"$DATA"
  printf '%s\n' "$lines" | awk -F'\t' '$1 != "churn" && $1 != "latency" {print "   " $0}'
}

# both FUNCTION ARGS...: FUNCTION baton ARGS and FUNCTION plain ARGS, in an
# order that alternates from one configuration to the next.
FLIP=0
both() {
  local fn=$1 first=baton second=plain
  shift
  ((FLIP ^= 1)) || { first=plain; second=baton; }
  "$fn" "$first" "$@" && "$fn" "$second" "$@"
}

drain_one() {  # SYSTEM BACKLOG W N FINISH
  fresh "$1" "$2" && loadgen drain "$1" "$5" "$2" "$3" "$4"
}

# A single worker waits for a disk flush or two per job, and this machine's
# flush latency drifts from one minute to the next: W=1 drains run twice, in
# ABBA order (baton, baseline, baseline, baton or the reverse), and the
# report adds up their jobs and seconds.
drain_config() {  # BACKLOG W N FINISH
  both drain_one "$@" || return 1
  [ "$2" = 1 ] || return 0
  both drain_one "$@" || return 1  # both() alternates: the reverse order
  FLIP=$((FLIP ^ 1))  # and the next configuration starts with the other system
}

enqueue_one() {  # SYSTEM KIND ROWS THREADS
  fresh "$1" && loadgen enqueue "$@"
}

heartbeat_one() {  # SYSTEM
  fresh "$1" "$HEARTBEAT_JOBS" && loadgen heartbeat "$1" "$HEARTBEAT_JOBS" "$HEARTBEAT_CALLS"
}

# The churn leaves its table as autovacuum left it: report its size.
churn_one() {  # SYSTEM
  local table
  table=$(table_of "$1")
  fresh "$1" "$CHURN_LOADED" &&
    loadgen churn "$1" "$CHURN_JOBS" "$CHURN_WORKERS" "$CHURN_N" "$CHURN_LOADED" || return 1
  sleep 1  # the workers' backends flush their statistics as they exit
  sql -F $'\t' -c "SELECT 'size', '$1', pg_total_relation_size(relid), pg_relation_size(relid),
                          pg_indexes_size(relid), n_dead_tup, autovacuum_count
                     FROM pg_stat_user_tables WHERE relid = '$table'::regclass" >>"$DATA"
  # Claim latency after the churn: the drain whose latency the fresh table
  # gave (10,000 jobs, W=16, n=1, complete), on the table as the churn left
  # it (no VACUUM); its lines are kept as aged_drain and aged_latency.
  local lines
  "$LOADGEN" load "$1" "$AGED_BACKLOG" &&
    lines=$("$LOADGEN" drain "$1" complete "$AGED_BACKLOG" 16 1) || return 1
  printf '%s\n' "$lines" | sed 's/^/aged_/' >>"$DATA"
  printf '%s\n' "$lines" | awk -F'\t' '$1 == "drain" {print "   aged_" $0}'
}

run_drains() {
  local set jobs ws ns finishes w n f
  echo "== drain: a backlog emptied by W workers claiming n (drain SYSTEM BACKLOG W n FINISH jobs/s seconds)"
  for set in "${DRAIN_SETS[@]}"; do
    read -r jobs ws ns finishes <<<"$set"
    for n in ${ns//,/ }; do
      for w in ${ws//,/ }; do
        for f in ${finishes//,/ }; do
          drain_config "$jobs" "$w" "$n" "$f" || return 1
        done
      done
    done
  done
}

run_enqueues() {
  local t status=0
  echo "== enqueue, with $IDLE_LISTENERS idle workers waiting on other queues (enqueue SYSTEM KIND CONNECTIONS ROWS rows/s)"
  start_idle_listeners
  for t in $ENQUEUE_SINGLE_THREADS; do
    both enqueue_one single "$ENQUEUE_SINGLE_ROWS" "$t" || status=1
  done
  ((status == 0)) &&
    both enqueue_one batch "$ENQUEUE_BATCH_ROWS" "$ENQUEUE_BATCH_THREADS" &&
    both enqueue_one batch_unique "$ENQUEUE_BATCH_ROWS" "$ENQUEUE_BATCH_THREADS" || status=1
  stop_idle_listeners
  return $status
}

# What the machine commits at all: one-row UPDATEs, each its own
# transaction, from CEILING_CLIENTS pgbench clients (no contention: 10,000
# rows). The worker loop is printed as a fraction of it.
run_ceiling() {
  local tps
  echo "== ceiling: pgbench, one-row UPDATE + COMMIT, $CEILING_CLIENTS clients, $CEILING_SECONDS s"
  sql -c CHECKPOINT && sleep "$PAUSE"
  printf '\\set id random(1, 10000)\nUPDATE ceiling SET v = v + 1 WHERE id = :id;\n' >"$OUT/ceiling.sql"
  tps=$("$PG_BIN/pgbench" -n -M prepared -c "$CEILING_CLIENTS" -j 2 -T "$CEILING_SECONDS" -f "$OUT/ceiling.sql" 2>&1 |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -n 1)
  [ -n "$tps" ] || { echo "!! pgbench printed no tps" >&2; return 1; }
  printf 'ceiling\tpgbench\t%s\t%s\n' "$CEILING_CLIENTS" "$tps" | tee -a "$DATA" | sed 's/^/   /'
}

run_heartbeats() {
  echo "== heartbeat (heartbeat SYSTEM LEASES CALLS mean_ms max_ms updates hot_updates)"
  both heartbeat_one
}

run_churn() {
  echo "== churn: $CHURN_JOBS jobs, producer + $CHURN_WORKERS workers claiming $CHURN_N (churn_total SYSTEM JOBS seconds jobs/s empty_polls)"
  both churn_one
}

# The plot and the doc: full runs only (QUICK covers too few W to plot).
publish() {
  local section=$OUT/section.md
  gnuplot -e "dir='$OUT'; backlog='10,000'; out='docs/performance.png'" test/bench/plot.gp || return 1
  {
    echo "## Results"
    echo
    cat "$OUT/settings.md"
    echo
    echo "The baseline is \`test/bench/plain.sql\` with the canonical claim"
    echo "\`UPDATE … WHERE id IN (SELECT id … ORDER BY priority DESC, run_at, id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …\`;"
    echo "its three finish modes are an owner-checked \`UPDATE\` per job (complete per job), one"
    echo "\`UPDATE … WHERE id = ANY(ids) AND lease_token = ANY(tokens)\` (complete_batch), and one"
    echo "statement \`WITH done AS (UPDATE … completes) UPDATE … claims\` (complete_and_claim: one round"
    echo "trip, one commit, like baton's; the completion is made to run before the claim's scan, since"
    echo "the other order deadlocks, see \`test/bench/loadgen.cpp\`). Ratios are baton / baseline: above 1 is better for jobs/s"
    echo "and rows/s, below 1 is better for latencies and sizes."
    echo
    echo '![jobs/s](performance.png)'
    echo
    cat "$OUT/results.md"
  } >"$section"
  python3 test/bench/report.py splice "$DOC" "$section"
  echo "== wrote $DOC and docs/performance.png"
}

started=$SECONDS
ensure_packages $BENCH_PACKAGES || exit 1
build_and_install || exit 1
build_loadgen || exit 1
cluster_start bench || exit 1
trap 'stop_idle_listeners; cleanup' EXIT
setup_db || exit 1

rm -rf "$OUT"
mkdir -p "$OUT"
: >"$DATA"
settings >"$OUT/settings.md"
echo "== settings"
cat "$OUT/settings.md"

for part in run_ceiling run_drains run_enqueues run_heartbeats run_churn; do
  t0=$SECONDS
  "$part" || { echo "!! $part failed; server log:" >&2; tail -20 "$CLUSTER_LOG" >&2; exit 1; }
  echo "   ($part: $((SECONDS - t0)) s)"
done

python3 test/bench/report.py tables "$DATA" "$OUT" >"$OUT/results.md" || exit 1
echo
cat "$OUT/results.md"
[ -n "$QUICK" ] || publish || exit 1
echo "== results in $OUT/results.md; bench took $((SECONDS - started)) s"
