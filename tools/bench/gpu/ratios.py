#!/usr/bin/env python3
"""Joins pref4j.json (pref4j bench) and torch.json (torch_side_by_side.py) into the SPEC 7 ratio table.

Usage: ratios.py PREF4J_JSON TORCH_JSON. Missing parts print as '-' (a failed run leaves them out).
"""
import json
import sys


def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except Exception as e:
        print("ratios: cannot read %s: %s" % (p, e), file=sys.stderr)
        return {}


def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    p, t = load(argv[1]), load(argv[2])
    rows = []  # (what, value, target, met)

    def add(what, value, target, fmt="%.2fx"):
        if value is None:
            rows.append((what, "-", "%s" % target[0], "not measured"))
        else:
            rows.append((what, fmt % value, target[0], "info" if target[1] == 0 else ("MET" if value >= target[1] else "missed")))

    def ratio(a, b):
        return a / b if a is not None and b else None

    pd = get(p, "dpo", "tokens_per_s")
    add("DPO step vs PyTorch eager", ratio(pd, get(t, "dpo", "eager", "tokens_per_s")), (">= 2x", 2.0))
    add("DPO step vs torch.compile", ratio(pd, get(t, "dpo", "compile", "tokens_per_s")), (">= 1.2x", 1.2))
    peak = get(t, "ceilings", "matmul_tflops")
    add("DPO MFU (datasheet peak)", get(p, "dpo", "mfu"), (">= 50%", 0.5), "%.3f")
    add("DPO FLOP/s / measured bf16 matmul", ratio(get(p, "dpo", "tflops"), peak), ("(info)", 0.0), "%.3f")
    pg = get(p, "generate", "tokens_per_s")
    add("generation vs static-KV loop", ratio(pg, get(t, "generate", "tokens_per_s")), (">= 10x", 10.0))
    ff = get(p, "generate", "floor_fraction")
    gbps = get(t, "ceilings", "copy_gbps")
    if ff is None and get(p, "generate", "floor_bytes") and get(p, "generate", "median_s") and gbps:
        # bench ran without --peak-gbps: the floor at the copy ceiling torch measured
        ff = get(p, "generate", "floor_bytes") / (gbps * 1e9) / get(p, "generate", "median_s")
    add("generation / bandwidth floor", ff, (">= 0.5", 0.5), "%.3f")
    for a in get(p, "attention") or []:
        best = None
        for r in get(t, "attention") or []:
            if r.get("T") == a.get("T") and "tflops" in r:
                best = max(best or 0.0, r["tflops"])
        add("attention f+b T %d vs best SDPA" % a["T"], ratio(a.get("tflops"), best), (">= 0.9x", 0.9))
    print("pref4j: %s | torch: %s (%s)" % (p.get("device", "?"), t.get("device", "?"), t.get("torch", "?")))
    print("ceilings: copy %s GB/s, bf16 matmul %s TFLOP/s" % (
        "%.0f" % get(t, "ceilings", "copy_gbps") if get(t, "ceilings", "copy_gbps") else "-",
        "%.1f" % peak if peak else "-"))
    w = max(len(r[0]) for r in rows)
    print("%-*s  %8s  %8s  %s" % (w, "what", "measured", "target", "status"))
    for r in rows:
        print("%-*s  %8s  %8s  %s" % (w, r[0], r[1], r[2], r[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
