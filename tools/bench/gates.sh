#!/usr/bin/env bash
# Performance gates: builds benchmarks.jar if needed, runs a short JMH pass over the gated
# benchmarks and checks the ratios in benchmarks/gates.json. Exit 0 = all pass, 1 = a
# ratio below its floor (or a kernel that failed), 2 = could not run.
# Usage: tools/bench/gates.sh [gates.json]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
build_if_needed
cd "$ROOT"
exec "$JAVA" "${JVM_FLAGS[@]}" -cp "$JAR" io.pref4j.bench.Gates "${1:-benchmarks/gates.json}"
