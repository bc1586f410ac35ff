#!/usr/bin/env bash
# run_all.sh - pref4j against PyTorch on one GPU, in one call (SPEC 7, issue 6).
#
#   OUT=/some/dir tools/bench/gpu/run_all.sh          (from a checkout or an unpacked bundle)
#
# 1. pref4j gpu-check (kernels against the CPU reference; its table goes to $OUT/gpu-check.txt)
# 2. tools/bench/gpu/torch_side_by_side.py: ceilings (d2d copy GB/s, bf16 matmul TFLOP/s),
#    DPO step eager + torch.compile, static-KV generation, SDPA fwd+bwd -> $OUT/torch.json
# 3. pref4j bench --device cuda at the SPEC sizes, --peak-gbps = the measured copy ceiling
#    -> $OUT/pref4j.json
# 4. the ratio table against the SPEC targets -> stdout and $OUT/ratios.txt
# With a bundle (tools/bundle/make_bundle.sh; it does not ship tools/): run this script from the
# checkout with PREF4J=/path/to/bundle/pref4j.
# Environment: OUT (default ./bench-out), PREF4J (the launcher; default: ./pref4j beside a
# bundle or the repository's), PYTHON (default python3), BATCH (DPO pairs, default 8),
# STEPS (default 10), WARMUP (default 3), SKIP_CHECK=1, SKIP_COMPILE=1.
# Budget: gpu-check ~1 min, torch ~3-4 min (compile ~1 min), pref4j ~2 min: fits 10 minutes.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
OUT="${OUT:-$PWD/bench-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
BATCH="${BATCH:-8}"; STEPS="${STEPS:-10}"; WARMUP="${WARMUP:-3}"
P4J="${PREF4J:-$root/pref4j}"
[ -x "$P4J" ] || { echo "run_all: no pref4j launcher at $P4J (set PREF4J)" >&2; exit 2; }
export PREF4J_NO_BUILD="${PREF4J_NO_BUILD:-0}"

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv > "$OUT/nvidia-smi.csv" 2>&1 || true
cat "$OUT/nvidia-smi.csv"

if [ "${SKIP_CHECK:-0}" != 1 ]; then
  echo "== gpu-check"
  timeout 150 "$P4J" gpu-check > "$OUT/gpu-check.txt" 2>&1; echo "gpu-check exit $?" | tee -a "$OUT/gpu-check.txt"
  tail -n 2 "$OUT/gpu-check.txt"
fi

echo "== PyTorch"
extra=(); [ "${SKIP_COMPILE:-0}" = 1 ] && extra+=(--no-compile)
timeout 330 "$PY" "$here/torch_side_by_side.py" --batch "$BATCH" --seq 512 --gen-batch 64 --prompt-len 64 --new-tokens 256 \
  --attn-seqs 512,1024,2048 --steps "$STEPS" --warmup "$WARMUP" "${extra[@]}" --json "$OUT/torch.json" 2>&1 | tee "$OUT/torch.txt" | tail -n 15

gbps="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ceilings"]["copy_gbps"])' "$OUT/torch.json" 2>/dev/null || true)"

echo "== pref4j bench"
# bench is a subcommand once registered in Main; until then run the class from the jar.
if "$P4J" bench --help >/dev/null 2>&1; then bench=("$P4J" bench)
else
  bdir="$(cd "$(dirname "$P4J")" && pwd)"
  jar="$(ls "$bdir"/lib/pref4j-*-all.jar "$bdir"/java/target/pref4j-*-all.jar 2>/dev/null | head -n1)"
  java="$bdir/runtime/bin/java"; [ -x "$java" ] || java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  bench=("$java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -cp "$jar" io.pref4j.cli.BenchCommand)
fi
timeout 240 "${bench[@]}" --device cuda --model gpt2-124m --batch "$BATCH" --gen-batch 64 --prompt-len 64 --new-tokens 256 \
  --attn-seqs 512,1024,2048 --steps "$STEPS" --warmup "$WARMUP" ${gbps:+--peak-gbps "$gbps"} --json "$OUT/pref4j.json" 2>&1 | tee "$OUT/pref4j.txt" | tail -n 8

echo "== ratios against SPEC 7"
"$PY" "$here/ratios.py" "$OUT/pref4j.json" "$OUT/torch.json" | tee "$OUT/ratios.txt"
