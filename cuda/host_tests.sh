#!/usr/bin/env bash
# Builds and runs cuda/host_tests.cpp (the kernels' per-element formulas on the host, against
# the table the Java CPU backend wrote: cuda/host_tests/formulas.tsv). No GPU, no nvcc needed:
# g++ (or c++, clang++; nvcc -x cu as a last resort). Usage: cuda/host_tests.sh [OUTDIR]
# (default cuda/build). Maven runs it in the test phase of the cuda profile
# (-Dpref4j.hosttests.skip=true or -DskipTests skips it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
bin="$out/host_tests"
cxx=""
for c in ${CXX:-} g++ c++ clang++; do command -v "$c" >/dev/null 2>&1 && { cxx="$c"; break; }; done
if [ -n "$cxx" ]; then
  "$cxx" -std=c++17 -O2 -ffp-contract=off -Wall -Wextra -o "$bin" "$here/host_tests.cpp"
else
  nvcc="${CUDA_HOME:+$CUDA_HOME/bin/}nvcc"
  command -v "$nvcc" >/dev/null 2>&1 || nvcc=/usr/local/cuda/bin/nvcc
  "$nvcc" -x cu -std=c++17 -O2 -o "$bin" "$here/host_tests.cpp"
fi
"$bin" "$here/host_tests/formulas.tsv"
