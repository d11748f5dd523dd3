#!/usr/bin/env python3
"""Tables and plot data for `make bench` (test/bench.sh).

    report.py tables DATA.tsv PLOTDIR   markdown tables on stdout, gnuplot data in PLOTDIR
    report.py splice DOC SECTION        put SECTION between DOC's bench markers

DATA.tsv holds the tab-separated lines test/bench/loadgen.cpp prints (and the
"size" lines bench.sh adds); every table row pairs baton with the plain-SQL
baseline measured in the same run, and their ratio.
"""
import os
import sys
from collections import defaultdict

FINISH = {
    "complete": "complete per job",
    "batch": "complete_batch",
    "loop": "complete_and_claim",
}
ENQUEUE = {
    "single": "one call per job (`enqueue` / `INSERT`)",
    "batch": "batches of 1,000 (`enqueue_batch` / `INSERT … SELECT FROM unnest`)",
    "batch_unique": "batches of 1,000 with unique keys (`enqueue_batch` / `INSERT … ON CONFLICT DO NOTHING`)",
}
BEGIN = "<!-- bench:begin (written by make bench: edits between these markers are overwritten) -->"
END = "<!-- bench:end -->"


def read(path):
    """{kind: {key: {system: fields}}}: the key is everything but system and values."""
    data = defaultdict(dict)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            kind, system, rest = parts[0], parts[1], parts[2:]
            keylen = {"drain": 4, "latency": 4, "enqueue": 3, "heartbeat": 2, "churn": 1, "ceiling": 1,
                      "churn_total": 1, "size": 0, "aged_drain": 4, "aged_latency": 4}.get(kind)
            if keylen is None:
                continue
            key = tuple(rest[:keylen])
            values = [float(x) for x in rest[keylen:]]
            seen = data[kind].setdefault(key, {})
            if system in seen:
                values = combine(kind, seen[system], values)
            seen[system] = values
    return data


def combine(kind, a, b):
    """Two runs of one configuration (bench.sh repeats the W=1 drains): a
    drain's jobs and seconds add up; a latency's percentiles are averaged,
    weighted by claims, and its maximum is the larger."""
    if kind == "drain":  # jobs/s, seconds
        secs = a[1] + b[1]
        return [(a[0] * a[1] + b[0] * b[1]) / secs, secs]
    if kind == "latency":  # p50, p99, max, claims
        n = a[3] + b[3]
        return [(a[0] * a[3] + b[0] * b[3]) / n, (a[1] * a[3] + b[1] * b[3]) / n, max(a[2], b[2]), n]
    return b


def num(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header, rows):
    out = [row(header), row(["---"] * len(header))]
    out += [row(r) for r in rows]
    return "\n".join(out)


def pair(entry, index):
    """(baton, plain) values of one field, None where a system is missing."""
    def get(system):
        values = entry.get(system)
        return values[index] if values is not None and index < len(values) else None
    return get("baton"), get("plain")


def by_number(key):
    return tuple(int(k) if k.isdigit() else k for k in key)


def drain_table(data):
    rows = []
    order = list(FINISH)
    keys = sorted(data.get("drain", {}), key=lambda k: (int(k[0]), int(k[2]), int(k[1]), order.index(k[3])))
    for jobs, workers, n, finish in keys:
        b, p = pair(data["drain"][(jobs, workers, n, finish)], 0)
        rows.append([f"{int(jobs):,}", workers, n, FINISH[finish], num(b), num(p), ratio(b, p)])
    return table(["backlog", "W", "n", "finish", "baton jobs/s", "baseline jobs/s", "baton/baseline"], rows)


def loop_table(data):
    """The issue's 2x target: baton's one-commit worker loop (complete_and_claim)
    against the baseline's usual loop (claim, then complete: two commits per
    job) and against the baseline's own one-statement loop, at n = 1."""
    drain = data.get("drain", {})
    rows = []
    for jobs, workers, n, finish in sorted(drain, key=by_number):
        if n != "1" or finish != "loop":
            continue
        b, p_loop = pair(drain[(jobs, workers, n, "loop")], 0)
        _, p_two = pair(drain.get((jobs, workers, n, "complete"), {}), 0)
        ceiling = data.get("ceiling", {}).get((workers,), {}).get("pgbench", [None])[0]
        share = f"{b / ceiling:.2f} of {num(ceiling)}" if b and ceiling else "—"
        rows.append([f"{int(jobs):,}", workers, num(b), num(p_two), ratio(b, p_two), num(p_loop), ratio(b, p_loop),
                     share])
    if not rows:
        return ""
    return table(["backlog", "W", "baton complete_and_claim jobs/s", "baseline claim + complete (2 commits)",
                  "ratio", "baseline one-statement loop", "ratio",
                  "share of one-row UPDATE + COMMIT per s (pgbench, same W)"], rows)


def latency_table(data):
    rows = []
    keys = [k for k in data.get("latency", {}) if k[2] == "1" and k[3] == "complete"]
    for key in sorted(keys, key=by_number):
        entry = data["latency"][key]
        for index, label in enumerate(["p50", "p99", "max"]):
            b, p = pair(entry, index)
            rows.append([f"{int(key[0]):,}", key[1], label, num(b, 2), num(p, 2), ratio(b, p)])
    return table(["backlog", "W", "claim", "baton ms", "baseline ms", "baton/baseline"], rows)


def enqueue_table(data):
    rows = []
    for key in sorted(data.get("enqueue", {}), key=lambda k: (list(ENQUEUE).index(k[0]), int(k[1]))):
        kind, threads, rows_n = key
        b, p = pair(data["enqueue"][key], 0)
        rows.append([ENQUEUE[kind], threads, f"{int(rows_n):,}", num(b), num(p), ratio(b, p)])
    return table(["workload", "connections", "rows", "baton rows/s", "baseline rows/s", "baton/baseline"], rows)


def heartbeat_table(data):
    out = []
    for (jobs, calls), entry in data.get("heartbeat", {}).items():
        (bm, pm), (bx, px) = pair(entry, 0), pair(entry, 1)
        (bu, pu), (bh, ph) = pair(entry, 2), pair(entry, 3)
        per = lambda ms: None if ms is None else ms * 1000 / int(jobs)
        hot = lambda h, u: None if not u else 100 * h / u
        rows = [
            [f"ms per call (mean of {calls})", num(bm, 1), num(pm, 1), ratio(bm, pm)],
            ["ms per call (max)", num(bx, 1), num(px, 1), ratio(bx, px)],
            ["µs per lease", num(per(bm), 2), num(per(pm), 2), ratio(bm, pm)],
            ["row updates (n_tup_upd)", num(bu), num(pu), "—"],
            ["HOT updates, % (no index entry written)", num(hot(bh, bu), 1), num(hot(ph, pu), 1), "—"],
        ]
        out.append(f"A worker holding {int(jobs):,} leased jobs renews them all:\n\n"
                   + table(["", "baton", "baseline", "baton/baseline"], rows))
    return "\n\n".join(out)


def churn_table(data):
    churn = data.get("churn", {})
    if not churn:
        return ""
    rows = []
    tenths = sorted(churn, key=by_number)
    for (t,) in tenths:
        e = churn[(t,)]
        (b50, p50), (b99, p99), (bj, pj) = pair(e, 0), pair(e, 1), pair(e, 3)
        rows.append([f"{10 * int(t)}–{10 * int(t) + 10}%", num(b50, 2), num(p50, 2), ratio(b50, p50),
                     num(b99, 2), num(p99, 2), ratio(b99, p99), num(bj), num(pj), ratio(bj, pj)])
    first, last = churn[tenths[0]], churn[tenths[-1]]
    growth = lambda system, i: (last[system][i] / first[system][i]
                                if system in first and system in last and first[system][i] else None)
    cell = lambda x: "—" if x is None else f"{x:.2f}×"
    rows.append(["last tenth / first tenth", cell(growth("baton", 0)), cell(growth("plain", 0)), "",
                 cell(growth("baton", 1)), cell(growth("plain", 1)), "", cell(growth("baton", 3)),
                 cell(growth("plain", 3)), ""])
    out = table(["progress", "claim p50 baton ms", "baseline", "ratio", "claim p99 baton ms", "baseline",
                 "ratio", "baton jobs/s", "baseline", "ratio"], rows)
    for (jobs,), e in data.get("churn_total", {}).items():
        (bs, ps), (bj, pj), (be, pe) = pair(e, 0), pair(e, 1), pair(e, 2)
        out += (f"\n\nAll {int(jobs):,} jobs: baton {num(bj)} jobs/s in {num(bs, 1)} s, baseline {num(pj)} jobs/s "
                f"in {num(ps, 1)} s ({ratio(bj, pj)}); empty polls: baton {num(be)}, baseline {num(pe)}.")
    return out


def aged_table(data):
    """Claim latency of the same drain on a fresh table (the drain section)
    and on the table the churn left, for each system."""
    rows = []
    for key, aged in sorted(data.get("aged_latency", {}).items()):
        fresh = data.get("latency", {}).get(key)
        if not fresh:
            continue
        for index, label in enumerate(["p50", "p99", "max"]):
            (bf, pf), (ba, pa) = pair(fresh, index), pair(aged, index)
            rows.append([label, num(bf, 2), num(ba, 2), ratio(ba, bf), num(pf, 2), num(pa, 2), ratio(pa, pf)])
        jobs, workers, n, _ = key
        title = (f"The {int(jobs):,}-job drain at W={workers}, n={n} (complete per job), on a fresh table and "
                 "again on the table the churn left (no VACUUM):\n\n")
        return title + table(["claim", "baton fresh ms", "baton after churn ms", "growth",
                               "baseline fresh ms", "baseline after churn ms", "growth"], rows)
    return ""


def size_table(data):
    entry = data.get("size", {}).get(())
    if not entry:
        return ""
    mb = lambda x: None if x is None else x / 2**20
    rows = []
    for index, label in enumerate(["table + indexes + TOAST, MB", "table (heap), MB", "indexes, MB"]):
        b, p = pair(entry, index)
        rows.append([label, num(mb(b), 1), num(mb(p), 1), ratio(b, p)])
    for index, label in [(3, "dead tuples (n_dead_tup)"), (4, "autovacuum runs")]:
        b, p = pair(entry, index)
        rows.append([label, num(b), num(p), ratio(b, p) if label.startswith("dead") else "—"])
    return table(["after the churn", "baton._jobs", "plain.jobs", "baton/baseline"], rows)


def plot_data(data, plotdir):
    """drain_n<n>.dat per n, for the smallest backlog: W, then jobs/s of
    baton and baseline for each finish mode."""
    drain = data.get("drain", {})
    if not drain:
        return
    smallest = min(int(k[0]) for k in drain)
    for n in sorted({k[2] for k in drain}, key=int):
        with open(os.path.join(plotdir, f"drain_n{n}.dat"), "w") as f:
            f.write("# W " + " ".join(f"baton_{m} plain_{m}" for m in FINISH) + "\n")
            for w in sorted({k[1] for k in drain if int(k[0]) == smallest and k[2] == n}, key=int):
                cells = [w]
                for m in FINISH:
                    b, p = pair(drain.get((str(smallest), w, n, m), {}), 0)
                    cells += [num(b).replace(",", "") if b else "NaN", num(p).replace(",", "") if p else "NaN"]
                f.write(" ".join(cells) + "\n")


def tables(path, plotdir):
    data = read(path)
    sections = [
        ("Drain: jobs/s until the backlog is empty (higher is better)", drain_table(data)),
        ("The worker loop at n = 1: one commit per job against two (higher is better)", loop_table(data)),
        ("Claim latency during the drain (n = 1, finished with complete; lower is better)", latency_table(data)),
        ("Enqueue: rows/s (higher is better)", enqueue_table(data)),
        ("Heartbeat", heartbeat_table(data)),
        ("Churn: claim latency and throughput as the table ages (default autovacuum)", churn_table(data)),
        ("Claim latency after the churn against a fresh table (lower is better)", aged_table(data)),
        ("Sizes after the churn (no manual VACUUM)", size_table(data)),
    ]
    for title, body in sections:
        if body:
            print(f"### {title}\n\n{body}\n")
    plot_data(data, plotdir)


def splice(doc, section_path):
    """Replaces DOC's text between the bench markers (creating DOC with its
    hand-written sections if it does not exist); the rest is left alone."""
    with open(section_path) as f:
        section = f.read().strip()
    block = f"{BEGIN}\n{section}\n{END}"
    if os.path.exists(doc):
        with open(doc) as f:
            text = f.read()
    else:
        text = ("# Performance\n\n"
                "baton against the plain-SQL queue most applications write, measured by `make bench`\n"
                "(`test/bench.sh`, `test/bench/loadgen.cpp`): the same workloads, in the same run, on the\n"
                "same throwaway cluster with the same settings. `make bench QUICK=1` runs a subset.\n\n"
                f"{BEGIN}\n{END}\n\n"
                "## What we changed and what it gained\n\n"
                "(see issue 5 notes)\n")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "tables":
        tables(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "splice":
        splice(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
