#!/usr/bin/env python3
"""HF transformers side of the decode benchmark (tests/bench/decode-benchmark.sh): loads the
safetensors export DIR/hf as LlamaForCausalLM in fp32 and times generate() at batch 1 on the
prompt of DIR/prompt.txt: greedy, KV cache, exactly --new new tokens (EOS ignored). Prints one
JSON line: tokens/s of each timed run (after one warm-up), the prompt's forward alone, load time,
peak RSS of this process, the first new tokens.
"""
import argparse
import json
import os
import resource
import time

import torch
from transformers import LlamaForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--new", type=int, default=256)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = LlamaForCausalLM.from_pretrained(os.path.join(a.dir, "hf"), dtype=torch.float32)
    model.eval()
    load = time.perf_counter() - t0
    with open(os.path.join(a.dir, "prompt.txt")) as f:
        ids = torch.tensor([[int(x) for x in f.read().split()]])
    kw = dict(max_new_tokens=a.new, min_new_tokens=a.new, do_sample=False, use_cache=True,
              eos_token_id=None, pad_token_id=0)
    rates, totals, prefill = [], [], []
    first = None
    with torch.inference_mode():
        out = model.generate(ids, **kw)  # warm-up
        first = out[0, ids.shape[1]:ids.shape[1] + 8].tolist()
        for _ in range(a.reps):
            t = time.perf_counter()
            model(ids, use_cache=True)
            prefill.append(time.perf_counter() - t)
            t = time.perf_counter()
            out = model.generate(ids, **kw)
            total = time.perf_counter() - t
            assert out.shape[1] == ids.shape[1] + a.new, out.shape
            totals.append(total)
            rates.append((a.new - 1) / (total - prefill[-1]))
    print(json.dumps({"mode": "hf", "threads": a.threads, "load_seconds": load,
                      "new_tokens": a.new, "tokens_per_s": rates, "total_seconds": totals,
                      "prefill_seconds": prefill, "first_tokens": str(first),
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
