#!/usr/bin/env bash
# How long `bin/flashlm train` takes from launch to its first step, each run a fresh JVM: the
# launcher, logging, the config, opening the sequences table (Delta log, footers), building the
# model, the first batch and the first step. It trains conf/v7-smoke.json (seq_len 255) for one
# step, without evaluation, on the snapshot benchmark's table (target/bench/snapshot-table, built
# by tests/bench/snapshot-benchmark.sh), and prints the median milliseconds from launch to the
# "step 1/" line and to the end of the process.
#
# Usage: tests/bench/first-step-benchmark.sh [--runs N] [--compare DIR]
# --compare DIR: DIR is another checkout; its bin/flashlm runs alternate with this one's, on the
# same table, so both see the same machine load. Each checkout's launcher is built first, by two
# runs that are not timed (the second writes the class-data archive of a launcher that has one, as
# a user's second run does). FLASHLM_CDS=0 in the environment measures without the archive.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=7
other=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --compare) other=$(cd "$2" && pwd); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
table="$PWD/target/bench/snapshot-table"
if [ ! -d "$table/_delta_log" ]; then
  echo "no table at $table: run tests/bench/snapshot-benchmark.sh first" >&2
  exit 1
fi
checkouts=("$PWD")
if [ -n "$other" ]; then checkouts+=("$other"); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# one run of DIR's bin/flashlm; appends "first_step_ms end_ms" to $work/NAME
run() {
  local dir=$1 start line step=-
  rm -rf "$work/ckpt"
  start=${EPOCHREALTIME/./}
  while IFS= read -r line; do
    if [ "$step" = - ] && [[ "$line" == step\ 1/* ]]; then
      step=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
    fi
  done < <(cd "$dir" && bin/flashlm train --conf conf/v7-smoke.json --set model.seq_len=255 \
    --set data.table="$table" --set max_steps=1 --set checkpoint.dir="$work/ckpt" \
    --set eval_every=0 --set log.every=1 2>&1)
  echo "$step $(( (${EPOCHREALTIME/./} - start) / 1000 ))" >> "$work/$(basename "$dir")"
}

for dir in "${checkouts[@]}"; do
  run "$dir"
  run "$dir"
  : > "$work/$(basename "$dir")"
done
for i in $(seq 1 "$runs"); do
  for dir in "${checkouts[@]}"; do
    run "$dir"
    echo "$(basename "$dir") run $i: $(tail -n 1 "$work/$(basename "$dir")")" >&2
  done
done

median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
printf '%-12s %-12s %14s %14s\n' checkout commit "first step ms" "exit ms"
for dir in "${checkouts[@]}"; do
  f="$work/$(basename "$dir")"
  printf '%-12s %-12s %14s %14s\n' "$(basename "$dir")" \
    "$(git -C "$dir" rev-parse --short HEAD 2>/dev/null || echo -)" \
    "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)"
done
echo "medians of $runs runs each, conf/v7-smoke.json, one step, on $table"
