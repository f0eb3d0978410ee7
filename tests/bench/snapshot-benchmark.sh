#!/usr/bin/env bash
# Opening the sequences table and reading its rows, as the trainer does (flashlm.bench.SnapshotBench):
# a table of many commits, a checkpoint and some tens of MB of rows, read in several fresh JVMs.
# Prints the median of each phase over the JVMs' first runs (cold: class loading and JIT
# included, what a trainer's start pays) and over their later runs (warm), in wall time and in
# the main thread's CPU time (steadier when other processes share the cores).
#
# Usage: tests/bench/snapshot-benchmark.sh [--jvms J] [SnapshotBench options: --runs R
#            --commits N --checkpoint-at V --rows N --seq-len L --shards S]
# Defaults: 5 JVMs of 5 runs; the table is built once under target/bench/snapshot-table.
# BENCH_MVN_ARGS adds Maven flags (e.g. -o); BENCH_SKIP_BUILD=1 reuses the last build.
set -euo pipefail
cd "$(dirname "$0")/../.."

jvms=5
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jvms) jvms=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -B -q ${BENCH_MVN_ARGS:-} -pl trainer -am test-compile dependency:build-classpath \
    -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
fi
mkdir -p target/bench
cp="trainer/target/test-classes:trainer/target/classes:$(cat trainer/target/bench.classpath)"
out=target/bench/snapshot-benchmark.txt
: > "$out"
for j in $(seq 1 "$jvms"); do
  java -Xmx2g -cp "$cp" flashlm.bench.SnapshotBench --table target/bench/snapshot-table \
    ${args[@]+"${args[@]}"} | tee -a "$out" >&2
done

# median of field F (e.g. open_ms) over the lines that match R (cold: run=1, warm: the rest)
median() {
  grep -E "$2" "$out" | sed -E "s/.* $1=([0-9.]+).*/\1/" | sort -n \
    | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
head -n 1 "$out" | sed -E 's/.*(version=[0-9]+).*(rows=[0-9]+ mb=[0-9.]+).*/table: \1 \2/'
echo "medians over $jvms JVMs; wall ms (main-thread CPU ms)"
printf '%-6s %18s %18s %18s\n' "" open list read
for kind in cold warm; do
  if [ "$kind" = cold ]; then re='^run=1 '; else re='^run=([2-9]|[1-9][0-9]+) '; fi
  line=$(printf '%-6s' "$kind")
  for phase in open list read; do
    line+=$(printf ' %18s' "$(median ${phase}_ms "$re") ($(median ${phase}_cpu "$re"))")
  done
  echo "$line"
done
