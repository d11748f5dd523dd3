"""What the stress tests share: one-off administrative statements, and the
ending every test prints (information, failures, one TAP-style verdict)."""
import time

import psycopg2


def admin(sql, args=None, dbname="postgres"):
    """Runs one statement on its own autocommit connection; returns its rows."""
    conn = psycopg2.connect(dbname=dbname, options="-c client_min_messages=warning")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else None
    conn.close()
    return rows


def verdict(failures, ok, not_ok, began, lines=()):
    """Prints the lines, the failures and the verdict; returns the exit status."""
    for line in lines:
        print(line)
    for f in failures:
        print("FAIL: " + f)
    print("%s (%.1f s)" % (("not ok - " + not_ok) if failures else ("ok - " + ok), time.time() - began))
    return 1 if failures else 0
