#!/usr/bin/env bash
# Decode speed at batch 1: the packed ternary model with the KV cache against HF transformers
# generate() in fp32 on the same weights, interleaved in one run; peak memory and file sizes; the
# eval path's scoring rate against the training forward (issue 14, "Performance"). Builds the
# trainer's test classes (flashlm.bench.DecodeBench), then runs tests/bench/decode_benchmark.py.
#
# Usage: tests/bench/decode-benchmark.sh [--models v7-ts,v7-float] [--rounds R] [--reps N]
#            [--threads N] [--prompt 32] [--new 256] [--omp-wait-policy passive|active]
# Python: TORCH_PYTHON names a python with torch and transformers (default .venv/bin/python at the
# repository root if it exists, else python3): python3 -m venv .venv && .venv/bin/pip install
# torch transformers safetensors. BENCH_MVN_ARGS adds Maven flags (e.g. -o). One JSON line per
# model goes to target/bench/decode-benchmark.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."

. tests/bench/torch-python.sh
torch_python decode-benchmark torch transformers safetensors

mvn -B -q ${BENCH_MVN_ARGS:-} -pl trainer -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
mkdir -p target/bench
cp="trainer/target/test-classes:trainer/target/classes:$(cat trainer/target/bench.classpath)"
exec "$python" tests/bench/decode_benchmark.py --java-cp "$cp" --python "$python" \
  --java-flags=-Xmx2g \
  --json target/bench/decode-benchmark.jsonl "$@"
