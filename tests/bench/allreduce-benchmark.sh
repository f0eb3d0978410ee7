#!/usr/bin/env bash
# Allreduce on loopback: the native ring (`flashlm_bench allreduce`, native/bench/bench.c)
# against PyTorch's Gloo (tests/bench/allreduce_gloo.py), 2 and 4 processes, 1 MB to 256 MB,
# alternating for R rounds (the order flips every round) so that whatever else the machine runs
# hits both alike; then one table of bus bandwidth, ours / Gloo, and a plain TCP stream.
# Usage: tests/bench/allreduce-benchmark.sh [--rounds R] [--reps N]
# PyTorch: TORCH_PYTHON names a python with torch (default .venv/bin/python at the repository
# root if it exists, else python3). On a fresh machine:
#   python3 -m venv .venv && .venv/bin/pip install torch
# (the CPU wheel comes from the local pip index; measured here with torch 2.13.0+cpu).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=2
reps=5
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds R] [--reps N]" >&2; exit 2 ;;
  esac
done
. tests/bench/torch-python.sh
torch_python allreduce-benchmark torch
"$python" -c 'import torch.distributed as d; assert d.is_gloo_available()' ||
  { echo "no torch with Gloo under $python (set TORCH_PYTHON)" >&2; exit 1; }
make -s -C native -j2 bench >/dev/null
bench=native/target/build/linux-$(uname -m)/flashlm_bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ours() { "$bench" allreduce "$reps" | tee "$out/ours-$1.txt"; }
gloo() { "$python" tests/bench/allreduce_gloo.py measure --reps "$reps" | tee "$out/gloo-$1.txt"; }
for r in $(seq 1 "$rounds"); do
  echo "== round $r of $rounds ($(date +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ $((r % 2)) -eq 1 ]; then ours "$r"; gloo "$r"; else gloo "$r"; ours "$r"; fi
done
echo
"$python" tests/bench/allreduce_gloo.py summarize "$out"/*.txt
