#!/usr/bin/env bash
# Opening the sequences table and reading its rows as the trainer does
# (flashlm.bench.SnapshotBench): a table of many commits, a checkpoint and some tens of MB of
# rows, read in several fresh JVMs.
# Prints the median of each phase over the JVMs' first runs (cold: class loading and JIT
# included, what a trainer's start pays) and over their later runs (warm), in wall time and in
# the main thread's CPU time (steadier when other processes share the cores).
#
# Usage: tests/bench/snapshot-benchmark.sh [--jvms J] [--compare DIR] [--cds] [SnapshotBench options:
#            --runs R --commits N --checkpoint-at V --files F --rows N --seq-len L --shards S
#            --reader kernel]
# Defaults: 5 JVMs of 5 runs; the table is built once under target/bench/snapshot-table (again
# when its shape changes); --commits 2 --files 1000 --rows 20 --checkpoint-at 0 is the shape the
# pipeline writes, a few commits of many files.
# --compare DIR: DIR is another checkout (for example the commit before a change, with this
# script and SnapshotBench.java copied in); it is built too, and its JVMs alternate with this
# checkout's on the same table, so both see the same machine load.
# --cds: each checkout's JVMs map a class-data sharing archive that one JVM of it wrote first
# (its class directories jarred, as CDS requires), as bin/flashlm's launches of a command do from
# the third on (the launcher writes a static archive from a class list instead).
# BENCH_MVN_ARGS adds Maven flags (e.g. -o); BENCH_SKIP_BUILD=1 reuses the last builds.
set -euo pipefail
cd "$(dirname "$0")/../.."

jvms=5
other=
cds=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jvms) jvms=$2; shift 2 ;;
    --compare) other=$(cd "$2" && pwd); shift 2 ;;
    --cds) cds=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
table="$PWD/target/bench/snapshot-table"
checkouts=("$PWD")
if [ -n "$other" ]; then checkouts+=("$other"); fi

mkdir -p target/bench
for dir in "${checkouts[@]}"; do
  if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$dir" && mvn -B -q ${BENCH_MVN_ARGS:-} -pl trainer -am test-compile \
      dependency:build-classpath -Dmdep.outputFile=target/bench.classpath \
      -Dmdep.includeScope=test) >&2
  fi
  : > "target/bench/snapshot-benchmark-$(basename "$dir").txt"
done
# the table is built (when missing or of another shape) by a JVM of its own, so that no timed
# JVM starts with the classes that writing it loaded
java -Xmx2g -cp "$PWD/trainer/target/test-classes:$PWD/trainer/target/classes:$(cat \
  trainer/target/bench.classpath)" flashlm.bench.SnapshotBench --table "$table" \
  ${args[@]+"${args[@]}"} --runs 0 >&2
# each checkout's class path and JVM flags
declare -A cps flags
for dir in "${checkouts[@]}"; do
  cp="$dir/trainer/target/test-classes:$dir/trainer/target/classes"
  cp+=":$(cat "$dir/trainer/target/bench.classpath")"
  flags[$dir]=
  if [ "$cds" = 1 ]; then
    jars="$PWD/target/bench/cds-$(basename "$dir")"
    rm -rf "$jars" && mkdir -p "$jars"
    entries=()
    IFS=: read -r -a parts <<< "$cp"
    for e in "${parts[@]}"; do
      if [ -d "$e" ]; then
        jar cf "$jars/${#entries[@]}.jar" -C "$e" .
        e="$jars/${#entries[@]}.jar"
      fi
      entries+=("$e")
    done
    cp=$(IFS=:; echo "${entries[*]}")
    java -Xmx2g -XX:ArchiveClassesAtExit="$jars/classes.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
      -cp "$cp" flashlm.bench.SnapshotBench --table "$table" ${args[@]+"${args[@]}"} > /dev/null
    flags[$dir]="-XX:SharedArchiveFile=$jars/classes.jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
  fi
  cps[$dir]=$cp
done
for j in $(seq 1 "$jvms"); do
  for dir in "${checkouts[@]}"; do
    # shellcheck disable=SC2086
    java -Xmx2g ${flags[$dir]} -cp "${cps[$dir]}" flashlm.bench.SnapshotBench --table "$table" \
      ${args[@]+"${args[@]}"} \
      | sed "s|^|$(basename "$dir") |" \
      | tee -a "target/bench/snapshot-benchmark-$(basename "$dir").txt" >&2
  done
done

# median of field F (e.g. open_ms) over the lines of file O that match R
median() {
  grep -E "$3" "$1" | sed -E "s/.* $2=([0-9.]+).*/\1/" | sort -n \
    | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for dir in "${checkouts[@]}"; do
  out="target/bench/snapshot-benchmark-$(basename "$dir").txt"
  echo
  commit=$(git -C "$dir" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")
  echo "$(basename "$dir") ($commit): $(head -n 1 "$out" \
    | sed -E 's/.*(version=[0-9]+).*(rows=[0-9]+ mb=[0-9.]+).*/\1 \2/')"
  echo "medians over $jvms JVMs$([ "$cds" = 1 ] && echo ", with a class-data sharing archive"); wall ms (main-thread CPU ms)"
  printf '%-6s %18s %18s %18s\n' "" open list read
  for kind in cold warm; do
    if [ "$kind" = cold ]; then re=' run=1 '; else re=' run=([2-9]|[1-9][0-9]+) '; fi
    line=$(printf '%-6s' "$kind")
    for phase in open list read; do
      wall=$(median "$out" "${phase}_ms" "$re")
      cpu=$(median "$out" "${phase}_cpu" "$re")
      line+=$(printf ' %18s' "$wall ($cpu)")
    done
    echo "$line"
  done
done
