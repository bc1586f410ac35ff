#!/usr/bin/env bash
# make_bundle.sh - a self-contained pref4j folder for GPU hosts without a JDK.
#
#   tools/bundle/make_bundle.sh [--no-build] [--no-jmh] [--out DIR]
#
# Produces DIR (default: bundle/ at the repository root) and its archive
# target/pref4j-bundle-<platform>.tar.xz (.tar.gz when xz is missing; --archive FILE.tar.xz
# to choose):
#   DIR/pref4j                    the repository launcher (it runs runtime/bin/java and
#                                 lib/pref4j-*-all.jar when they sit beside it)
#   DIR/bench                     runs the JMH benchmarks: bench [JMH options]
#   DIR/runtime/                  a jlink'd Java 25 runtime (java.base, jdk.incubator.vector,
#                                 java.desktop for XChart's PNGs, java.management,
#                                 jdk.unsupported, plus whatever jdeps finds the jars need)
#   DIR/lib/pref4j-*-all.jar      the shaded CLI jar (with native/linux-x86_64/libpref4j_cuda.so
#                                 when the build had nvcc)
#   DIR/lib/benchmarks.jar        the JMH benchmarks (not with --no-jmh: a smaller archive for
#                                 tools/gpu/verify_and_measure.sh, which needs only the CLI jar)
# Both jars lose the native libraries of other platforms (the DJL tokenizers ship win, osx and
# linux-aarch64 builds, ~40 MB): only native/lib/linux-<this machine>/ stays
# (KEEP_ALL_NATIVES=1 keeps them all).
# Copy the archive to the GPU host, untar (tar xf), run DIR/pref4j gpu-check. The host needs the
# NVIDIA driver and cuBLAS 13 (libcublas.so.13: CUDA_HOME, the system path, or
# PREF4J_CUBLAS=/path/to/libcublas.so.13); the CUDA runtime is linked into the kernel library.
#
# Size: jlink runs with --strip-debug --no-header-files --no-man-pages and
# --compress=zip-0 by default: the archive compresses an uncompressed module image far better
# than jlink's own zip does (runtime alone, xz: 22 MB with zip-0 against 35.5 MB with zip-9;
# gzip: 33 against 40 MB), at the price of a larger unpacked folder (96 against 64 MB).
# JLINK_COMPRESS=zip-9 gives the smallest unpacked folder instead.
#
# Environment: JAVA_HOME (a JDK 25+ with jlink; else the one the launcher would find),
# MVN_ARGS (extra Maven arguments, e.g. -o), JLINK_COMPRESS (default zip-0).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$here/bundle"
build=1
jmh=1
archive_arg=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-jmh) jmh=0 ;;
    --out) out="$(realpath -m "$2")"; shift ;;
    --archive) archive_arg="$(realpath -m "$2")"; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "make_bundle: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

java_feature() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1
}
jdk=""
for c in ${JAVA_HOME:+"$JAVA_HOME"} /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.jdks/* "$HOME"/.sdkman/candidates/java/*; do
  [ -x "$c/bin/jlink" ] && [ -x "$c/bin/jdeps" ] || continue
  v="$(java_feature "$c/bin/java")"
  if [ -n "$v" ] && [ "$v" -ge 25 ]; then jdk="$c"; break; fi
done
[ -n "$jdk" ] || { echo "make_bundle: no JDK 25+ with jlink found (set JAVA_HOME)" >&2; exit 2; }
echo "make_bundle: JDK $jdk"

if [ "$build" = 1 ]; then
  echo "make_bundle: building the jars (mvn package -DskipTests)"
  ( cd "$here" && mvn -q -B ${MVN_ARGS:-} -pl java,benchmarks -am package -DskipTests )
fi
jar="$(ls "$here"/java/target/pref4j-*-all.jar 2>/dev/null | head -n1 || true)"
bench="$here/benchmarks/target/benchmarks.jar"
[ -f "$jar" ] || { echo "make_bundle: no java/target/pref4j-*-all.jar (run without --no-build)" >&2; exit 2; }
if [ "$jmh" = 1 ]; then
  [ -f "$bench" ] || { echo "make_bundle: no benchmarks/target/benchmarks.jar (run without --no-build)" >&2; exit 2; }
else
  bench=""
fi
if ! "$jdk/bin/jar" tf "$jar" | grep -q '^native/linux-x86_64/libpref4j_cuda.so$'; then
  echo "make_bundle: WARNING: $jar has no native/linux-x86_64/libpref4j_cuda.so (built without nvcc):"
  echo "             on the GPU host set PREF4J_CUDA_LIB=/path/to/libpref4j_cuda.so, or rebuild with nvcc"
fi

base="java.base,jdk.incubator.vector,java.desktop,java.management,jdk.unsupported"
deps="$("$jdk/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 25 \
          --add-modules jdk.incubator.vector "$jar" ${bench:+"$bench"} 2>/dev/null | tail -n1 || true)"
modules="$(printf '%s,%s' "$base" "$deps" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)"
echo "make_bundle: modules $modules"

rm -rf "$out"
mkdir -p "$out/lib"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
  --compress="${JLINK_COMPRESS:-zip-0}" --output "$out/runtime"
cp "$jar" "$out/lib/"
[ -n "$bench" ] && cp "$bench" "$out/lib/benchmarks.jar"
# Other platforms' native libraries out of the copies (zip -d; the build's jars stay whole).
if [ "${KEEP_ALL_NATIVES:-0}" != 1 ]; then
  keep="linux-$(uname -m | sed 's/^arm64$/aarch64/')"
  for j in "$out"/lib/*.jar; do
    drop="$("$jdk/bin/jar" tf "$j" | grep '^native/lib/[^/]*/.' | grep -v "^native/lib/$keep/" || true)"
    if [ -n "$drop" ]; then
      if command -v zip >/dev/null; then
        printf '%s\n' "$drop" | zip -q -d "$j" -@ >/dev/null
      else
        python3 - "$j" "$keep" <<'PY'
import os, sys, zipfile
src, keep = sys.argv[1], "native/lib/" + sys.argv[2] + "/"
tmp = src + ".tmp"
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zo:
    for e in zi.infolist():
        n = e.filename
        if n.startswith("native/lib/") and n.count("/") >= 3 and not n.startswith(keep):
            continue
        zo.writestr(e, zi.read(n))
os.replace(tmp, src)
PY
      fi
      echo "make_bundle: $(basename "$j"): dropped $(printf '%s\n' "$drop" | wc -l) files of other platforms' native libraries"
    fi
  done
fi
cp "$here/pref4j" "$out/pref4j"
cat > "$out/bench" <<'LAUNCH'
#!/usr/bin/env bash
# JMH benchmarks with the bundled runtime: ./bench -h lists JMH's options.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/runtime/bin/java" --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -jar "$here/lib/benchmarks.jar" -jvmArgsAppend "--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED" "$@"
LAUNCH
chmod +x "$out/pref4j"
if [ -n "$bench" ]; then chmod +x "$out/bench"; else rm -f "$out/bench"; fi

name="$(basename "$out")"
if [ -n "$archive_arg" ]; then archive="$archive_arg"
else
  ext=tar.gz; command -v xz >/dev/null && ext=tar.xz
  archive="$here/target/pref4j-bundle-linux-$(uname -m).$ext"
fi
mkdir -p "$(dirname "$archive")"
rm -f "$archive"
case "$archive" in
  *.tar.xz) ( cd "$(dirname "$out")" && XZ_OPT="${XZ_OPT:--9 -T0}" tar -cJf "$archive" "$name" ) ;;
  *) ( cd "$(dirname "$out")" && tar -czf "$archive" "$name" ) ;;
esac
echo "make_bundle: $out ($(du -sh "$out" | cut -f1) unpacked)"
echo "make_bundle: $archive ($(du -h "$archive" | cut -f1) compressed, $(stat -c %s "$archive") bytes)"
