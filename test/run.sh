#!/usr/bin/env bash
# make test: install what is missing, build, start a throwaway cluster, run
# every suite (pg_regress, isolation, pgTAP, stress), stop the cluster, scan
# its log for crashed backends, and end with "N passed, N failed".
# CASSERT=1: against PostgreSQL built with assertions (see test/lib.sh).
# PG=N: against major N; when this machine has no PostgreSQL N, the same
# run inside a Debian chroot that has it (test/majors.sh).
set -u
cd "$(dirname "$0")/.."
PG=${PG:-15}
[ "$PG" = 15 ] || [ -x "/usr/lib/postgresql/$PG/bin/postgres" ] || exec bash test/majors.sh "$PG"
. test/lib.sh || exit 1

ensure_packages || exit 1
build_and_install || exit 1
cluster_start test || exit 1
trap cluster_stop EXIT
server=$(psql -X -At -d postgres -c "SELECT 'PostgreSQL ' || current_setting('server_version')
  || CASE WHEN current_setting('debug_assertions')::bool THEN ' (assertions enabled)' ELSE '' END")
echo "== server: $server"

# After a backend crash the server refuses connections until crash recovery
# is over: wait for it before each suite, so that only the suite that crashed
# it pays.
wait_ready() {
  local i
  for i in $(seq 50); do "$PG_BIN/pg_isready" -q && return; sleep 0.2; done
}

PGXS_DIR=$(dirname "$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")")  # .../lib/pgxs
passed=0
failed=0
failures=()

# pg_regress and pg_isolation_regress print "name ... ok" or "... FAILED"
# (15), or TAP lines "ok 1 - name" and "not ok 2 - name" (16 on).
# A runner that exits non-zero without naming a failed test (it could not
# start, the database could not be created...) counts as one failure.
tally_regress() {  # $1 = suite, $2 = its output file, $3 = its exit status
  local ok bad
  ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ +[-+] ' "$2")
  bad=$(grep -cE '\.\.\. (FAILED|failed)|^not ok [0-9]+ +[-+] ' "$2")
  ((bad == 0 && $3 != 0)) && bad=1
  passed=$((passed + ok))
  failed=$((failed + bad))
  ((bad)) && failures+=("$1: $(grep -E '\.\.\. (FAILED|failed)|^not ok [0-9]+ +[-+] ' "$2" |
    sed -E 's/^not ok [0-9]+ +[-+] +//; s/^test +//' | awk '{print $1}' | xargs) (exit $3)")
  return 0
}

# The C++/Postgres boundary, in the object code (docs/development.md): the
# check of src/, and the check of the checker on planted violations. Under
# CASSERT=1 the tree was cleaned: the objects are built against that server
# for the check, then cleaned again.
echo "== boundary"
for t in check-boundary-src check-boundary-planted; do
  if make -s PG_CONFIG="$PG_CONFIG" "$t"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("boundary: make $t")
  fi
done
[ "${CASSERT:-}" = 1 ] && make -s clean

echo "== pg_regress"
tests=$(ls sql/*.sql | xargs -n1 basename | sed 's/\.sql$//' | grep -v '^baton--')
rm -rf results
"$PGXS_DIR/src/test/regress/pg_regress" --bindir="$PG_BIN" --inputdir=. \
  --dbname=baton_regress --load-extension=baton $tests 2>&1 | tee /tmp/baton-regress.out
status=${PIPESTATUS[0]}
[ -f regression.diffs ] && cat regression.diffs
tally_regress pg_regress /tmp/baton-regress.out "$status"

wait_ready
echo "== isolation"
specs=$(ls test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename | sed 's/\.spec$//')
rm -rf output_iso
if [ -n "$specs" ]; then
  "$PGXS_DIR/src/test/isolation/pg_isolation_regress" --bindir="$PG_BIN" \
    --inputdir=test/isolation --outputdir=output_iso --dbname=baton_isolation \
    --load-extension=baton $specs 2>&1 | tee /tmp/baton-isolation.out
  status=${PIPESTATUS[0]}
  [ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
  tally_regress isolation /tmp/baton-isolation.out "$status"
fi

wait_ready
echo "== pgTAP"
psql -q -X -d postgres -c "DROP DATABASE IF EXISTS baton_tap" -c "CREATE DATABASE baton_tap" >/dev/null
psql -q -X -d baton_tap -c "CREATE EXTENSION baton" -c "CREATE EXTENSION pgtap" >/dev/null
tap_files=$(ls test/pgtap/*.sql 2>/dev/null)
if [ -n "$tap_files" ]; then
  pg_prove -d baton_tap $tap_files 2>&1 | tee /tmp/baton-pgtap.out
  status=${PIPESTATUS[0]}
  # Each assertion counts; a file that died before its plan counts as one failure.
  tap_total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' /tmp/baton-pgtap.out)
  tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' /tmp/baton-pgtap.out | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
  tap_died=$(grep -cE 'Dubious|No subtests run|Bad plan' /tmp/baton-pgtap.out)
  passed=$((passed + ${tap_total:-0} - tap_failed))
  failed=$((failed + tap_failed + tap_died))
  ((tap_failed + tap_died)) && failures+=("pgTAP: $(grep -E '^test/pgtap/.*(Failed|Dubious|Bad|No subtests)' /tmp/baton-pgtap.out | awk '{print $1}' | sort -u | xargs)")
  if ! grep -q '^Result: PASS' /tmp/baton-pgtap.out || ((status != 0)); then
    ((tap_failed + tap_died)) || { failed=$((failed + 1)); failures+=("pgTAP: pg_prove did not pass (exit $status)"); }
  fi
fi

echo "== stress"
for t in test/stress/*.py test/stress/*.sh; do
  [ -f "$t" ] || continue
  wait_ready
  echo "-- $t"
  case "$t" in
    *.py) /usr/bin/python3 "$t" ;;
    *.sh) bash "$t" ;;
  esac
  if [ $? = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("stress: $t"); fi
done

cluster_stop
trap - EXIT
echo "== server log"
if grep -E 'TRAP:|terminated by signal|Failed process was running|PANIC' "$CLUSTER_LOG"; then
  failed=$((failed + 1))
  failures+=("server log: a backend crashed (see $CLUSTER_LOG)")
  print_backtraces
else
  echo "no backend crashed"
  passed=$((passed + 1))
fi

if [ "${CASSERT:-}" = 1 ] && [[ $server != *"(assertions enabled)" ]]; then
  failed=$((failed + 1))
  failures+=("server: CASSERT=1 but debug_assertions is off")
fi

((failed == 0)) && cluster_remove
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "== server: $server"
echo "$passed passed, $failed failed"
((failed == 0))
