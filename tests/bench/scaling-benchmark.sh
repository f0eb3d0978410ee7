#!/usr/bin/env bash
# Data-parallel scaling on one host (issue 12, "Performance"): the same config trained three
# ways through bin/flashlm, interleaved: one process with 1 OpenMP thread (1x1), one process with
# 2 threads (1x2), and a barrier stage of 2 ranks with 1 thread each on embedded Spark (2x1,
# gradients averaged by the ring on loopback). Prints tokens/s (median over the steps after the
# first WARMUP of each run, then the median over rounds), the ratios 2x1/1x1 and 2x1/1x2, and
# the share of rank 0's step time spent in the gradient allreduce (the metrics' comm_s).
#
# Usage: tests/bench/scaling-benchmark.sh [--configs v6.1:30,v7-ts:6] [--rounds R] [--warmup W]
# CONFIG:STEPS trains conf/CONFIG.json for STEPS updates per run. v7-ts reads the sample data
# set's table (bin/flashlm prepare); v6.1 a 1024-token BPE table of the same stories, made here
# on first use (target/bench/sample-bpe1024). Results: stdout, and one JSON line per run in
# target/bench/scaling-benchmark.jsonl. OMP_WAIT_POLICY=passive for every run (shared cores).
set -euo pipefail
cd "$(dirname "$0")/../.."

configs=v6.1:30,v7-ts:6
rounds=1
warmup=2
while [ $# -gt 0 ]; do
  case "$1" in
    --configs) configs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    *) echo "scaling-benchmark: unknown option $1" >&2; exit 2 ;;
  esac
done

out=target/bench
mkdir -p "$out"
jsonl=$out/scaling-benchmark.jsonl
: > "$jsonl"
export OMP_WAIT_POLICY=passive

bin/flashlm help > /dev/null # builds the launcher once if a source changed
export FLASHLM_NO_BUILD=1
if [ ! -d flashlm-data/sample/sequences ]; then
  bin/flashlm prepare >&2
fi
if [ ! -d "$out/sample-bpe1024/sequences" ]; then
  cat > "$out/sample-bpe1024.yaml" <<'YAML'
# the sample stories with a 1024-token byte-level BPE trained on them (v6.1's shape)
data_dir: target/bench/sample-bpe1024
ingest:
  source: roneneldan/TinyStories
  format: text
  separator: "<|endoftext|>"
  files:
    - ${FLASHLM_HOME}/conf/datasets/sample/tinystories_train_prefix_2MiB.txt
  validation_files: []
tokenizer_training:
  vocab_size: 1024
  special_tokens: ["<|endoftext|>"]
  min_frequency: 2
tokenize:
  seq_len: 256
  num_shards: 4
  validation_ratio: 0.05
  add_eos: true
  eos_token: "<|endoftext|>"
YAML
  bin/flashlm prepare --conf "$out/sample-bpe1024.yaml" >&2
fi

table() {
  case "$1" in
    v6.1) echo "$out/sample-bpe1024/sequences" ;;
    *) echo flashlm-data/sample/sequences ;;
  esac
}

# run CONFIG STEPS VARIANT ROUND: one training run, its summary appended to $jsonl
run() {
  local conf=$1 steps=$2 variant=$3 round=$4 dir="$out/scaling/$1-$3-$4"
  rm -rf "$dir"
  mkdir -p "$out/scaling"
  local -a sets=(--set "data.table=$(table "$conf")" --set "max_steps=$steps" --set log.every=1
    --set eval_every=0 --set eval_batches=0 --set time_budget=null --set checkpoint.every=0
    --set "checkpoint.dir=$dir/ckpt" --set "log.metrics=$dir/metrics.jsonl")
  case "$variant" in
    1x1) OMP_NUM_THREADS=1 bin/flashlm train --conf "conf/$conf.json" "${sets[@]}" ;;
    1x2) OMP_NUM_THREADS=2 bin/flashlm train --conf "conf/$conf.json" "${sets[@]}" ;;
    2x1) bin/flashlm train --conf "conf/$conf.json" "${sets[@]}" \
           --set distributed.world_size=2 --set distributed.threads_per_rank=1 ;;
  esac > "$dir.log" 2>&1 || { echo "scaling-benchmark: $conf $variant failed, see $dir.log" >&2;
    tail -n 5 "$dir.log" >&2; exit 1; }
  python3 - "$dir/metrics.jsonl" "$conf" "$variant" "$round" "$warmup" >> "$jsonl" <<'PY'
import json, statistics, sys
path, conf, variant, rnd, warmup = sys.argv[1:6]
train = [r for r in map(json.loads, open(path)) if r.get("type") == "train"]
steady = train[int(warmup):]
secs = [b["elapsed_s"] - a["elapsed_s"] for a, b in zip(train[int(warmup) - 1:], steady)]
comm = sum(r.get("comm_s", 0.0) for r in steady)
print(json.dumps({"config": conf, "variant": variant, "round": int(rnd), "steps": len(steady),
    "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
    "comm_share": comm / sum(secs) if secs and sum(secs) > 0 else 0.0}))
PY
  tail -n 1 "$jsonl" >&2
}

IFS=, read -r -a pairs <<< "$configs"
for ((r = 1; r <= rounds; r++)); do
  for pair in "${pairs[@]}"; do
    for variant in 1x1 1x2 2x1; do
      run "${pair%%:*}" "${pair##*:}" "$variant" "$r"
    done
  done
done

python3 - "$jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'config':8} {'1x1 tok/s':>10} {'1x2 tok/s':>10} {'2x1 tok/s':>10} {'2x1/1x1':>8}"
      f" {'2x1/1x2':>8} {'comm share 2x1':>15}")
for conf in dict.fromkeys(r["config"] for r in rows):
    m = {v: statistics.median(r["tokens_per_s"] for r in rows
                              if r["config"] == conf and r["variant"] == v)
         for v in ("1x1", "1x2", "2x1")}
    share = statistics.median(r["comm_share"] for r in rows
                              if r["config"] == conf and r["variant"] == "2x1")
    print(f"{conf:8} {m['1x1']:10,.0f} {m['1x2']:10,.0f} {m['2x1']:10,.0f}"
          f" {m['2x1'] / m['1x1']:8.2f} {m['2x1'] / m['1x2']:8.2f} {100 * share:14.1f}%")
PY
