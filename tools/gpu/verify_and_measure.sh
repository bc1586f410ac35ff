#!/usr/bin/env bash
# verify_and_measure.sh - one device call that verifies and measures pref4j on a GPU host
# (issue 12 item 6). Needs the NVIDIA driver and python3 with torch; no JDK, no Maven: the
# Java side comes from the bundle (tools/bundle/make_bundle.sh: a jlink'd Java 25, the jars,
# libpref4j_cuda.so inside the CLI jar, the launchers).
#
#   tools/gpu/verify_and_measure.sh [--dry-run] [--bundle FILE.tar.xz|DIR] [RESULT_DIR]
#
# RESULT_DIR: the folder for the result files (default: $OUT when set, else ./gpu-out).
# Bundle (first found): --bundle, $PREF4J_BUNDLE, target/pref4j-bundle-linux-x86_64.tar.xz
# (or .tar.gz), an unpacked bundle/ at the repository root. An archive is unpacked under
# $TMPDIR (default /tmp).
#
# Stages, in order, within one overall deadline (DEADLINE_S, default 540 s from the start;
# each stage's timeout is what is left minus what the later stages need at least; a stage
# with too little time left is skipped and says so). Each writes its result file as soon as
# it finishes:
#   device.txt       nvidia-smi, the device, the cuBLAS found, the bundle; then the SASS
#                    check: HMMA / HGMMA / FFMA counts per kernel of libpref4j_cuda.so
#                    (cuobjdump --dump-sass)
#   gpu-check.txt    pref4j gpu-check (every kernel against the CPU reference), then again
#                    with the smallest log-prob chunk buffer (-Dpref4j.cuda.logprobChunkMiB=0:
#                    64 Ki floats, so the gather runs over many vocabulary chunks and row
#                    groups) on the log-prob and step rows
#   sanitizer.txt    compute-sanitizer memcheck and racecheck over the attention, sampling
#                    and log-prob rows (gpu-check --only, small shapes, tiny chunks)
#   bench.txt        the logs of pref4j bench and of the PyTorch script
#   pref4j-fp32.json pref4j bench --device cuda (GPT-2 124M: DPO step, generation, attention)
#   pref4j-bf16.json the same with --precision bf16, once bench has that option (skipped today)
#   torch.json       tools/bench/gpu/torch_side_by_side.py, rewritten after every measurement:
#                    eager first, torch.compile only when >= 120 s are left
#   summary.txt      one line per stage, the ratios against SPEC 7; also printed last
# --dry-run rehearses every stage that can run without a GPU: the launcher's --help, gpu-check's
# no-GPU path (exit 2) and its --cpu-vs-cpu table on small rows, bench's --help, the torch
# script's --cpu tiny shape (when torch imports), the summary.
# Environment: OUT, PREF4J_BUNDLE, DEADLINE_S, PYTHON (default python3), TMPDIR,
# CUBLAS (a libcublas.so.13 to use instead of searching), BENCH_STEPS (default 5).
set -uo pipefail
t0=$(date +%s)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dry=0
bundle_arg=""
res_arg=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --bundle) bundle_arg="$2"; shift ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    -*) echo "verify_and_measure: unknown option $1" >&2; exit 2 ;;
    *) res_arg="$1" ;;
  esac
  shift
done
R="${res_arg:-${OUT:-$PWD/gpu-out}}"
mkdir -p "$R"
R="$(cd "$R" && pwd)"
DEADLINE=$(( t0 + ${DEADLINE_S:-540} ))
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
STEPS="${BENCH_STEPS:-5}"
SUMMARY="$R/summary.txt"
: > "$SUMMARY"
work="${TMPDIR:-/tmp}/pref4j-vm.$$"
mkdir -p "$work"

left() { echo $(( DEADLINE - $(date +%s) )); }
note() { echo "$*" | tee -a "$SUMMARY"; }
# budget CAP RESERVE: seconds for a stage = min(CAP, time left - RESERVE), printed; 0 if < 5.
budget() {
  local l b
  l=$(left); b=$(( l - $2 )); [ "$b" -gt "$1" ] && b=$1
  [ "$b" -lt 5 ] && b=0
  echo "$b"
}
# run_for SECS CMD...: CMD under a timeout of SECS (>0); with SECS 0 it does not run (status 125).
run_for() {
  local t="$1"; shift
  if [ "$t" -le 0 ]; then echo "(not run: no time left)"; return 125; fi
  timeout -k 5 "$t" "$@"
}
hdr() { printf '\n== %s (t+%ds, %ds left)\n' "$1" $(( $(date +%s) - t0 )) "$(left)"; }

echo "verify_and_measure: results in $R, deadline $(( DEADLINE - t0 )) s$([ $dry = 1 ] && echo ', DRY RUN (no GPU)')"

# ------------------------------------------------------------------ the bundle
bundle_src="${bundle_arg:-${PREF4J_BUNDLE:-}}"
if [ -z "$bundle_src" ]; then
  for c in "$root"/target/pref4j-bundle-linux-x86_64.tar.xz "$root"/target/pref4j-bundle-linux-x86_64.tar.gz \
           "$root"/target/pref4j-bundle-*.tar.* "$root/bundle"; do
    [ -e "$c" ] && { bundle_src="$c"; break; }
  done
fi
B=""
if [ -d "$bundle_src" ] && [ -x "$bundle_src/runtime/bin/java" ]; then
  B="$(cd "$bundle_src" && pwd)"
elif [ -f "$bundle_src" ]; then
  mkdir -p "$work/unpacked"
  if tar -xf "$bundle_src" -C "$work/unpacked"; then
    B="$(dirname "$(ls -d "$work"/unpacked/*/runtime/bin/java 2>/dev/null | head -n1)")"
    B="${B%/runtime/bin}"
  fi
fi
if [ -z "$B" ] || [ ! -x "$B/runtime/bin/java" ]; then
  note "bundle: NOT FOUND (looked at '${bundle_src:-target/pref4j-bundle-*.tar.xz, bundle/}'); build it with tools/bundle/make_bundle.sh and carry the .tar.xz"
  exit 2
fi
JAVA="$B/runtime/bin/java"
JAR="$(ls "$B"/lib/pref4j-*-all.jar 2>/dev/null | head -n1)"
P4J="$B/pref4j"
JFLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xss4m)
note "bundle: $B (from ${bundle_src}, unpacked in $(( $(date +%s) - t0 )) s)"

# ------------------------------------------------------------------ cuBLAS
find_cublas() {
  local c d
  [ -n "${CUBLAS:-}" ] && [ -f "$CUBLAS" ] && { echo "$CUBLAS"; return; }
  for d in ${CUDA_HOME:+"$CUDA_HOME/lib64"} ${CUDA_HOME:+"$CUDA_HOME/targets/x86_64-linux/lib"} \
           /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    [ -f "$d/libcublas.so.13" ] && { echo "$d/libcublas.so.13"; return; }
  done
  c="$(ldconfig -p 2>/dev/null | awk '/libcublas\.so\.13 /{print $NF; exit}')"
  [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return; }
  # the torch installation's nvidia wheels (nvidia/cublas/lib or, in CUDA 13 wheels, nvidia/cu13/lib)
  for d in $("$PY" -c 'import site,sys; print("\n".join(site.getsitepackages()+[site.getusersitepackages()]+sys.path))' 2>/dev/null | sort -u); do
    [ -d "$d/nvidia" ] || continue
    c="$(find "$d/nvidia" -maxdepth 4 -name 'libcublas.so.13*' ! -name '*Lt*' 2>/dev/null | head -n1)"
    [ -n "$c" ] && { echo "$c"; return; }
  done
}
CUB="$(find_cublas)"
if [ -n "$CUB" ]; then
  export PREF4J_CUBLAS="$CUB"
  export LD_LIBRARY_PATH="$(dirname "$CUB")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"  # for libcublasLt beside it
  note "cublas: $CUB (PREF4J_CUBLAS)"
else
  note "cublas: libcublas.so.13 NOT FOUND (CUDA_HOME, system path, torch's nvidia wheels); matrix products will fail"
fi

# ------------------------------------------------------------------ 1. device + SASS -> device.txt
D="$R/device.txt"
hdr "device"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(uname -srm)"
  if command -v nvidia-smi >/dev/null; then
    timeout 20 nvidia-smi 2>&1
    timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit,compute_cap --format=csv 2>&1
  else
    echo "nvidia-smi: not here"
  fi
  echo "java: $("$JAVA" -version 2>&1 | head -n1)"
  echo "jar: $JAR"
  echo "cublas: ${CUB:-not found}"
  echo "torch: $(timeout 60 "$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))' 2>&1 | tail -n1)"
} > "$D" 2>&1
head -n 40 "$D"
gpu_name="$(grep -m1 -o 'NVIDIA [A-Z][A-Za-z0-9 -]*' "$D" | head -n1)"
note "device: ${gpu_name:-no GPU seen}"

hdr "SASS check"
{
  echo; echo "== SASS check (cuobjdump --dump-sass, per kernel: HGMMA HMMA FFMA instruction counts)"
  lib="$work/libpref4j_cuda.so"
  (cd "$work" && "$PY" -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); open("libpref4j_cuda.so","wb").write(z.read("native/linux-x86_64/libpref4j_cuda.so"))' "$JAR") 2>&1 || echo "no libpref4j_cuda.so in $JAR"
  cuob="$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null || true)"
  if [ -z "$cuob" ]; then echo "cuobjdump: not here; SASS check skipped"
  elif [ -f "$lib" ]; then
    b=$(budget 40 100)
    run_for "$b" "$cuob" --dump-sass "$lib" > "$work/sass.txt" 2>&1 || echo "cuobjdump: exit $? $(head -c 300 "$work/sass.txt")"
    awk '
      /arch = sm_/ { arch = $NF }
      /Function : / { fn = $3; key = arch " " fn; order[++n] = key }
      /HGMMA/ { hg[key]++ } / HMMA/ { hm[key]++ } /FFMA/ { ff[key]++ }
      END {
        printf "%-8s %-70s %6s %6s %6s\n", "arch", "kernel", "HGMMA", "HMMA", "FFMA"
        for (i = 1; i <= n; i++) { k = order[i]; split(k, p, " ")
          printf "%-8s %-70s %6d %6d %6d\n", p[1], substr(p[2], 1, 70), hg[k], hm[k], ff[k]
          thg += hg[k]; thm += hm[k] }
        printf "total: %d kernels, HGMMA %d, HMMA %d\n", n, thg, thm }' "$work/sass.txt"
  fi
} >> "$D" 2>&1
tail -n 3 "$D"
note "sass: $(grep '^total:' "$D" || grep -m1 '^cuobjdump:\|^no libpref4j' "$D" || echo 'no result')"

# ------------------------------------------------------------------ 2. gpu-check -> gpu-check.txt
G="$R/gpu-check.txt"
gpucheck() { # TIMEOUT EXTRA_JAVA_OPTS ARGS...
  local t="$1" opts="$2"; shift 2
  # shellcheck disable=SC2086
  run_for "$t" "$JAVA" "${JFLAGS[@]}" $opts -cp "$JAR" io.pref4j.cli.GpuCheckCommand "$@" 2>&1
}
TINY="-Dpref4j.cuda.logprobChunkMiB=0"
hdr "gpu-check"
: > "$G"
if [ "$dry" = 1 ]; then
  echo "== launcher: pref4j --help" >> "$G"
  timeout 60 "$P4J" --help >> "$G" 2>&1; echo "pref4j --help exit $?" >> "$G"
  echo "== gpu-check (expect exit 2: no GPU)" >> "$G"
  gpucheck 60 "" >> "$G"; rc=$?; echo "gpu-check exit $rc" >> "$G"
  note "gpu-check (no GPU path): exit $rc$([ $rc = 2 ] && echo ' as expected')"
  b=$(budget 240 60)
  echo "== gpu-check --cpu-vs-cpu (the checker on a machine without a GPU; small rows)" >> "$G"
  gpucheck "$b" "" --cpu-vs-cpu --seed 1 --only '^(fill|matmul|gelu|layernorm|attentionForward\+Backward B 2 T 37|kvCache|logprobForward\+Backward N 45|adamw|sample|dpo)' >> "$G"
  rc=$?; echo "gpu-check --cpu-vs-cpu exit $rc" >> "$G"
  note "gpu-check --cpu-vs-cpu: exit $rc, $(grep -m1 'gpu-check: all\|FAIL (repro' "$G" || echo 'no verdict')"
else
  b=$(budget 120 300)
  if [ "$b" -gt 0 ]; then
    echo "== gpu-check (default)" >> "$G"
    gpucheck "$b" "" >> "$G"; rc=$?; echo "gpu-check exit $rc" >> "$G"
    note "gpu-check: exit $rc, $(grep 'gpu-check: all\|FAIL (repro\|no usable GPU' "$G" | tail -n1)"
    grep 'FAIL' "$G" | head -n 20
  else note "gpu-check: SKIPPED (time)"; fi
  b=$(budget 60 260)
  if [ "$b" -gt 0 ]; then
    echo "== gpu-check with tiny log-prob chunks ($TINY)" >> "$G"
    gpucheck "$b" "$TINY" --only 'logprob|gpt.*step|llama.*step' --repeat 2 >> "$G"; rc=$?; echo "gpu-check tiny chunks exit $rc" >> "$G"
    note "gpu-check tiny chunks: exit $rc, $(grep 'gpu-check: all\|FAIL (repro\|no usable GPU' "$G" | tail -n1)"
  else note "gpu-check tiny chunks: SKIPPED (time)"; fi
fi
tail -n 3 "$G"

# ------------------------------------------------------------------ 3. compute-sanitizer -> sanitizer.txt
S="$R/sanitizer.txt"
hdr "compute-sanitizer"
SAN_ONLY='^(attentionForward\+Backward B (2 T 37|1 T 129) |gqa attentionForward\+Backward B 2 T (29|70) |kvCache|sample|logprobForward\+Backward N 300 )'
san="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
: > "$S"
if [ -z "$san" ] || [ "$dry" = 1 ]; then
  echo "compute-sanitizer: ${san:-not here}$([ $dry = 1 ] && echo ' (dry run: skipped)')" >> "$S"
  note "sanitizer: skipped (${san:+dry run}${san:-not here})"
else
  for tool in memcheck racecheck; do
    b=$(budget 90 $([ $tool = memcheck ] && echo 200 || echo 160))
    if [ "$b" -eq 0 ]; then note "sanitizer $tool: SKIPPED (time)"; continue; fi
    echo "== compute-sanitizer --tool $tool (gpu-check --only '$SAN_ONLY', tiny chunks)" >> "$S"
    # shellcheck disable=SC2086
    run_for "$b" "$san" --tool "$tool" --target-processes all --print-limit 20 \
      "$JAVA" "${JFLAGS[@]}" $TINY -cp "$JAR" io.pref4j.cli.GpuCheckCommand --seed 7 --only "$SAN_ONLY" >> "$S" 2>&1
    rc=$?; echo "$tool exit $rc" >> "$S"
    note "sanitizer $tool: exit $rc, $(grep 'ERROR SUMMARY\|RACECHECK SUMMARY' "$S" | tail -n1)"
  done
fi

# ------------------------------------------------------------------ 4. pref4j bench -> pref4j-*.json, bench.txt
L="$R/bench.txt"
hdr "pref4j bench"
: > "$L"
bench_args=(--device cuda --model gpt2-124m --batch 8 --gen-batch 64 --prompt-len 64 --new-tokens 256
            --attn-seqs 512,1024,2048 --steps "$STEPS" --warmup 2)
has_precision=0
"$JAVA" "${JFLAGS[@]}" -cp "$JAR" io.pref4j.cli.BenchCommand --help 2>&1 | grep -q -- '--precision' && has_precision=1
if [ "$dry" = 1 ]; then
  echo "== pref4j bench --help" >> "$L"
  timeout 60 "$P4J" bench --help >> "$L" 2>&1; rc=$?; echo "bench --help exit $rc" >> "$L"
  b=$(budget 120 60)
  echo "== pref4j bench --device cpu --model small (rehearsal)" >> "$L"
  run_for "$b" "$P4J" bench --device cpu --model small --batch 1 --seq 32 --gen-batch 2 --prompt-len 4 --new-tokens 4 \
      --steps 1 --warmup 0 --json "$R/pref4j-fp32.json" >> "$L" 2>&1
  rc=$?; echo "bench (cpu, small) exit $rc" >> "$L"
  note "bench (dry: cpu, small): exit $rc$([ -s "$R/pref4j-fp32.json" ] && echo ', pref4j-fp32.json written')"
else
  b=$(budget 150 130)
  if [ "$b" -gt 0 ]; then
    echo "== pref4j bench fp32" >> "$L"
    run_for "$b" "$P4J" bench "${bench_args[@]}" $([ $has_precision = 1 ] && echo --precision fp32) \
      --json "$R/pref4j-fp32.json" >> "$L" 2>&1
    rc=$?; echo "bench fp32 exit $rc" >> "$L"; note "bench fp32: exit $rc"
    tail -n 8 "$L"
  else note "bench fp32: SKIPPED (time)"; fi
  if [ "$has_precision" = 1 ]; then
    b=$(budget 120 130)
    if [ "$b" -gt 0 ]; then
      echo "== pref4j bench bf16" >> "$L"
      run_for "$b" "$P4J" bench "${bench_args[@]}" --precision bf16 --json "$R/pref4j-bf16.json" >> "$L" 2>&1
      rc=$?; echo "bench bf16 exit $rc" >> "$L"; note "bench bf16: exit $rc"
    else note "bench bf16: SKIPPED (time)"; fi
  else
    note "bench bf16: SKIPPED (pref4j bench has no --precision option yet)"
  fi
fi

# ------------------------------------------------------------------ 5. PyTorch -> torch.json
T="$R/torch.json"
hdr "PyTorch side by side"
tscript="$root/tools/bench/gpu/torch_side_by_side.py"
if ! timeout 60 "$PY" -c 'import torch' >/dev/null 2>&1; then
  note "torch: SKIPPED (python3 cannot import torch here)"
elif [ "$dry" = 1 ]; then
  b=$(budget 120 15)
  echo "== torch_side_by_side.py --cpu (rehearsal)" >> "$L"
  run_for "$b" "$PY" "$tscript" --cpu --json "$T" >> "$L" 2>&1; rc=$?
  note "torch (dry: --cpu tiny): exit $rc"
else
  b=$(budget 200 15)
  if [ "$b" -gt 0 ]; then
    echo "== torch_side_by_side.py eager" >> "$L"
    run_for "$b" "$PY" "$tscript" --no-compile --steps 10 --warmup 3 --json "$T" >> "$L" 2>&1; rc=$?
    note "torch eager: exit $rc$(grep -q '"complete": true' "$T" 2>/dev/null || echo ' (incomplete: partial torch.json)')"
  else note "torch eager: SKIPPED (time)"; fi
  if [ "$(left)" -ge 120 ]; then
    b=$(budget 150 15)
    echo "== torch_side_by_side.py torch.compile (DPO step only)" >> "$L"
    run_for "$b" "$PY" "$tscript" --what dpo --compile-only --steps 10 --warmup 3 --json "$work/torch-compile.json" >> "$L" 2>&1; rc=$?
    "$PY" - "$T" "$work/torch-compile.json" <<'EOF' >> "$L" 2>&1
import json, sys
t = json.load(open(sys.argv[1]))
try:
    c = json.load(open(sys.argv[2]))
    t.setdefault("dpo", {})["compile"] = c.get("dpo", {}).get("compile", {"error": "no compile result"})
except Exception as e:
    t.setdefault("dpo", {})["compile"] = {"error": "compile run left no JSON: %s" % e}
json.dump(t, open(sys.argv[1], "w"), indent=2)
EOF
    note "torch compile: exit $rc"
  else
    note "torch compile: SKIPPED ($(left) s left, needs 120)"
  fi
fi

# ------------------------------------------------------------------ 6. summary
hdr "summary"
if [ -s "$R/pref4j-fp32.json" ] || [ -s "$T" ]; then
  echo "-- ratios against SPEC 7 (pref4j fp32 vs torch)$([ $dry = 1 ] && echo '; dry run: CPU numbers, meaningless')" >> "$SUMMARY"
  timeout 20 "$PY" "$root/tools/bench/gpu/ratios.py" "$R/pref4j-fp32.json" "$T" >> "$SUMMARY" 2>&1 || echo "ratios.py failed" >> "$SUMMARY"
fi
echo "total: $(( $(date +%s) - t0 )) s of $(( DEADLINE - t0 )); files: $(cd "$R" && ls | tr '\n' ' ')" >> "$SUMMARY"
rm -rf "$work"
echo
echo "==================== verify_and_measure summary ===================="
cat "$SUMMARY"
