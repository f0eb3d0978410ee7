#!/usr/bin/env python3
"""PyTorch twin of FlashLM's trainer, the baseline the trainer benchmark compares against.

Builds the model of a FlashLM config (conf/*.json: the same architecture, layout and Llama tensor
names as the trainer's ParamLayout), written as a PyTorch user would write it: BitLinear as
F.linear on fake-quantised weights and activations with the straight-through estimator (an input
shared by q/k/v or gate/up quantised once), F.scaled_dot_product_attention, rotate-half RoPE,
torch.optim.AdamW (or SGD momentum for v6.1) with fused=True (PyTorch's fastest optimizer path on
CPU). --compile runs the model's forward and loss (and so its backward) through torch.compile
(Inductor, C++ with OpenMP; it needs a C++ compiler, gcc here); the first step pays the
compilation.

Two modes:
  one-shot   python3 pytorch_train.py --conf conf/v6.1.json --batch 16 --steps 20
             prints one JSON line with tokens/s and peak RSS.
  serve      python3 pytorch_train.py --conf ... --serve
             reads commands from stdin, one per line, so a benchmark can interleave PyTorch and
             FlashLM steps in one run without paying start-up each time:
               "steps N"  -> trains N steps, prints {"steps":N,"seconds":..,"model_seconds":..,
                             "update_seconds":..,"loss":..} (model: forward + backward;
                             update: clip + optimizer)
               "rss"      -> prints {"peak_rss_bytes":..}
               "quit"
Tokens are uniform random ids from a counter-based generator (splitmix64, see batch_tokens) that
the trainer's side of the benchmark (flashlm.bench.TrainServe) reproduces bit for bit; throughput
does not depend on them. --init FILE.safetensors loads initial weights written by `flashlm export`
or by TrainServe --write-init (Llama names, q/k rows in Llama's RoPE halves order, which this
model's rotate-half RoPE uses as they are), so both trainers start from the same point and their
losses agree.
"""
import argparse
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def fake_quant_weight(w):
    # BitNet b1.58 absmean: s = mean|W| (eps 1e-5), Wq = clamp(round(W/s), -1, 1) * s, STE.
    s = w.abs().mean().clamp(min=1e-5)
    wq = (w / s).round().clamp(-1, 1) * s
    return w + (wq - w).detach()


def fake_quant_act(x):
    # Per-token absmax int8: gamma = max|x| (eps 1e-5), q = clamp(round(x*127/gamma)), STE.
    gamma = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    xq = (x * (127.0 / gamma)).round().clamp(-127, 127) * (gamma / 127.0)
    return x + (xq - x).detach()


class BitLinear(nn.Linear):
    def __init__(self, fan_in, fan_out, ternary):
        super().__init__(fan_in, fan_out, bias=False)
        self.ternary = ternary

    def quant_input(self, x):
        return fake_quant_act(x) if self.ternary else x

    def forward(self, x, quantized=False):
        # quantized: x is already quant_input(x) (q/k/v and gate/up share their input's).
        if not self.ternary:
            return F.linear(x, self.weight)
        return F.linear(x if quantized else fake_quant_act(x), fake_quant_weight(self.weight))


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_table(T, hd, theta):
    # (T, hd) cos and sin for rotate-half: frequency i at columns i and i + hd/2.
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat((ang, ang), dim=-1)
    return torch.cos(ang).float(), torch.sin(ang).float()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def rope(x, cos, sin):
    # x (B, H, T, hd) with each head's dims in Llama's halves order (pair i = dims i, i + hd/2):
    # the trainer's interleaved pairs (2i, 2i+1) permuted, which --init's tensors already are.
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, m, ternary):
        super().__init__()
        d = m["d_model"]
        self.h = m["n_heads"]
        self.q_proj = BitLinear(d, d, ternary)
        self.k_proj = BitLinear(d, d, ternary)
        self.v_proj = BitLinear(d, d, ternary)
        self.o_proj = BitLinear(d, d, ternary)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        shape = (B, T, self.h, C // self.h)
        xq = self.q_proj.quant_input(x)
        q = rope(self.q_proj(xq, True).view(shape).transpose(1, 2), cos, sin)
        k = rope(self.k_proj(xq, True).view(shape).transpose(1, 2), cos, sin)
        v = self.v_proj(xq, True).view(shape).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, C))


class Mlp(nn.Module):
    def __init__(self, m, ternary, gated):
        super().__init__()
        d, f = m["d_model"], m["ffn_dim"]
        self.gated = gated
        if gated:
            self.gate_proj = BitLinear(d, f, ternary)
        self.up_proj = BitLinear(d, f, ternary)
        self.down_proj = BitLinear(f, d, ternary)

    def forward(self, x):
        if not self.gated:
            return self.down_proj(F.silu(self.up_proj(x)))
        xq = self.up_proj.quant_input(x)
        return self.down_proj(F.silu(self.gate_proj(xq, True)) * self.up_proj(xq, True))


class Layer(nn.Module):
    def __init__(self, m, ternary):
        super().__init__()
        eps = m.get("norm_eps", 1e-5)
        self.transformer = m["arch"] == "transformer"
        self.input_layernorm = RMSNorm(m["d_model"], eps)
        if self.transformer:
            self.self_attn = Attention(m, ternary)
            self.post_attention_layernorm = RMSNorm(m["d_model"], eps)
        self.mlp = Mlp(m, ternary, gated=self.transformer)

    def forward(self, x, cos, sin):
        if not self.transformer:
            return x + self.mlp(self.input_layernorm(x))
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Model(nn.Module):
    def __init__(self, m):
        super().__init__()
        ternary = m.get("quant", "ternary") == "ternary"
        self.embed_tokens = nn.Embedding(m["vocab_size"], m["d_model"])
        self.layers = nn.ModuleList(Layer(m, ternary) for _ in range(m["n_layers"]))
        self.norm = RMSNorm(m["d_model"], m.get("norm_eps", 1e-5))
        hd = m["d_model"] // max(1, m.get("n_heads", 1))
        cos, sin = rope_table(m["seq_len"], hd, m.get("rope_theta", 10000.0))
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        std = m.get("init_std", 0.02)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        x = self.embed_tokens(idx)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin)
        logits = self.norm(x) @ self.embed_tokens.weight.t()  # tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def llama_state_dict_names(model):
    # Our module names are the Llama ones without the "model." prefix.
    return {"model." + k: v for k, v in model.state_dict().items()}


def build(conf, args):
    m = conf["model"]
    model = Model(m)
    if args.init:
        from safetensors.torch import load_file
        tensors = load_file(args.init)
        own = llama_state_dict_names(model)
        missing = sorted(set(own) - set(tensors))
        if missing:
            sys.exit(f"{args.init}: missing tensors {missing[:5]}")
        with torch.no_grad():
            for name, t in own.items():
                t.copy_(tensors[name])
    o = conf.get("optimizer", {})
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    wd = o.get("weight_decay", 0.1)
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    if o.get("type", "adamw") == "sgd":
        opt = torch.optim.SGD(groups, lr=o.get("lr", 0.1), momentum=o.get("momentum", 0.9),
                              fused=True)
    else:
        opt = torch.optim.AdamW(groups, lr=o.get("lr", 1e-3),
                                betas=(o.get("beta1", 0.9), o.get("beta2", 0.95)),
                                eps=o.get("eps", 1e-8), fused=True)
    return model, opt


GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def batch_tokens(seed, step, B, T, V):
    """Tokens of update `step` (from 0), (B, T+1): token i of the run is
    splitmix64(seed + (i + 1) * GOLDEN) mod V, i counted over all updates (as TrainServe.batch)."""
    n = B * (T + 1)
    i = np.arange(step * n + 1, step * n + n + 1, dtype=np.uint64)
    z = np.uint64(seed) + i * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return torch.from_numpy((z % np.uint64(V)).astype(np.int64).reshape(B, T + 1))


class Steps:
    """The training state between commands: the update counter picks the batch."""

    def __init__(self, model, opt, seed, B, m, clip):
        self.model, self.opt, self.seed, self.B, self.m, self.clip = model, opt, seed, B, m, clip
        self.step = 0

    def run(self, n):
        T, V = self.m["seq_len"], self.m["vocab_size"]
        loss = float("nan")
        model_s = update_s = 0.0
        start = time.perf_counter()
        for _ in range(n):
            tokens = batch_tokens(self.seed, self.step, self.B, T, V)
            t0 = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            l = self.model(tokens[:, :-1], tokens[:, 1:])
            l.backward()
            t1 = time.perf_counter()
            if self.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.opt.step()
            t2 = time.perf_counter()
            loss = l.item()
            model_s += t1 - t0
            update_s += t2 - t1
            self.step += 1
        return {"steps": n, "seconds": time.perf_counter() - start, "model_seconds": model_s,
                "update_seconds": update_s, "loss": loss}


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conf", required=True, help="a FlashLM config JSON (conf/*.json)")
    ap.add_argument("--batch", type=int, help="batch size (default: data.batch_size)")
    ap.add_argument("--seq-len", type=int, help="sequence length (default: model.seq_len)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, help="default: the config's seed, else 1234")
    ap.add_argument("--init", help="initial weights, safetensors from `flashlm export`")
    ap.add_argument("--serve", action="store_true", help="read commands from stdin")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the model's forward and loss (the first step compiles)")
    ap.add_argument("--profile", type=int, metavar="ROWS",
                    help="one-shot: also print torch.profiler's top ROWS ops by self CPU time, "
                         "grouped by input shape")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    with open(args.conf) as f:
        conf = json.load(f)
    if args.seed is None:
        args.seed = conf.get("seed", 1234)
    torch.manual_seed(args.seed)
    m = conf["model"]
    if args.seq_len:
        m["seq_len"] = args.seq_len
    B = args.batch or conf.get("data", {}).get("batch_size", 8)
    clip = conf.get("grad_clip", 1.0)
    model, opt = build(conf, args)
    # The compiled module shares the parameters; the backward is compiled with the forward.
    steps = Steps(torch.compile(model) if args.compile else model, opt, args.seed, B, m, clip)
    params = sum(p.numel() for p in model.parameters())
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "params": params,
            "batch": B, "seq_len": m["seq_len"], "compiled": args.compile}
    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                break
            if cmd[0] == "steps":
                print(json.dumps(steps.run(int(cmd[1]))), flush=True)
            elif cmd[0] == "rss":
                print(json.dumps({"peak_rss_bytes": peak_rss_bytes()}), flush=True)
            else:
                print(json.dumps({"error": f"unknown command {cmd[0]!r}"}), flush=True)
        return
    steps.run(args.warmup)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            r = steps.run(args.steps)
        table = prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=args.profile, max_name_column_width=40,
            max_shapes_column_width=70)
        print(table, file=sys.stderr)
    else:
        r = steps.run(args.steps)
    tokens = args.steps * B * m["seq_len"]
    print(json.dumps({**info, **r, "tokens_per_s": tokens / r["seconds"],
                      "peak_rss_bytes": peak_rss_bytes()}))


if __name__ == "__main__":
    main()
