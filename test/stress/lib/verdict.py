"""The ending every stress test shares: print the information lines and the
failures, then one TAP-style verdict line; return the exit status."""
import time


def verdict(failures, ok, not_ok, began, lines=()):
    for line in lines:
        print(line)
    for f in failures:
        print("FAIL: " + f)
    print("%s (%.1f s)" % (("not ok - " + not_ok) if failures else ("ok - " + ok), time.time() - began))
    return 1 if failures else 0
