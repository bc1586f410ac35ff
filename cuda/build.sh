#!/usr/bin/env bash
# Builds libpref4j_cuda.so from cuda/*.cu: static CUDA runtime, SASS for sm_80 and sm_90
# plus compute_90 PTX, no cuBLAS. Usage: cuda/build.sh [OUTDIR]  (default: cuda/build)
# Environment: CUDA_HOME (default /usr/local/cuda, else the nvcc on PATH), JOBS (parallel
# nvcc processes, default: number of CPUs), OBJ_DIR (object files, default OUTDIR/obj),
# NVCC_FLAGS (extra flags), FORCE=1 (rebuild even when the library is newer than every
# source).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [[ -n "${CUDA_HOME:-}" ]]; then
  nvcc="$CUDA_HOME/bin/nvcc"
elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc=/usr/local/cuda/bin/nvcc
else
  nvcc="$(command -v nvcc || true)"
fi
[[ -x "$nvcc" ]] || { echo "build.sh: nvcc not found (set CUDA_HOME)" >&2; exit 1; }
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
obj="${OBJ_DIR:-$out/obj}"
mkdir -p "$obj"
lib="$out/libpref4j_cuda.so"
if [[ -z "${FORCE:-}" && -f "$lib" ]] &&
   [[ -z "$(find "$here" "$here/../native/include" -newer "$lib" \( -name '*.cu' -o -name '*.cuh' -o -name '*.h' -o -name build.sh \) -print -quit)" ]]; then
  echo "build.sh: $lib is up to date"
  exit 0
fi

flags=(-std=c++17 -O3 -lineinfo
       -gencode arch=compute_80,code=sm_80
       -gencode arch=compute_90,code=sm_90
       -gencode arch=compute_90,code=compute_90
       -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra
       -Xptxas -warn-spills,-warn-lmem-usage
       -I "$here/../native/include")
# shellcheck disable=SC2206
extra=(${NVCC_FLAGS:-})

export nvcc obj
start=$(date +%s)
printf '%s\n' "$here"/*.cu | xargs -P "$jobs" -I{} sh -c '
  f="$1"; shift
  b=$(basename "$f" .cu)
  "$nvcc" "$@" -c "$f" -o "$obj/$b.o" || { echo "build.sh: nvcc failed on $f" >&2; exit 255; }
' sh {} "${flags[@]}" "${extra[@]}"
"$nvcc" -shared -cudart static "${flags[@]}" -o "$lib" "$obj"/*.o
echo "build.sh: $lib ($(( $(date +%s) - start )) s, $jobs jobs, $($nvcc --version | tail -1))"
