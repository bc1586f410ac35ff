#!/usr/bin/env bash
# pref4j vs PyTorch CPU, side by side in one run (SPEC 7): forward + backward of the same
# small GPT-2 (4 layers, d 256, 4 heads, T 128, batch 8, GPT-2 vocabulary by default) with
# the same number of threads. Runs io.pref4j.bench.GptStepMain and torch_gpt_cpu.py (eager
# attention, then SDPA) and prints a ratio table.
#
# Usage: tools/bench/side_by_side.sh [--threads N] [--vocab V] [--warmup W] [--runs R]
# Environment:
#   PYTHON          python with torch (default /usr/bin/python3)
#   TORCH_BLAS_DIR  a directory holding an optimised libblas.so.3 for PyTorch to load, e.g.
#                   one unpacked from libopenblas0-openmp (apt-get download; dpkg-deb -x)
#                   (default: the first of /usr/lib/x86_64-linux-gnu/openblas-{openmp,pthread}
#                   that exists; Debian's python3-torch otherwise uses whatever libblas.so.3
#                   the system selected, possibly the slow netlib reference)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

threads="$(nproc)"; vocab=50257; warmup=3; runs=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) threads="$2"; shift 2 ;;
        --vocab) vocab="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        *) echo "usage: $0 [--threads N] [--vocab V] [--warmup W] [--runs R]" >&2; exit 2 ;;
    esac
done
PYTHON="${PYTHON:-/usr/bin/python3}"
if [[ -z "${TORCH_BLAS_DIR:-}" ]]; then
    for d in /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/x86_64-linux-gnu/openblas-pthread \
             /usr/lib/aarch64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-pthread; do
        if [[ -f "$d/libblas.so.3" ]]; then TORCH_BLAS_DIR="$d"; break; fi
    done
fi

build_if_needed
cd "$ROOT"
common=(--threads "$threads" --vocab "$vocab" --warmup "$warmup" --runs "$runs")
out="$(mktemp)"; trap 'rm -f "$out"' EXIT

echo "== $(date -u +%Y-%m-%dT%H:%MZ)  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus, threads=$threads"
"$JAVA" "${JVM_FLAGS[@]}" -XX:+UseParallelGC -cp "$JAR" io.pref4j.bench.GptStepMain "${common[@]}" | tee -a "$out"
for extra in "" "--sdpa"; do
    # shellcheck disable=SC2086
    LD_LIBRARY_PATH="${TORCH_BLAS_DIR:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$PYTHON" "$ROOT/tools/bench/torch_gpt_cpu.py" "${common[@]}" $extra | tee -a "$out"
done

echo
"$PYTHON" - "$out" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
base = next((r for r in rows if r["impl"] == "pref4j"), None)
print(f'{"impl":<16}{"threads":>8}{"median ms":>11}{"min ms":>9}{"tokens/s":>10}   pref4j speed-up (median, min)')
for r in rows:
    med, lo = float(r["ms"]), float(r.get("min_ms", r["ms"]))
    if base:
        s1 = med / float(base["ms"])
        s2 = lo / float(base.get("min_ms", base["ms"]))
        sp = f"{s1:.2f}x, {s2:.2f}x"
    else:
        sp = "-"
    print(f'{r["impl"]:<16}{r["threads"]:>8}{med:>11.1f}{lo:>9.1f}{float(r["tokens_per_s"]):>10.0f}   {sp}')
PY
