#!/usr/bin/env bash
# Trainer throughput vs PyTorch on the same models, interleaved in one run, with MFU and peak RSS
# (issue 5, "Performance"). Builds the trainer's test classes (flashlm.bench.TrainServe) and the
# native benchmark (its `peak` mode measures the FMA peak), then runs
# tests/bench/compare_pytorch.py: ours, the eager PyTorch twin and the torch.compile'd one
# (tests/bench/pytorch_train.py --compile) in turns, and the ratio against the faster twin.
#
# Usage: tests/bench/train-benchmark.sh [--models v6.1:16,v7-ts:8,...] [--rounds R]
#            [--twins eager,compiled] [--threads N] [--chunk-seconds S]
#            [other compare_pytorch.py options]
# Defaults: v6.1 B16/B64, v7-ts B8, v7-float B8, v7-main B4 (109.5M, seq 1024: a minute or more
# per step here; the three trainers peaked at 4.3 + 8.4 + 5.0 GiB), 3 rounds, 2 threads.
# v7-main B8 (--models v7-main:8) needs well over 24 GB with both twins.
#
# PyTorch: TORCH_PYTHON names a python with torch, numpy and safetensors (default
# .venv/bin/python at the repository root if it exists, else python3). On a fresh machine:
#   python3 -m venv .venv && .venv/bin/pip install torch numpy safetensors
# (the CPU wheel comes from the local pip index; measured here with torch 2.13.0+cpu).
# BENCH_MVN_ARGS adds Maven flags (e.g. -o). Results go to stdout and, one JSON line per model,
# to target/bench/train-benchmark.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."

. tests/bench/torch-python.sh
torch_python train-benchmark torch numpy safetensors

mvn -B -q ${BENCH_MVN_ARGS:-} -pl trainer -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
mkdir -p target/bench
make -s -C native bench >&2
bench_bin=$(ls native/target/build/*/flashlm_bench | head -n 1)

cp="trainer/target/test-classes:trainer/target/classes:$(cat trainer/target/bench.classpath)"
exec "$python" tests/bench/compare_pytorch.py --java-cp "$cp" --python "$python" \
  --peak "$PWD/$bench_bin" --workdir target/bench --json target/bench/train-benchmark.jsonl "$@"
