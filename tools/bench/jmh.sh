#!/usr/bin/env bash
# Runs the JMH benchmarks (building benchmarks.jar if needed) with the JVM flags pref4j
# needs, writes JSON to runs/bench-<UTC time>.json and prints report.py's table.
# Arguments go to JMH; with none, the short settings of docs/benchmarks.md are used
# over all kernel benchmarks (not GptStepBench).
# Examples:
#   tools/bench/jmh.sh                                   # all kernels, short settings
#   tools/bench/jmh.sh MatmulBench -p shape=fwd768 -p threads=1,2 -f 1 -wi 2 -i 3 -w 1s -r 1s
#   tools/bench/jmh.sh -l                                # list benchmarks
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
build_if_needed
cd "$ROOT"
mkdir -p runs
json="runs/bench-$(date -u +%Y%m%dT%H%M%SZ).json"
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=('MatmulBench|AttentionBench|LayerNormBench|LogprobBench|FmaPeakBench' -f 1 -wi 2 -i 3 -w 1s -r 1s)
fi
for a in "${args[@]}"; do
    if [[ "$a" == -l || "$a" == -h || "$a" == -lp ]]; then exec "$JAVA" "${JVM_FLAGS[@]}" -jar "$JAR" "${args[@]}"; fi
done
"$JAVA" "${JVM_FLAGS[@]}" -jar "$JAR" "${args[@]}" -rf json -rff "$json"
echo
echo "== $(date -u +%Y-%m-%dT%H:%MZ)  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus; results in $json"
python3 "$ROOT/tools/bench/report.py" "$json"
