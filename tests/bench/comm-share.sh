#!/usr/bin/env bash
# The gradient allreduce's share of a data-parallel step (issue 12: whether overlapping it with
# the backward pass would pay). Builds the trainer's test classes and runs flashlm.bench.CommShare:
# WORLD ranks of a config as threads of one JVM joined by the native ring on loopback, each with
# THREADS OpenMP threads, on a random table of the config's shape; it prints per rank the step
# time and the time inside the allreduce, then the same allreduce alone.
#
# Usage: tests/bench/comm-share.sh --conf conf/v7-ts.json [--world 2] [--threads 1] [--steps 6]
#            [--set key=value ...]
# BENCH_MVN_ARGS adds Maven flags (e.g. -o).
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q ${BENCH_MVN_ARGS:-} -pl trainer -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="trainer/target/test-classes:trainer/target/classes:$(cat trainer/target/bench.classpath)"
exec java -Xmx8g -cp "$cp" flashlm.bench.CommShare "$@"
