#!/usr/bin/env bash
# make demo: baton's main job in under a minute, on a throwaway cluster.
# Four workers share 300 jobs with a 2 s lease. One worker is SIGKILLed while
# it holds a job, another is frozen (SIGSTOP) while it holds one; leases and
# fencing tokens make sure every job is still completed exactly once.
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

JOBS=300
LEASE='2 seconds'
KILL_N=42     # the worker holding job n=42 is killed
FREEZE_N=77   # the worker holding job n=77 is frozen, then resumed
WORKERS=4
DB=baton_demo
PY=/usr/bin/python3   # Debian's python, where python3-psycopg2 lives

declare -A LABEL_OF   # pid -> w1..w4
WORKER_PIDS=()
KILLED_PID=
FROZEN_PID=
failed=0

say() { printf '\n>> %s\n' "$*"; }
die() { printf '!! %s\n' "$*" >&2; exit 1; }
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# wait_for SECONDS WHAT COMMAND...: poll COMMAND, so that nothing can hang.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.1
  done
}

# Workers first (a frozen one must be woken to die), then the cluster.
cleanup() {
  local pid
  for pid in "${WORKER_PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  cluster_stop
  cluster_remove
}

setup() {
  psql -X -q -d postgres -c "CREATE DATABASE $DB" || die "cannot create database $DB"
  # Two logs that the workers write in the same statement as the baton call
  # they record, so they hold exactly what baton granted and refused.
  sql <<'SQL' || die "setup failed"
CREATE EXTENSION baton;
CREATE TABLE demo_claims (job_id bigint, n int, label text, worker text,
                          token bigint, attempt int, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE demo_completions (job_id bigint, n int, label text, worker text,
                               token bigint, ok boolean, at timestamptz DEFAULT clock_timestamp());
SQL
  say "CREATE EXTENSION baton; queue 'demo' with a lease of $LEASE; enqueue_batch of $JOBS jobs {\"n\": i}"
  sql -c "SELECT baton.create_queue('demo', lease => '$LEASE')" >/dev/null || die "create_queue failed"
  sql -c "SELECT count(*) FROM baton.enqueue_batch('demo',
           (SELECT jsonb_agg(jsonb_build_object('payload', jsonb_build_object('n', i)))
              FROM generate_series(1, $JOBS) i))" >/dev/null || die "enqueue_batch failed"
  sql -c "SELECT format('   queue demo: %s ready', ready) FROM baton.queue_stats WHERE queue = 'demo'"
}

start_workers() {
  local i pid
  say "starting $WORKERS workers: each loops claim -> work (10-40 ms; 3 s with heartbeats for n % 100 = 0) -> complete(id, token)"
  for i in $(seq 1 "$WORKERS"); do
    "$PY" test/demo/worker.py --label "w$i" --dsn "dbname=$DB" \
      --markers "$MARKERS" --hold "$KILL_N,$FREEZE_N" &
    pid=$!
    WORKER_PIDS+=("$pid")
    LABEL_OF[$pid]=w$i
  done
}

# holder N: "pid job_id token" of the worker that announced it holds job n=N.
holder() {
  wait_for 20 "a worker to hold job n=$1" test -s "$MARKERS/holding-$1"
  cat "$MARKERS/holding-$1"
}

# job_row N: the job's row as baton sees it, on one line.
job_row() {
  sql -c "SELECT format('   baton.jobs n=%s: id %s, %s, attempt %s, lease_token %s (%s)%s',
                        payload->>'n', id, state, attempt, lease_token,
                        (SELECT label FROM demo_claims c WHERE c.token = j.lease_token),
                        CASE WHEN state = 'running' THEN format(', lease ends in %s s',
                          round(extract(epoch FROM lease_expires_at - clock_timestamp())::numeric, 1)) END)
            FROM baton.jobs j WHERE queue = 'demo' AND payload->>'n' = '$1'"
}

# is_state N STATE ATTEMPT: job n=N is in STATE at attempt ATTEMPT.
is_state() {
  [ "$(sql -c "SELECT count(*) FROM baton.jobs WHERE queue = 'demo'
                 AND payload->>'n' = '$1' AND state = '$2' AND attempt = $3")" = 1 ]
}

kill_holder() {
  local line id token
  line=$(holder "$KILL_N") || exit 1
  read -r KILLED_PID id token <<<"$line"
  local pid=$KILLED_PID
  say "SIGKILL ${LABEL_OF[$pid]} (pid $pid) while it holds job $id with token $token: it never completes it"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null   # reap it quietly
  job_row "$KILL_N"
  echo "   nobody heartbeats it any more: it is due again when the lease ends"
}

freeze_holder() {
  local line id token
  line=$(holder "$FREEZE_N") || exit 1
  read -r FROZEN_PID id token <<<"$line"
  kill -STOP "$FROZEN_PID"
  # Frozen now, so the row cannot change under us: it must still be its job.
  is_state "$FREEZE_N" running 1 || die "job n=$FREEZE_N finished before it could be frozen"
  say "SIGSTOP ${LABEL_OF[$FROZEN_PID]} (pid $FROZEN_PID) while it holds job $id with token $token (a GC pause, a swapped-out VM...)"
  job_row "$FREEZE_N"
}

await_reclaims() {
  say "waiting for both leases to expire; the other workers reclaim the jobs with new tokens"
  wait_for 20 "job n=$KILL_N to be reclaimed and completed" is_state "$KILL_N" completed 2
  wait_for 20 "job n=$FREEZE_N to be reclaimed and completed" is_state "$FREEZE_N" completed 2
  job_row "$KILL_N"
  job_row "$FREEZE_N"
}

thaw_frozen() {
  say "SIGCONT ${LABEL_OF[$FROZEN_PID]}: it wakes up, finishes its 'work' and calls complete() with its old token"
  kill -CONT "$FROZEN_PID"
}

# exited PID: gone, or a zombie waiting for us to collect its status.
exited() {
  ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Every surviving worker exits by itself once the queue is empty.
await_workers() {
  local pid rc
  for pid in "${WORKER_PIDS[@]}"; do
    [ "$pid" = "$KILLED_PID" ] && continue
    wait_for 30 "worker ${LABEL_OF[$pid]} to exit" exited "$pid"
    wait "$pid"
    rc=$?
    ((rc == 0)) || { echo "!! worker ${LABEL_OF[$pid]} exited with $rc"; failed=$((failed + 1)); }
  done
}

# check WHAT SQL: SQL returns true when the guarantee held.
check() {
  if [ "$(sql -c "$2")" = t ]; then
    echo "   ok    $1"
  else
    echo "   FAIL  $1"
    failed=$((failed + 1))
  fi
}

summary() {
  say "summary, from the database"
  sql <<SQL
SELECT format('   jobs completed: %s of %s', count(*) FILTER (WHERE state = 'completed'), count(*))
  FROM baton.jobs WHERE queue = 'demo';
SELECT format('   complete() calls: %s granted, %s refused; per worker: %s',
              count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
              (SELECT string_agg(label || '=' || c, ' ' ORDER BY label)
                 FROM (SELECT label, count(*) c FROM demo_completions WHERE ok GROUP BY label) w))
  FROM demo_completions;
SELECT '   reclaimed jobs (attempt > 1), tokens in claim order:';
SELECT format('     job %s (n=%s): %s; completed with token %s',
              j.id, j.payload->>'n',
              (SELECT string_agg(format('token %s (%s)', c.token, c.label), ' -> ' ORDER BY c.token)
                 FROM demo_claims c WHERE c.job_id = j.id),
              (SELECT d.token FROM demo_completions d WHERE d.job_id = j.id AND d.ok))
  FROM baton.jobs j WHERE j.queue = 'demo' AND j.attempt > 1 ORDER BY j.id;
SELECT '   refused late completes:';
SELECT format('     job %s (n=%s): %s offered token %s, the job is owned by token %s',
              d.job_id, d.n, d.label, d.token, j.lease_token)
  FROM demo_completions d JOIN baton.jobs j ON j.id = d.job_id WHERE NOT d.ok ORDER BY d.job_id;
SELECT format('   long jobs (3 s, longer than the lease) kept by heartbeats: %s, all at attempt 1: %s',
              count(*), bool_and(attempt = 1))
  FROM baton.jobs WHERE queue = 'demo' AND (payload->>'n')::int % 100 = 0;
SQL

  say "checks"
  check "all $JOBS jobs completed" \
    "SELECT count(*) FILTER (WHERE state = 'completed') = $JOBS AND count(*) = $JOBS
       FROM baton.jobs WHERE queue = 'demo'"
  check "each job completed exactly once (one complete() = true per job id)" \
    "SELECT count(*) = $JOBS AND bool_and(c = 1)
       FROM (SELECT job_id, count(*) c FROM demo_completions WHERE ok GROUP BY job_id) x"
  check "the killed worker's job n=$KILL_N was reclaimed with a higher token, which completed it" \
    "SELECT count(*) = 2 AND max(token) = (SELECT token FROM demo_completions WHERE n = $KILL_N AND ok)
       FROM demo_claims WHERE n = $KILL_N"
  check "the frozen worker's job n=$FREEZE_N was completed by the new token only" \
    "SELECT count(*) = 2 AND count(*) FILTER (WHERE ok) = 1
            AND max(token) FILTER (WHERE ok) > max(token) FILTER (WHERE NOT ok)
       FROM demo_completions WHERE n = $FREEZE_N"
  check "the frozen worker's late complete(id, old_token) returned false" \
    "SELECT count(*) >= 1 FROM demo_completions WHERE n = $FREEZE_N AND NOT ok
       AND label = '${LABEL_OF[$FROZEN_PID]}'"
  check "no job was left running or ready" \
    "SELECT count(*) = 0 FROM baton.jobs WHERE queue = 'demo' AND state IN ('ready', 'running')"
}

ensure_packages || exit 1
build_and_install || exit 1
cluster_start demo || exit 1
trap cleanup EXIT
MARKERS=$CLUSTER_DIR/markers
mkdir -p "$MARKERS"
started=$SECONDS

setup
start_workers
kill_holder
freeze_holder
await_reclaims
thaw_frozen
await_workers
summary

say "demo took $((SECONDS - started)) s"
if ((failed)); then
  echo "$failed check(s) failed"
  exit 1
fi
echo "all checks passed"
