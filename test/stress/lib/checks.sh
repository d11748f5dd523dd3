# Shared by the shell stress tests: `check NAME EXPECTED ACTUAL` prints a
# TAP-style ok / not ok line and counts failures in $fails; the test ends
# with `((fails == 0))`.
fails=0
check() {
  if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}
