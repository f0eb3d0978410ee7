#!/usr/bin/env python3
"""Decode benchmark: FlashLM's packed model with the KV cache (flashlm.bench.DecodeBench) against
the same weights exported as safetensors and run by HF transformers generate() in fp32
(tests/bench/decode_hf.py), at batch 1, both with --threads threads, alternated in one run; and
the eval path's scoring rate against the training model's forward rate.

Run through tests/bench/decode-benchmark.sh, which builds what this needs. Per model config:
  1. DecodeBench prepare: the config's seeded initial weights (the speed of a forward does not
     depend on the values) as a checkpoint, exported to safetensors and to packed files (fp32 and
     bf16 embedding); a seeded prompt of 32 ids. The context is set to prompt + new tokens
     (model.seq_len does not change the weights), so neither side slides.
  2. R rounds, each one decode run of ours and one of HF's, the order flipping every round; each
     run times --reps generations after a warm-up in a fresh process (so peak RSS is its own).
  3. DecodeBench eval: windows of seq_len scored (all positions' losses) against the training
     model's forward (loss) on the same weights.
It prints: tokens/s (median of all timed generations; new tokens after the first, over the time
after the prompt's forward), the ratio ours / HF (median over rounds of the ratio of the round's
medians), the prompt's forward, peak RSS of each process, file sizes.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, env):
    out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--java-cp", required=True)
    p.add_argument("--java-flags", default="")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--models", default="v7-ts")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--new", type=int, default=256)
    p.add_argument("--workdir", default="target/bench/decode")
    p.add_argument("--json", default=None)
    # passive: threads sleep at a barrier instead of spinning. On cores shared with other work a
    # spinning thread holds a core its partner needs; decoding has dozens of barriers per token
    # (measured here under load 6-8: v7-ts 6-40 tokens/s active, 89-104 passive)
    p.add_argument("--omp-wait-policy", default="passive")
    a = p.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY=a.omp_wait_policy)
    java = ["java"] + a.java_flags.split() + ["-cp", a.java_cp, "flashlm.bench.DecodeBench"]
    results = []
    for model in a.models.split(","):
        d = os.path.join(ROOT, a.workdir, model)
        os.makedirs(d, exist_ok=True)
        ctx = a.prompt + a.new
        prep = run(java + ["prepare", "--conf", f"conf/{model}.json", "--dir", d, "--set",
                           f"model.seq_len={ctx}"], env)
        ours_rates, hf_rates, ratios, ours_runs, hf_runs = [], [], [], [], []
        for r in range(a.rounds):
            order = ["ours", "hf"] if r % 2 == 0 else ["hf", "ours"]
            got = {}
            for who in order:
                if who == "ours":
                    got[who] = run(java + ["decode", "--dir", d, "--new", str(a.new), "--reps",
                                           str(a.reps)], env)
                else:
                    got[who] = run([a.python, os.path.join(HERE, "decode_hf.py"), "--dir", d,
                                    "--new", str(a.new), "--reps", str(a.reps), "--threads",
                                    str(a.threads)], env)
            ours_runs.append(got["ours"])
            hf_runs.append(got["hf"])
            ours_rates += got["ours"]["tokens_per_s"]
            hf_rates += got["hf"]["tokens_per_s"]
            ratios.append(statistics.median(got["ours"]["tokens_per_s"])
                          / statistics.median(got["hf"]["tokens_per_s"]))
            print(f"{model} round {r + 1}: ours {statistics.median(got['ours']['tokens_per_s']):.1f}"
                  f" tokens/s, HF {statistics.median(got['hf']['tokens_per_s']):.1f} tokens/s",
                  file=sys.stderr)
        ev = run(java + ["eval", "--dir", d], env)
        res = {"model": model, "threads": a.threads, "prompt": a.prompt, "new": a.new,
               "omp_wait_policy": a.omp_wait_policy,
               "ours_tokens_per_s": statistics.median(ours_rates),
               "ours_best": max(ours_rates), "hf_tokens_per_s": statistics.median(hf_rates),
               "hf_best": max(hf_rates), "ratio": statistics.median(ratios),
               "ratios": ratios,
               "ours_prefill_s": statistics.median(sum((x["prefill_seconds"] for x in ours_runs), [])),
               "hf_prefill_s": statistics.median(sum((x["prefill_seconds"] for x in hf_runs), [])),
               "ours_peak_rss_mb": max(x["peak_rss_bytes"] for x in ours_runs) / 2**20,
               "hf_peak_rss_mb": max(x["peak_rss_bytes"] for x in hf_runs) / 2**20,
               "ours_first_tokens": ours_runs[0]["first_tokens"],
               "hf_first_tokens": hf_runs[0]["first_tokens"],
               "eval_tokens_per_s": ev["eval_tokens_per_s"],
               "forward_tokens_per_s": ev["forward_tokens_per_s"],
               "forward_batch": ev["forward_batch"], **prep}
        results.append(res)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(res) + "\n")
    print(f"| model | ours tokens/s (best) | HF fp32 tokens/s (best) | ours / HF | prompt {a.prompt}"
          " forward ours / HF | peak RSS ours / HF | safetensors / packed / packed bf16 |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['model']} | {r['ours_tokens_per_s']:.1f} ({r['ours_best']:.1f}) | "
              f"{r['hf_tokens_per_s']:.1f} ({r['hf_best']:.1f}) | {r['ratio']:.2f}x "
              f"({', '.join(f'{x:.2f}' for x in r['ratios'])}) | "
              f"{r['ours_prefill_s'] * 1e3:.0f} / {r['hf_prefill_s'] * 1e3:.0f} ms | "
              f"{r['ours_peak_rss_mb']:.0f} / {r['hf_peak_rss_mb']:.0f} MB | "
              f"{r['safetensors_bytes'] / 1e6:.1f} / {r['packed_bytes'] / 1e6:.1f} / "
              f"{r['packed_bf16_bytes'] / 1e6:.1f} MB |")
    for r in results:
        lin = r["linear_weights"]
        print(f"{r['model']}: {r['parameters']:,} parameters, {lin:,} in linears "
              f"({lin * 4 / 1e6:.1f} MB fp32, {lin / 4 / 1e6:.2f} MB packed), embedding "
              f"{r['embedding_values']:,} values ({r['embedding_values'] * 4 / 1e6:.1f} MB fp32);"
              f" eval scoring {r['eval_tokens_per_s']:,.0f} tokens/s vs training forward "
              f"{r['forward_tokens_per_s']:,.0f} tokens/s (batch {r['forward_batch']}): "
              f"{r['eval_tokens_per_s'] / r['forward_tokens_per_s']:.2f}x; first greedy tokens "
              f"ours {r['ours_first_tokens']} HF {r['hf_first_tokens']}")


if __name__ == "__main__":
    main()
