#!/usr/bin/env python3
"""Tables, targets and plot data for `make soak` (test/soak.sh).

    soak_report.py tables DATA.tsv       markdown tables and the targets on stdout
    soak_report.py plot DATA.tsv PLOTDIR  soak_baton.dat and soak_plain.dat for soak_plot.gp
    soak_report.py splice DOC SECTION     put SECTION between DOC's soak markers

DATA.tsv holds the lines `loadgen soak` prints (soak_retention, soak_check,
soak, soak_total) and the after-soak drains soak.sh prefixes with aged_ and
fresh_ (drain and latency lines, as make bench has them). Their columns are
documented in test/bench/loadgen.cpp where they are printed.
"""
import os
import sys

SYSTEMS = ("baton", "plain")
NAMES = {"baton": "baton", "plain": "baseline"}
BEGIN = "<!-- soak:begin (written by make soak: edits between these markers are overwritten) -->"
END = "<!-- soak:end -->"

# soak SYSTEM TENTH jobs/s claim_p50_ms claim_p99_ms claims enqueue_p99_ms wake_p99_ms
#      size_bytes dead_tuples autovacuums backlog end_s
TENTH = ["jobs_s", "claim_p50", "claim_p99", "claims", "enqueue_p99", "wake_p99", "size", "dead_tuples",
         "autovacuums", "backlog", "end_s"]
# soak_total SYSTEM JOBS seconds jobs/s wake_p99_ms dead failures refused empty_claims
#            idle_claims probes janitor_deleted
TOTAL = ["jobs", "seconds", "jobs_s", "wake_p99", "dead", "failures", "refused", "empty_claims", "idle_claims",
         "probes", "janitor_deleted"]
# (aged_|fresh_)latency SYSTEM JOBS WORKERS N FINISH p50_ms p99_ms max_ms claims
LATENCY = ["p50", "p99", "max", "claims"]


def number(x):
    try:
        return float(x)
    except ValueError:
        return x


def read(path):
    """{system: {"tenths": [dict per tenth], "total": dict, "retention": (how, keep_s),
    "check": [...], "aged": {...}, "fresh": {...}}}"""
    data = {s: {"tenths": {}} for s in SYSTEMS}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[1] not in data:
                continue
            kind, d, rest = parts[0], data[parts[1]], [number(x) for x in parts[2:]]
            if kind == "soak":
                d["tenths"][int(rest[0])] = dict(zip(TENTH, rest[1:]))
            elif kind == "soak_total":
                d["total"] = dict(zip(TOTAL, rest))
            elif kind == "soak_retention":
                d["retention"] = (parts[2], rest[1])
            elif kind == "soak_check":
                d["check"] = rest
            elif kind in ("aged_latency", "fresh_latency"):
                d[kind.split("_")[0]] = dict(zip(LATENCY, rest[4:]))
            elif kind in ("aged_drain", "fresh_drain"):
                d[kind.split("_")[0] + "_jobs_s"] = rest[4]
    for d in data.values():
        d["tenths"] = [d["tenths"][t] for t in sorted(d["tenths"])]
    return data


def num(x, digits=0):
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return f"{x:,.{digits}f}"


def mb(x):
    return None if x is None else x / 2**20


def ratio(a, b):
    if a is None or b is None or b == 0 or a != a or b != b:
        return "—"
    return f"{a / b:.2f}×"


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header, rows):
    return "\n".join([row(header), row(["---"] * len(header))] + [row(r) for r in rows])


def tenth_value(data, system, t, field):
    tenths = data[system]["tenths"]
    return tenths[t][field] if t < len(tenths) else None


def over_time_table(data):
    """Per tenth: each figure for baton, then the baseline."""
    n = max(len(data[s]["tenths"]) for s in SYSTEMS)
    fields = [("jobs_s", 0, None), ("claim_p50", 2, None), ("claim_p99", 2, None), ("enqueue_p99", 2, None),
              ("wake_p99", 2, None)]
    rows = []
    for t in range(n):
        cells = [f"{10 * t}–{10 * t + 10}%"]
        for field, digits, _ in fields:
            cells += [num(tenth_value(data, s, t, field), digits) for s in SYSTEMS]
        rows.append(cells)
    header = ["progress", "jobs/s baton", "baseline", "claim p50 ms baton", "baseline", "claim p99 ms baton",
              "baseline", "enqueue p99 ms baton", "baseline", "wake-up p99 ms baton", "baseline"]
    return table(header, rows)


def table_size_table(data):
    n = max(len(data[s]["tenths"]) for s in SYSTEMS)
    rows = []
    for t in range(n):
        cells = [f"{10 * t + 10}%"]
        for field, conv, digits in [("size", mb, 1), ("dead_tuples", None, 0), ("autovacuums", None, 0),
                                    ("backlog", None, 0), ("end_s", None, 1)]:
            for s in SYSTEMS:
                v = tenth_value(data, s, t, field)
                cells.append(num(conv(v) if conv and v is not None else v, digits))
        rows.append(cells)
    header = ["at", "size MB baton", "baseline", "dead tuples baton", "baseline", "autovacuums baton", "baseline",
              "backlog baton", "baseline", "seconds baton", "baseline"]
    return table(header, rows)


def retention_text(d):
    how, keep = d.get("retention", ("?", 0))
    keep = int(keep)
    return {
        "set_retention": f"`baton.set_retention(queue, '{keep} seconds')`: baton removes finished jobs itself",
        "none": "no `baton.set_retention` in this baton: it kept every finished job (today's behaviour)",
        "janitor": (f"a janitor thread runs `DELETE FROM plain.jobs WHERE state IN ('completed', 'dead') AND "
                    f"finished_at < clock_timestamp() - '{keep} seconds'` every second (what plain-SQL "
                    "applications run from cron)"),
    }.get(how, how)


def totals_table(data):
    def t(s, field):
        return data[s].get("total", {}).get(field)

    def check(s, i):
        c = data[s].get("check")
        return c[i] if c and i < len(c) else None

    rows = [
        ["seconds until the last job ended", num(t("baton", "seconds"), 1), num(t("plain", "seconds"), 1),
         ratio(t("baton", "seconds"), t("plain", "seconds"))],
        ["jobs/s overall", num(t("baton", "jobs_s")), num(t("plain", "jobs_s")),
         ratio(t("baton", "jobs_s"), t("plain", "jobs_s"))],
        ["wake-up p99 ms (all probes)", num(t("baton", "wake_p99"), 2), num(t("plain", "wake_p99"), 2),
         ratio(t("baton", "wake_p99"), t("plain", "wake_p99"))],
        ["wake-up probes", num(t("baton", "probes")), num(t("plain", "probes")), ""],
        ["failures (fail calls)", num(t("baton", "failures")), num(t("plain", "failures")), ""],
        ["dead (expected)", f"{num(t('baton', 'dead'))} ({num(check('baton', 5))})",
         f"{num(t('plain', 'dead'))} ({num(check('plain', 5))})", ""],
        ["jobs never ended / ended twice / left unfinished",
         " / ".join(num(check("baton", i)) for i in (1, 2, 3)),
         " / ".join(num(check("plain", i)) for i in (1, 2, 3)), ""],
        ["refused completions (lease lost)", num(t("baton", "refused")), num(t("plain", "refused")), ""],
        ["empty claims of busy workers", num(t("baton", "empty_claims")), num(t("plain", "empty_claims")), ""],
        ["claims by the 8 idle listeners", num(t("baton", "idle_claims")), num(t("plain", "idle_claims")),
         ratio(t("baton", "idle_claims"), t("plain", "idle_claims"))],
        ["rows deleted by the janitor", "—", num(t("plain", "janitor_deleted")), ""],
    ]
    return table(["", "baton", "baseline", "baton/baseline"], rows)


def drain_table(data):
    rows = []
    for label in LATENCY[:3]:
        cells = [f"claim {label} ms"]
        for s in SYSTEMS:
            f, a = data[s].get("fresh", {}).get(label), data[s].get("aged", {}).get(label)
            cells += [num(f, 2), num(a, 2), ratio(a, f)]
        rows.append(cells)
    cells = ["jobs/s"]
    for s in SYSTEMS:
        f, a = data[s].get("fresh_jobs_s"), data[s].get("aged_jobs_s")
        cells += [num(f), num(a), ratio(a, f)]
    rows.append(cells)
    return table(["", "baton fresh", "baton after soak", "growth", "baseline fresh", "baseline after soak",
                  "growth"], rows)


def targets(data):
    """[(system, target, measured, PASS/MISS)]: reported, never asserted."""
    out = []
    for s in SYSTEMS:
        d, tenths = data[s], data[s]["tenths"]
        if len(tenths) < 10:
            continue
        first, last, at30 = tenths[0], tenths[-1], tenths[2]
        checks = [
            ("last tenth jobs/s ≥ 0.9× the first tenth", last["jobs_s"] / first["jobs_s"], ">=", 0.9),
            ("claim p99: last tenth ≤ 1.2× the first tenth", last["claim_p99"] / first["claim_p99"], "<=", 1.2),
            ("final size ≤ 1.2× the size at 30%", last["size"] / at30["size"], "<=", 1.2),
        ]
        if "aged" in d and "fresh" in d:
            checks.append(("after-soak drain claim p99 ≤ 1.2× fresh", d["aged"]["p99"] / d["fresh"]["p99"], "<=", 1.2))
        wake = d.get("total", {}).get("wake_p99")
        if wake is not None:
            checks.append(("wake-up p99 ≤ 50 ms", wake, "<=", 50.0))
        for name, value, op, limit in checks:
            ok = value >= limit if op == ">=" else value <= limit
            shown = f"{value:.1f} ms" if name.startswith("wake") else f"{value:.2f}×"
            out.append((NAMES[s], name, shown, "PASS" if ok else "MISS"))
    return out


def tables(path):
    data = read(path)
    notes = "\n".join(f"- {NAMES[s]}: {retention_text(data[s])}." for s in SYSTEMS)
    sections = [
        ("Over the soak, per tenth of the jobs (lower is better except jobs/s)", over_time_table(data)),
        ("The jobs table at the end of each tenth (no manual VACUUM; backlog: produced − ended)",
         table_size_table(data)),
        ("Totals", "Finished jobs:\n\n" + notes + "\n\n" + totals_table(data)),
        ("The 10,000-job drain (W=16, n=1, complete per job) after the soak against a fresh table",
         drain_table(data)),
        ("Targets (reported, not asserted)",
         table(["system", "target", "measured", ""], [list(t) for t in targets(data)])),
    ]
    for title, body in sections:
        print(f"#### {title}\n\n{body}\n")


def plot(path, plotdir):
    """soak_SYSTEM.dat: end of each tenth (s), jobs/s, claim p99 ms, size MB."""
    data = read(path)
    for s in SYSTEMS:
        with open(os.path.join(plotdir, f"soak_{s}.dat"), "w") as f:
            f.write("# seconds jobs/s claim_p99_ms size_MB\n")
            for t in data[s]["tenths"]:
                f.write(f"{t['end_s']} {t['jobs_s']} {t['claim_p99']} {mb(t['size']):.1f}\n")


def splice(doc, section_path):
    """Replaces DOC's text between the soak markers; the rest is left alone."""
    with open(section_path) as f:
        section = f.read().strip()
    with open(doc) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{doc} has no soak markers ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    with open(doc, "w") as f:
        f.write(head + f"{BEGIN}\n{section}\n{END}" + rest.split(END, 1)[1])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "tables":
        tables(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "plot":
        plot(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "splice":
        splice(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
