#!/usr/bin/env python3
"""Trainer benchmark: our trainer (flashlm.bench.TrainServe, C kernels via JNI) vs two PyTorch
twins (tests/bench/pytorch_train.py, eager and --compile) on the same model, interleaved in one run.

Run through tests/bench/train-benchmark.sh, which builds what this needs. For each model it
  1. measures the FMA peak (`flashlm_bench peak`, native/bench/bench.c, all threads; again between
     rounds and at the end: the highest seen is the machine's peak for the MFU, the lowest shows
     the contention),
  2. starts the trainers as servers: TrainServe initialises the model from the config's seed and
     writes the weights as safetensors, the twins load them, so all train the same model on the
     same tokens (their first losses must agree: printed),
  3. runs one step of each (the compiled twin compiles then) and --warmup more, then runs k steps
     of each in turn for R rounds, every trainer taking every place in the order in turn, so that
     whatever else the machine runs hits all alike (k is chosen so a chunk takes about
     --chunk-seconds),
  4. reads the peak RSS of each, stops them, measures the FMA peak again.
It prints one table row per model: median (and best) tokens/s over the rounds, the ratio ours /
twin for each twin (median over rounds of the ratio within a round) and against the faster twin
of the run (the one with the higher median tokens/s, named), model FLOPs per token, each one's
MFU (median tokens/s against the highest FMA peak seen), and peak RSS; then where the time of a
step goes (forward+backward vs clip+optimizer). All three trainers stay resident for the whole
model's run, so their memory adds up: v7-main B4 peaked at 4.3 (ours), 8.4 (eager) and 5.0 GiB
(compiled); at B8 ours and the compiled twin alone needed more than the 24 GB machine here had.

On a machine shared with other work the figures swing: an OpenMP barrier whose partner thread was
descheduled waits for it, so a busy neighbour can slow a 2-thread step several times over. The
within-round ratio and the best round are the steadier figures then; --threads 1 is steadier
still. Only the standard library here; the PyTorch side runs under --python.

Model FLOPs per token (training: forward + backward = 3 x forward), the formula used for all:
  6 * (P_matmul + V*d) + 6 * L * T * d   (the last term for transformers only)
P_matmul = the weights of all linears (transformer: L*(4 d^2 + 3 d f); ffn: L*2 d f); V*d the
tied output head (the embedding lookup itself is not a matmul); 6*L*T*d the causal attention
matmuls (QK^T and AV: PaLM's 12*L*T*d halved for the causal mask). Norms, activations, RoPE,
softmax, quantisation and the optimizer are not counted. The ternary forward runs in int8 in our
trainer; its MFU still counts those multiply-adds as fp32 FLOPs, so the two MFUs compare.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_MODELS = "v6.1:16,v6.1:64,v7-ts:8,v7-float:8,v7-main:4"


def flops_per_token(m):
    d, f, L, V, T = m["d_model"], m["ffn_dim"], m["n_layers"], m["vocab_size"], m["seq_len"]
    if m["arch"] == "transformer":
        return 6 * (L * (4 * d * d + 3 * d * f) + V * d) + 6 * L * T * d
    return 6 * (L * 2 * d * f + V * d)


class Server:
    """A trainer behind the serve protocol: one command line in, one JSON line out."""

    def __init__(self, name, cmd, env, log):
        self.name = name
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, text=True, bufsize=1, cwd=ROOT)
        self.info = self.read()
        if not self.info.get("ready"):
            self.fail(f"expected a ready line, got {self.info}")

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.fail("exited" if self.proc.poll() is not None else "closed its output")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.fail(f"printed a line that is not JSON: {line!r}")

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply = self.read()
        if "error" in reply:
            self.fail(reply["error"])
        return reply

    def fail(self, why):
        self.log.flush()
        with open(self.log_path) as f:
            tail = f.read()[-3000:]
        self.close()
        sys.exit(f"{self.name}: {why} (exit code {self.proc.poll()}); its stderr "
                 f"({self.log_path}) ends with:\n{tail}")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def omp_env(args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    return env


def peak(args, reps=None):
    env = omp_env(args)
    out = subprocess.run([args.peak, "peak", str(reps or args.peak_reps)], env=env,
                         capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)["gflops"]


def start(args, name, batch):
    conf = os.path.join(ROOT, "conf", name + ".json")
    env = omp_env(args)
    init = os.path.join(args.workdir, f"{name}-b{batch}-init.safetensors")
    servers = [Server("ours", ["java", f"-Xmx{args.java_heap}", "-XX:+UseSerialGC", "-cp",
                               args.java_cp, "flashlm.bench.TrainServe", "--conf", conf, "--set",
                               f"data.batch_size={batch}", "--write-init", init],
                      env, os.path.join(args.workdir, f"{name}-b{batch}-ours.log"))]
    try:
        for twin in args.twins:
            cmd = [args.python, os.path.join(HERE, "pytorch_train.py"), "--conf", conf, "--batch",
                   str(batch), "--threads", str(args.threads), "--serve", "--init", init]
            servers.append(Server(twin, cmd + (["--compile"] if twin == "compiled" else []), env,
                                  os.path.join(args.workdir, f"{name}-b{batch}-{twin}.log")))
    except BaseException:
        for s in servers:
            s.close()
        raise
    finally:
        os.remove(init)
    return servers


def bench_model(args, spec):
    name, batch = spec.split(":")
    batch = int(batch)
    with open(os.path.join(ROOT, "conf", name + ".json")) as f:
        m = json.load(f)["model"]
    tokens_per_step = batch * m["seq_len"]
    peaks = [peak(args)]
    servers = start(args, name, batch)
    try:
        # Step 1: the same weights and tokens, so the losses must agree; the compiled twin
        # compiles here. The warm-up steps then size the rounds.
        first = [s.ask("steps 1") for s in servers]
        timed = [s.ask(f"steps {args.warmup}") for s in servers] if args.warmup > 0 else first
        # The median trainer's step sizes the chunks (a twin's slow warm-up step, e.g. a
        # recompilation, would otherwise shrink every round to one step).
        per_step = statistics.median(r["seconds"] / r["steps"] for r in timed)
        k = max(1, round(args.chunk_seconds / per_step))
        losses = "  ".join(f"{s.name} {f['loss']:.5f}" for s, f in zip(servers, first))
        print(f"{spec}: first loss {losses}; {args.rounds} rounds of {k} steps each", flush=True)
        rounds = {s.name: [] for s in servers}
        for r in range(args.rounds):
            if r > 0:
                peaks.append(peak(args, reps=3))
            # Each trainer takes each place in the order in turn (ours first, then last, ...).
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order if r % 2 == 0 else order[::-1]:
                rounds[s.name].append(s.ask(f"steps {k}"))
            line = "  ".join(f"{s.name} {k * tokens_per_step / rounds[s.name][-1]['seconds']:,.0f}"
                             for s in servers)
            print(f"  round {r + 1}: tokens/s {line}", flush=True)
        rss = {s.name: s.ask("rss")["peak_rss_bytes"] for s in servers}
    finally:
        for s in servers:
            s.close()
    peaks.append(peak(args))
    fpt = flops_per_token(m)
    result = {"model": name, "batch": batch, "seq_len": m["seq_len"],
              "params": servers[0].info["params"], "flops_per_token": fpt, "peak_gflops": peaks,
              "steps_per_round": k, "twins": args.twins,
              "first_loss": {s.name: f["loss"] for s, f in zip(servers, first)},
              "last_loss": {n: rs[-1]["loss"] for n, rs in rounds.items()}}
    pk = max(peaks)
    for n, rs in rounds.items():
        tps = [k * tokens_per_step / r["seconds"] for r in rs]
        med = statistics.median(tps)
        steps = k * len(rs)
        result[n] = {"tokens_per_s": med, "best_tokens_per_s": max(tps), "rounds": tps,
                     "mfu": med * fpt / (pk * 1e9), "best_mfu": max(tps) * fpt / (pk * 1e9),
                     "peak_rss_bytes": rss[n],
                     "model_s_per_step": sum(r["model_seconds"] for r in rs) / steps,
                     "update_s_per_step": sum(r["update_seconds"] for r in rs) / steps,
                     "s_per_step": sum(r["seconds"] for r in rs) / steps}
    for twin in args.twins:
        result[twin]["ratio"] = statistics.median(
            o / t for o, t in zip(result["ours"]["rounds"], result[twin]["rounds"]))
    # The baseline is the faster twin (higher median tokens/s) of this run.
    fastest = max(args.twins, key=lambda t: result[t]["tokens_per_s"])
    result["fastest_twin"] = fastest
    result["ratio"] = result[fastest]["ratio"]
    return result


def report(results, args):
    print()
    policy = f", OMP_WAIT_POLICY={args.omp_wait_policy}" if args.omp_wait_policy else ""
    print(f"Trainer benchmark, {args.threads} threads{policy}, {args.rounds} interleaved rounds, "
          f"PyTorch twins: {', '.join(args.twins)}. tok/s: median (best) over the rounds; "
          "ours/twin: median of the within-round ratios; 'vs fastest': against the twin with the "
          "higher median tok/s (named); MFU: median tok/s x FLOP/token against the highest FMA "
          "peak seen in that model's run (peak column: highest/lowest)")
    twins = args.twins
    head = ("| model | B | params | MFLOP/token | FMA peak GFLOP/s | ours tok/s | "
            + " | ".join(f"{t} tok/s" for t in twins) + " | "
            + " | ".join(f"ours/{t}" for t in twins) + " | vs fastest | MFU ours/"
            + "/".join(twins) + " | RSS MiB ours/" + "/".join(twins) + " | first loss ours/"
            + "/".join(twins) + " |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    names = ["ours"] + twins
    for r in results:
        cells = [r["model"], str(r["batch"]), f"{r['params'] / 1e6:.1f}M",
                 f"{r['flops_per_token'] / 1e6:.1f}",
                 f"{max(r['peak_gflops']):.0f}/{min(r['peak_gflops']):.0f}"]
        cells += [f"{r[n]['tokens_per_s']:,.0f} ({r[n]['best_tokens_per_s']:,.0f})" for n in names]
        cells += [f"{r[t]['ratio']:.2f}x" for t in twins]
        cells.append(f"{r['ratio']:.2f}x ({r['fastest_twin']})")
        cells.append(" / ".join(f"{r[n]['mfu'] * 100:.0f}%" for n in names))
        cells.append(" / ".join(f"{r[n]['peak_rss_bytes'] / 2**20:,.0f}" for n in names))
        cells.append("/".join(f"{r['first_loss'][n]:.4f}" for n in names))
        print("| " + " | ".join(cells) + " |")
    print()
    print("Where a step's time goes (seconds per step, mean over the rounds): forward+backward "
          "/ clip+optimizer / rest (batch generation, JNI/Python overhead)")
    print("| model | B | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for r in results:
        cells = []
        for n in names:
            x = r[n]
            rest = x["s_per_step"] - x["model_s_per_step"] - x["update_s_per_step"]
            cells.append(f"{x['model_s_per_step']:.3f} / {x['update_s_per_step']:.3f} / "
                         f"{rest:.3f}")
        print(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help=f"comma-separated CONF:BATCH, CONF a file conf/CONF.json (default "
                         f"{DEFAULT_MODELS})")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--chunk-seconds", type=float, default=5.0,
                    help="about how long one trainer's steps of one round take (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="steps after the first, untimed (default 1; 0: the first step sizes "
                         "the rounds)")
    ap.add_argument("--threads", type=int, default=2,
                    help="OMP_NUM_THREADS for ours and the peak, torch threads (default 2)")
    ap.add_argument("--omp-wait-policy", choices=("active", "passive"),
                    help="OMP_WAIT_POLICY for both (default: unset, libgomp spins a while). On a "
                         "machine shared with other work, spinning threads wait for descheduled "
                         "ones at every barrier; 'passive' tames that for both alike")
    ap.add_argument("--twins", default="eager,compiled",
                    help="PyTorch twins to run, comma-separated: eager (pytorch_train.py) and/or "
                         "compiled (pytorch_train.py --compile) (default both)")
    ap.add_argument("--java-cp", required=True, help="classpath holding flashlm.bench.TrainServe")
    ap.add_argument("--java-heap", default="1g", help="-Xmx of our trainer's JVM (default 1g; "
                    "the model lives in native memory)")
    ap.add_argument("--python", default=sys.executable,
                    help="a python with torch, numpy and safetensors (default this one)")
    ap.add_argument("--peak", required=True, help="native/target/build/<platform>/flashlm_bench (its peak mode)")
    ap.add_argument("--peak-reps", type=int, default=5)
    ap.add_argument("--workdir", required=True, help="for init weights and server logs")
    ap.add_argument("--json", help="also write the results here, one JSON line per model")
    args = ap.parse_args()
    args.twins = [t.strip() for t in args.twins.split(",") if t.strip()]
    if not args.twins or set(args.twins) - {"eager", "compiled"}:
        ap.error(f"--twins {','.join(args.twins)}: expected eager and/or compiled")
    os.makedirs(args.workdir, exist_ok=True)
    results = []
    started = time.time()
    for spec in args.models.split(","):
        results.append(bench_model(args, spec.strip()))
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(results[-1]) + "\n")
    report(results, args)
    print(f"\n({time.time() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
