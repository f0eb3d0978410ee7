#!/usr/bin/env bash
# audit verify and audit leaks on the tokenize benchmark's table, beside count() and a full read
# of the same table in the same run (flashlm.tests.audit.AuditBenchmark).
# Usage: tests/bench/audit-benchmark.sh [--copies N] [--rounds R] [--retokenize K]
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q ${BENCH_MVN_ARGS:-} -pl tests -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
mkdir -p tests/target/bench-tmp
# As bin/flashlm does: Spark's tasks are the parallelism, not the tokenizer's thread pool.
export TOKENIZERS_PARALLELISM="${TOKENIZERS_PARALLELISM:-false}"
exec java ${BENCH_JAVA_OPTS:-} -Xmx6g -XX:+UseParallelGC \
  -DOPT_OUT_TRACKING=true -Dai.djl.offline=true \
  -DDJL_CACHE_DIR="$PWD/tests/target/djl-cache" -Djava.io.tmpdir="$PWD/tests/target/bench-tmp" \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
  -cp "tests/target/test-classes:$(cat tests/target/bench.classpath)" \
  flashlm.tests.audit.AuditBenchmark "$@"
