#!/usr/bin/env bash
# Where a training step of the native model spends its time, per kernel and per layer kind
# (tests/bench/profile_model.c). Not a test; for guiding the kernel work.
# Usage: tests/bench/profile-model.sh CONF BATCH [STEPS]   e.g. conf/v7-ts.json 8 3
# Threads: OMP_NUM_THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
conf=${1:?usage: profile-model.sh CONF BATCH [STEPS]}
batch=${2:?usage: profile-model.sh CONF BATCH [STEPS]}
steps=${3:-3}

make -s -C native archive >&2
mkdir -p target/bench
gcc -O2 -std=gnu11 -fopenmp -Inative/include tests/bench/profile_model.c \
  "native/target/build/linux-$(uname -m)/libflashlm.a" -lm -o target/bench/profile_model

read -r -a spec < <(python3 - "$conf" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["model"]
ternary = 1 if m.get("quant", "ternary") == "ternary" else 0
dx = 1 if m.get("backward_dx", "int16") == "fp32" else 0
dw = 1 if m.get("backward_dw", "int16") == "fp32" else 0
print(0 if m["arch"] == "transformer" else 1, m["vocab_size"], m["d_model"], m["n_layers"],
      m.get("n_heads", 1), m["ffn_dim"], m["seq_len"], ternary, dx, dw)
EOF
)
dw=${spec[-1]} # model.backward_dw: 0 int16 (the default), 1 fp32
dx=${spec[-2]} # model.backward_dx: the same
unset 'spec[-1]'
unset 'spec[-1]'
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} exec target/bench/profile_model "${spec[@]}" "$batch" "$steps" "$dx" "$dw"
