#!/usr/bin/env bash
# The checker's own test: test/boundary/check.py must fail on the object
# compiled from planted_violation.cpp, report each of that file's
# "// expect:" lines (extended regular expressions) and none of its ok_*
# functions.
#   bash test/boundary/planted.sh OBJECT [check.py options]
set -u
cd "$(dirname "$0")/../.."
obj=$1
shift
src=test/boundary/planted_violation.cpp
out=$(/usr/bin/python3 test/boundary/check.py "$@" "$obj")
status=$?
problems=()
((status == 1)) || problems+=("check.py exited with status $status, not 1")
mapfile -t expected < <(sed -n 's|^// expect: ||p' "$src")
((${#expected[@]} > 0)) || problems+=("$src has no \"// expect:\" line")
for e in "${expected[@]}"; do
  grep -qE -- "$e" <<<"$out" || problems+=("not reported: $e")
done
grep -q 'ok_' <<<"$out" && problems+=("correct code reported: $(grep 'ok_' <<<"$out")")
if ((${#problems[@]})); then
  echo "$out"
  printf 'check-boundary planted: FAILED: %s\n' "${problems[@]}"
  exit 1
fi
echo "check-boundary planted: ok: the ${#expected[@]} planted violations are reported, the correct code is not"
