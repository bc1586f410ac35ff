#!/usr/bin/env python3
"""Prints a table from JMH JSON results (java -jar benchmarks.jar ... -rf json -rff FILE).

For every benchmark: its params, the primary score (ops/s), the work rate JMH reports
beside it (gflop -> GFLOP/s, gbyte -> GB/s), the ratio to its naive counterpart (the
benchmark named <method>Naive in the same class with the same params, threads aside) and,
when FmaPeakBench results are in one of the files, the GFLOP/s as a fraction of the FMA
peak measured with the same number of threads (1 thread: peak1; more: peakAll).

Usage: report.py RESULT.json [MORE.json ...] [--markdown]
Only the standard library is needed.
"""
import json
import sys


def load(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows.extend(json.load(f))
    return rows


def main(argv):
    markdown = "--markdown" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        print(__doc__)
        return 2
    results = load(paths)
    recs = []
    for r in results:
        cls, method = r["benchmark"].rsplit(".", 1)
        cls = cls.rsplit(".", 1)[-1]
        params = dict(r.get("params") or {})
        sec = r.get("secondaryMetrics") or {}
        metric, unit = None, ""
        for name, u in (("gflop", "GFLOP/s"), ("gbyte", "GB/s"), ("tokens", "tokens/s")):
            if name in sec:
                metric, unit = sec[name]["score"], u
        recs.append(dict(cls=cls, method=method, params=params, threads=r.get("threads", 1),
                         score=r["primaryMetric"]["score"], unit=r["primaryMetric"]["scoreUnit"],
                         rate=metric, rate_unit=unit))

    def key(rec):
        p = {k: v for k, v in rec["params"].items() if k != "threads"}
        return (rec["cls"], rec["method"], tuple(sorted(p.items())))

    by_key = {key(r): r for r in recs}
    peak = {}
    for r in recs:
        if r["cls"] == "FmaPeakBench" and r["rate"]:
            peak[1 if r["method"] == "peak1" else r["threads"]] = r["rate"]

    head = ["benchmark", "params", "threads", "score", "rate", "x naive", "of peak"]
    table = []
    for r in recs:
        p = {k: v for k, v in r["params"].items() if k != "threads"}
        threads = int(r["params"].get("threads", r["threads"]))
        if r["cls"] == "FmaPeakBench":
            threads = r["threads"]
        naive = None
        if not r["method"].endswith("Naive") and r["cls"] != "FmaPeakBench":
            n = by_key.get((r["cls"], r["method"] + "Naive", tuple(sorted(p.items()))))
            if n and n["rate"] and r["rate"]:
                naive = r["rate"] / n["rate"]
        frac = None
        if r["rate_unit"] == "GFLOP/s" and r["cls"] != "FmaPeakBench" and not r["method"].endswith("Naive"):
            pk = peak.get(threads) or (peak.get(max(peak)) if peak and threads > 1 else None)
            if pk:
                frac = r["rate"] / pk
        table.append([
            f'{r["cls"]}.{r["method"]}',
            " ".join(f"{k}={v}" for k, v in sorted(p.items())),
            str(threads if not r["method"].endswith("Naive") else 1),
            f'{r["score"]:.4g} {r["unit"]}',
            f'{r["rate"]:.2f} {r["rate_unit"]}' if r["rate"] is not None else "",
            f"{naive:.1f}x" if naive else "",
            f"{100 * frac:.0f}%" if frac else "",
        ])
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(head)]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for row in table:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
