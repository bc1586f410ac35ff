#!/usr/bin/env bash
# pref4j vs PyTorch CPU, side by side in one run (SPEC 7), on a Llama-family model: the
# forward + backward of the SmolLM2-135M shape (30 layers, d 576, 9 heads, 3 kv heads,
# head dim 64, intermediate 1536, vocabulary 49152, tied head, rope theta 1e5) at batch 4,
# T 256, or (--dpo) a DPO step (policy on chosen + rejected = batch sequences, given
# reference log-probs, AdamW). Runs io.pref4j.bench.LlamaStepMain and torch_llama_cpu.py
# alternately (pref4j, PyTorch, pref4j, PyTorch, ... for --rounds rounds) at each thread
# count, then prints a table: median and min ms/step over all timed steps of all rounds,
# tokens/s, process CPU time / wall time, peak RSS, and the ratio PyTorch time / pref4j time
# (> 1 = pref4j faster). A side whose CPU / wall exceeds threads x 1.1 in any round is flagged
# and its ratio is marked refused.
#
# Usage: tools/bench/llama_side_by_side.sh [--dpo] [--threads-list "1 2"] [--rounds 2]
#            [--warmup 2] [--runs 5] [--pin] [--layers L] [--hidden C] [--heads H] [--kv-heads K]
#            [--head-dim D] [--intermediate I] [--vocab V] [--seq T] [--batch B] [--rope-theta X] [--untied]
#        tools/bench/llama_side_by_side.sh --check
#   --pin    run each side under taskset on CPUs 0..threads-1 (both sides alike)
#   --check  no timing: on a tiny shape (2 layers, d 64, 4 heads / 2 kv, vocab 512, T 32, batch 4,
#            1 thread) pref4j writes its initial weights and inputs, PyTorch loads them, and the
#            first step's loss and gradient norm are compared (fwd+bwd tied, fwd+bwd untied, DPO);
#            exit 1 when they differ by more than 1e-5 (loss) / 1e-4 (gradient norm) relative
# Environment:
#   PYTHON          python with torch (default /usr/bin/python3)
#   TORCH_BLAS_DIR  directory with the libblas.so.3 PyTorch should load (default: the first of
#                   /usr/lib/*/openblas-openmp, then openblas-pthread, that exists)
#   LOG             also keep the raw output of every run in this file
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

threads_list="1 2"; rounds=2; warmup=2; runs=5; pin=0; check=0; dpo=()
shape=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dpo) dpo=(--dpo); shift ;;
        --threads-list) threads_list="$2"; shift 2 ;;
        --threads) threads_list="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --pin) pin=1; shift ;;
        --check) check=1; shift ;;
        --untied) shape+=(--untied); shift ;;
        --layers|--hidden|--heads|--kv-heads|--head-dim|--intermediate|--vocab|--seq|--batch|--rope-theta)
            shape+=("$1" "$2"); shift 2 ;;
        *) sed -n '/^# Usage/,/^#   LOG/p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
    esac
done
if (( runs < 5 && check == 0 )); then echo "note: --runs $runs is below the 5 timed steps SPEC 7 asks for" >&2; fi

PYTHON="${PYTHON:-/usr/bin/python3}"
if [[ -z "${TORCH_BLAS_DIR:-}" ]]; then
    for d in /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp \
             /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/aarch64-linux-gnu/openblas-pthread; do
        if [[ -f "$d/libblas.so.3" ]]; then TORCH_BLAS_DIR="$d"; break; fi
    done
fi
if [[ -z "${TORCH_BLAS_DIR:-}" ]]; then
    echo "WARNING: no OpenBLAS found (install libopenblas0-openmp or set TORCH_BLAS_DIR); PyTorch will use" \
         "whatever libblas.so.3 the system selected" >&2
elif [[ "$TORCH_BLAS_DIR" != *openmp* ]]; then
    echo "WARNING: TORCH_BLAS_DIR=$TORCH_BLAS_DIR is not the OpenMP build of OpenBLAS" >&2
fi

build_if_needed
cd "$ROOT"
out="$(mktemp)"; work="$(mktemp -d)"; trap 'rm -rf "$out" "$work"' EXIT

# One side, one run: $1 = pref4j | pytorch, $2 = threads, the rest = arguments. Output goes to stdout and $out.
run_side() {
    local side="$1" n="$2"; shift 2
    local prefix=()
    if (( pin )); then prefix=(taskset -c "0-$((n - 1))"); fi
    local rc
    set +o errexit
    if [[ "$side" == pref4j ]]; then
        OMP_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" "${prefix[@]}" "$JAVA" "${JVM_FLAGS[@]}" -XX:+UseParallelGC \
            -XX:ParallelGCThreads="$n" -cp "$JAR" io.pref4j.bench.LlamaStepMain --threads "$n" "$@" 2>&1 | tee -a "$out"
    else
        LD_LIBRARY_PATH="${TORCH_BLAS_DIR:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OMP_NUM_THREADS="$n" OPENBLAS_NUM_THREADS="$n" \
            "${prefix[@]}" "$PYTHON" "$ROOT/tools/bench/torch_llama_cpu.py" --threads "$n" "$@" 2>&1 | tee -a "$out"
    fi
    rc=${PIPESTATUS[0]}
    set -o errexit
    if (( rc != 0 )); then echo "FAILED side=$side threads=$n exit=$rc" | tee -a "$out"; fi
    if [[ -n "${LOG:-}" ]]; then cat "$out" > "$LOG"; fi
}

torch_version="$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "not importable")"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)  (timings are only meaningful on an otherwise idle machine)"
echo "   java: $("$JAVA" -version 2>&1 | sed -n 2p)   pytorch: $torch_version via $PYTHON   TORCH_BLAS_DIR=${TORCH_BLAS_DIR:-none}"

if (( check )); then
    tiny=(--layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 128 --vocab 512 --seq 32 --batch 4 --warmup 1 --runs 1)
    echo "   check: same weights and inputs on both sides, tiny shape: ${tiny[*]}, 1 thread"
    : > "$out"
    i=0
    for variant in "" "--untied" "--dpo"; do
        i=$((i + 1))
        # shellcheck disable=SC2086
        run_side pref4j 1 "${tiny[@]}" $variant --save "$work/m$i"
        if [[ -f "$work/m$i/model.safetensors" ]]; then
            pydpo=(); if [[ "$variant" == --dpo ]]; then pydpo=(--dpo); fi
            run_side pytorch 1 "${tiny[@]}" --weights "$work/m$i" "${pydpo[@]}"
        fi
        echo "VARIANT ${variant:-tied}" >> "$out"
    done
    echo
    "$PYTHON" - "$out" <<'PY'
import sys
groups, cur = [], []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        cur.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    elif line.startswith("FAILED "):
        cur.append({"failed": line.strip()})
    elif line.startswith("VARIANT "):
        groups.append((line.split()[1], cur)); cur = []
ok = True
print(f'{"variant":<9}{"mode":<6}{"pref4j loss0":>16}{"pytorch loss0":>16}{"rel":>10}{"pref4j gnorm0":>16}{"pytorch gnorm0":>16}{"rel":>10}  result')
for name, rows in groups:
    p = next((r for r in rows if r.get("impl") == "pref4j"), None)
    t = next((r for r in rows if r.get("impl") == "pytorch"), None)
    if not p or not t:
        why = "; ".join(r["failed"] for r in rows if "failed" in r) or "no RESULT line"
        print(f"{name:<9}{'':<6}  MISSING ({why})"); ok = False; continue
    l1, l2, g1, g2 = (float(p["loss0"]), float(t["loss0"]), float(p["gnorm0"]), float(t["gnorm0"]))
    rl, rg = abs(l1 - l2) / max(abs(l2), 1e-30), abs(g1 - g2) / max(abs(g2), 1e-30)
    good = rl <= 1e-5 and rg <= 1e-4
    ok &= good
    print(f'{name:<9}{p["mode"]:<6}{l1:>16.9g}{l2:>16.9g}{rl:>10.1e}{g1:>16.9g}{g2:>16.9g}{rg:>10.1e}  {"ok" if good else "DIFFER"}')
print("check: " + ("the two sides agree" if ok else "FAILED"))
sys.exit(0 if ok else 1)
PY
    exit $?
fi

common=("${shape[@]}" "${dpo[@]}" --warmup "$warmup" --runs "$runs")
echo "   mode: ${dpo[*]:-fwd+bwd}   shape: ${shape[*]:-SmolLM2-135M defaults, batch 4, T 256}   threads: $threads_list   rounds: $rounds (alternating)" \
     "  warm-up $warmup, timed $runs per run   pinned: $([[ $pin == 1 ]] && echo "taskset 0..threads-1" || echo no)"
echo "   PyTorch env: LD_LIBRARY_PATH=${TORCH_BLAS_DIR:-} OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=torch.set_num_threads=threads; pref4j: CpuKernels(threads), -XX:ParallelGCThreads=threads"
for n in $threads_list; do
    for ((r = 1; r <= rounds; r++)); do
        echo "-- threads $n, round $r/$rounds: pref4j"
        run_side pref4j "$n" "${common[@]}"
        echo "-- threads $n, round $r/$rounds: pytorch"
        run_side pytorch "$n" "${common[@]}"
    done
done
echo "   load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
"$PYTHON" - "$out" <<'PY'
import statistics
import sys
runs, failed = {}, []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        r = dict(kv.split("=", 1) for kv in line.split()[1:])
        if "times_ms" in r:
            runs.setdefault((r["impl"], int(r["threads"])), []).append(r)
    elif line.startswith("FAILED "):
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        failed.append((f["side"], int(f["threads"])))


def agg(rs):
    t = [float(x) for r in rs for x in r["times_ms"].split(",")]
    med = statistics.median(t)
    tok = float(rs[0]["tokens_per_s"]) * float(rs[0]["ms"]) / med  # tokens per step / median
    return dict(med=med, min=min(t), n=len(t), runs=len(rs), tps=tok,
                cpu=max(float(r["cpu_wall"]) for r in rs), flagged=any(r["flagged"] == "1" for r in rs),
                rss=max(float(r["rss_mib"]) for r in rs), loss=rs[0]["loss0"], mode=rs[0]["mode"])


threads = sorted({n for _, n in runs} | {n for _, n in failed})
print(f'{"side":<10}{"threads":>8}{"median ms":>11}{"min ms":>10}{"steps":>7}{"tokens/s":>10}{"cpu/wall":>10}{"peak RSS MiB":>14}{"first loss":>12}  status')
ratios = []
for n in threads:
    a = {}
    for side in ("pref4j", "pytorch"):
        rs = runs.get((side, n))
        if not rs:
            print(f'{side:<10}{n:>8}  MISSING{" (failed)" if (side, n) in failed else ""}')
            continue
        s = a[side] = agg(rs)
        status = f"FLAGGED: cpu/wall above {n * 1.1:.2f}" if s["flagged"] else "ok"
        if (side, n) in failed:
            status += f", {sum(1 for f in failed if f == (side, n))} run(s) failed"
        print(f'{side:<10}{n:>8}{s["med"]:>11.1f}{s["min"]:>10.1f}{s["n"]:>7}{s["tps"]:>10.0f}{s["cpu"]:>10.2f}{s["rss"]:>14.0f}{float(s["loss"]):>12.4f}  {status}')
    ratios.append((n, a))
print()
print(f'{"threads":>7}  {"PyTorch / pref4j (median)":>26}  {"(min)":>7}   (> 1 = pref4j faster)')
for n, a in ratios:
    if "pref4j" not in a or "pytorch" not in a:
        print(f'{n:>7}  {"missing":>26}')
    elif a["pref4j"]["flagged"] or a["pytorch"]["flagged"]:
        who = " and ".join(s for s in ("pref4j", "pytorch") if a[s]["flagged"])
        print(f'{n:>7}  {"refused":>26}  {"":>7}   ({who} used more than threads x 1.1 CPUs)')
    else:
        print(f'{n:>7}  {a["pytorch"]["med"] / a["pref4j"]["med"]:>25.2f}x  {a["pytorch"]["min"] / a["pref4j"]["min"]:>6.2f}x')
PY
