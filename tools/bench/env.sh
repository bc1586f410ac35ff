# Sourced by the tools/bench scripts: finds a JDK 25+ the way the pref4j launcher does
# ($JAVA_HOME when it is 25 or newer, else /usr/lib/jvm/*25*), builds the benchmarks jar
# when it is missing or older than the sources, and sets JAVA, JVM_FLAGS, JAR, ROOT.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
JAR="$ROOT/benchmarks/target/benchmarks.jar"
JVM_FLAGS=(--add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED
           --sun-misc-unsafe-memory-access=allow)

java_major() {  # prints the feature version of the java binary $1
    "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p'
}

find_java() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        local v; v="$(java_major "$JAVA_HOME/bin/java")"
        if [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 25 ]]; then echo "$JAVA_HOME/bin/java"; return; fi
    fi
    local j
    for j in /usr/lib/jvm/*25*/bin/java; do
        if [[ -x "$j" ]]; then echo "$j"; return; fi
    done
    echo "no JDK 25 found: set JAVA_HOME to a JDK 25 or install one under /usr/lib/jvm" >&2
    return 1
}

JAVA="$(find_java)" || exit 2

build_if_needed() {
    if [[ ! -f "$JAR" ]] || [[ -n "$(find "$ROOT/java/src/main" "$ROOT/benchmarks/src" "$ROOT/benchmarks/pom.xml" \
            "$ROOT/java/pom.xml" "$ROOT/pom.xml" -newer "$JAR" -print -quit 2>/dev/null)" ]]; then
        echo "building benchmarks.jar ..." >&2
        (cd "$ROOT" && mvn -q -B -o package -DskipTests 2>&1 || mvn -q -B package -DskipTests) >&2 || {
            echo "build failed" >&2; exit 2; }
    fi
}
