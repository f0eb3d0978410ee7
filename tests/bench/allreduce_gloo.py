#!/usr/bin/env python3
"""PyTorch Gloo allreduce on loopback, measured as native/bench/bench.c measures the ring.

  allreduce_gloo.py measure [--worlds 2,4] [--reps R] [--mb 1,4,16,64,256]
      w processes (torch.distributed, backend gloo, TCP rendezvous on 127.0.0.1, one intra-op
      thread each); for each size one warm-up all_reduce (SUM, float32), then R timed calls,
      each after a barrier, rank 0's wall time and its process's CPU time (all threads). Prints
      "RESULT gloo w bytes median_s best_s median_cpu_s" lines and a table of bus bandwidth
      (NCCL's definition: 2(w-1)/w * bytes / time).
  allreduce_gloo.py summarize FILE...
      reads RESULT lines (from this script and from `flashlm_bench allreduce`, several rounds)
      and prints, per world size and size, the bus bandwidth of each implementation (the median
      over rounds of each round's median, and the best call seen), ours / Gloo, and the CPU time
      per call of each (rank 0's process: the figure least disturbed by other work on the
      machine, which steals time slices from both).

Run through tests/bench/allreduce-benchmark.sh, which alternates the two so that whatever else
the machine runs hits both alike.
"""
import argparse
import collections
import os
import socket
import statistics
import sys
import time


def bus_factor(world):
    return 2.0 * (world - 1) / world


def rank_main(rank, world, port, sizes_mb, reps, out):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    most = max(sizes_mb) << 18
    x = torch.full((most,), 1e-3, dtype=torch.float32)
    for mb in sizes_mb:
        t = x[: mb << 18]
        dist.all_reduce(t)  # warm-up: pages touched, connections and buffers set up
        times, cpus = [], []
        for _ in range(reps):
            dist.barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        if rank == 0:
            out.put((mb << 20, statistics.median(times), min(times), statistics.median(cpus)))
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(args):
    import torch.multiprocessing as mp

    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    sizes = [int(s) for s in args.mb.split(",")]
    ctx = mp.get_context("spawn")
    for world in [int(w) for w in args.worlds.split(",")]:
        out = ctx.Queue()
        port = free_port()
        procs = [ctx.Process(target=rank_main, args=(r, world, port, sizes, args.reps, out))
                 for r in range(world)]
        for p in procs:
            p.start()
        rows = [out.get() for _ in sizes]
        for p in procs:
            p.join()
            if p.exitcode:
                sys.exit(f"gloo rank exited with {p.exitcode}")
        print(f"gloo allreduce, {world} processes, median (best) of {args.reps}, "
              "bus bandwidth GB/s")
        for nbytes, med, best, cpu in rows:
            f = bus_factor(world) * nbytes / 1e9
            print(f"{nbytes >> 20:6d} MB  {f / med:6.2f} ({f / best:6.2f})  CPU {cpu * 1e3:.2f} ms")
        for nbytes, med, best, cpu in rows:
            print(f"RESULT gloo {world} {nbytes} {med:.6f} {best:.6f} {cpu:.6f}")
        sys.stdout.flush()


def summarize(args):
    # (impl, world, bytes) -> list of (median, best, cpu), one per round
    runs = collections.defaultdict(list)
    for name in args.files:
        with open(name) as f:
            for line in f:
                p = line.split()
                if len(p) == 7 and p[0] == "RESULT":
                    runs[(p[1], int(p[2]), int(p[3]))].append(tuple(map(float, p[4:])))

    def bw(impl, world, nbytes):
        r = runs.get((impl, world, nbytes))
        if not r:
            return None, None
        f = (bus_factor(world) if impl != "stream" else 1.0) * nbytes / 1e9
        return f / statistics.median(m for m, _, _ in r), f / min(b for _, b, _ in r)

    def cpu_ms(impl, world, nbytes):
        r = runs.get((impl, world, nbytes))
        return 1e3 * statistics.median(c for _, _, c in r) if r else None

    rounds = max((len(v) for v in runs.values()), default=0)
    print(f"bus bandwidth GB/s on loopback: median over {rounds} round(s) of each round's "
          "median (best single call); stream = one TCP stream, bytes/time")
    print(f"{'ranks':>5} {'size':>7} | {'ours (ring)':>15} | {'Gloo':>15} | {'ours/Gloo':>9} | "
          f"{'TCP stream':>15} | {'CPU ms/call ours, Gloo':>22}")
    sizes = sorted({k[2] for k in runs})
    for world in sorted({k[1] for k in runs if k[0] != "stream"}):
        for nbytes in sizes:
            ours, ours_best = bw("ring", world, nbytes)
            gloo, gloo_best = bw("gloo", world, nbytes)
            stream, stream_best = bw("stream", 2, nbytes)

            def cell(v, b):
                return f"{v:6.2f} ({b:6.2f})" if v else f"{'-':>15}"

            ratio = f"{ours / gloo:8.2f}x" if ours and gloo else f"{'-':>9}"
            co, cg = cpu_ms("ring", world, nbytes), cpu_ms("gloo", world, nbytes)
            cpus = f"{co:9.2f} {cg:9.2f}" if co is not None and cg is not None else ""
            print(f"{world:>5} {nbytes >> 20:>4} MB | {cell(ours, ours_best)} | "
                  f"{cell(gloo, gloo_best)} | {ratio} | {cell(stream, stream_best)} | {cpus:>22}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--worlds", default="2,4")
    m.add_argument("--reps", type=int, default=5)
    m.add_argument("--mb", default="1,4,16,64,256")
    s = sub.add_parser("summarize")
    s.add_argument("files", nargs="+")
    args = ap.parse_args()
    measure(args) if args.cmd == "measure" else summarize(args)


if __name__ == "__main__":
    main()
