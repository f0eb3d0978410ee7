#!/usr/bin/env bash
# Tokenize-and-pack throughput (Spark local[*], then local[1] for the scaling) vs DJL encode()
# in one thread.
# Usage: tests/bench/tokenize-benchmark.sh [--copies N] [--runs R] [--master local[K]] [--stages]
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -pl tests -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
mkdir -p tests/target/bench-tmp
# As bin/flashlm does: Spark's tasks are the parallelism, not the tokenizer's thread pool. The
# single-thread DJL baseline encodes one document at a time, which this does not change.
export TOKENIZERS_PARALLELISM="${TOKENIZERS_PARALLELISM:-false}"
# The JVM flags every JVM of the project gets, from the build (the root pom's flashlm.jvm.*).
props=jobs/target/classes/flashlm/jobs/build.properties
read -r -a flags <<< "$(sed -n 's/^jvm.offline=//p' "$props") $(sed -n 's/^jvm.opens=//p' "$props")"
exec java ${BENCH_JAVA_OPTS:-} -Xmx6g -XX:+UseParallelGC "${flags[@]}" \
  -DDJL_CACHE_DIR="$PWD/tests/target/djl-cache" -Djava.io.tmpdir="$PWD/tests/target/bench-tmp" \
  -cp "tests/target/test-classes:$(cat tests/target/bench.classpath)" \
  flashlm.tests.tokenize.TokenizeBenchmark "$@"
