#!/usr/bin/env python3
"""Static instruction mix of the innermost loops of the GEMM tile and the ternary x int8 product,
from the disassembly of a built libflashlm.so (x86_64 or aarch64), so the NEON and AVX2 kernels
can be compared without ARM hardware and without an emulator's timing.

  native/bench/inner_loops.py native/target/classes/flashlm/native/linux-aarch64/libflashlm.so
  native/bench/inner_loops.py native/target/classes/flashlm/native/linux-x86_64/libflashlm.so

Uses objdump (aarch64-linux-gnu-objdump for the aarch64 library, from binutils-aarch64-linux-gnu,
which the cross compiler brings). An innermost loop is a backward branch whose body holds no
other backward branch; for each one in the kernel functions that holds the kernel's arithmetic
(fp32 FMA for the GEMM, int8 multiply-accumulate for the ternary product) it takes the loop
with the most of it (the steady state; the others are edges) and prints the body's size, its
instructions by class, and the useful work per pass: fp32 FLOPs (2 per FMA lane) or int8
multiply-adds, so the work per instruction of the two ISAs compares.
"""
import re
import subprocess
import sys
from collections import Counter

# (function name pattern, kind) of the kernels to look at; static functions keep their names.
KERNELS = [(r"kernel_6x16", "gemm"), (r"ternary_matmul_(neon|avx2)", "ternary")]

# Classes by mnemonic, and the work each arithmetic instruction does (lanes x 2 for an FMA).
X86 = {
    "fma": (re.compile(r"^vfn?madd\d+ps$"), 16),       # 8 lanes x 2 FLOPs (ymm)
    "int8 mac": (re.compile(r"^vpmaddubsw$"), 32),      # 32 byte products summed in pairs
    "load": (re.compile(r"^(vmovups|vmovaps|vbroadcastss|vmovdqu|vmovdqa|vpbroadcast\w)$"), 0),
}
ARM = {
    "fma": (re.compile(r"^fmla$"), 8),                  # 4 lanes x 2 FLOPs (q register)
    "int8 mac": (re.compile(r"^(smlal2?|sdot)$"), 8),   # smlal: 8 byte products
    "load": (re.compile(r"^(ldr|ldp|ld1r?|ldur|ld1)$"), 0),
}


def disassemble(lib):
    with open(lib, "rb") as f:
        aarch64 = f.read(20)[18:20] == (183).to_bytes(2, "little")  # ELF e_machine EM_AARCH64
    tool = "aarch64-linux-gnu-objdump" if aarch64 else "objdump"
    out = subprocess.run([tool, "-d", "--no-show-raw-insn", lib], capture_output=True, text=True,
                         check=True).stdout
    funcs, name = {}, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.+)>:$", line)
        if m:
            name = m.group(2)
            funcs[name] = []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m and name:
            funcs[name].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return aarch64, funcs


def innermost_loops(insns, aarch64):
    index = {a: i for i, (a, _, _) in enumerate(insns)}
    back = []
    for i, (addr, op, args) in enumerate(insns):
        branch = op.startswith("b") if aarch64 else op.startswith("j")
        if not branch and not (aarch64 and op in ("cbz", "cbnz", "tbz", "tbnz")):
            continue
        m = re.search(r"\b([0-9a-f]+) <", args)
        if m and int(m.group(1), 16) <= addr and int(m.group(1), 16) in index:
            back.append((index[int(m.group(1), 16)], i))
    return [(s, e) for s, e in back
            if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in back)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    aarch64, funcs = disassemble(sys.argv[1])
    classes = ARM if aarch64 else X86
    print(f"{sys.argv[1]} ({'aarch64' if aarch64 else 'x86_64'})")
    for pattern, kind in KERNELS:
        want = "fma" if kind == "gemm" else "int8 mac"
        for fname in sorted(f for f in funcs if re.search(pattern, f)):
            insns = funcs[fname]
            best = None
            for s, e in innermost_loops(insns, aarch64):
                body = insns[s:e + 1]
                count = Counter()
                work = 0
                for _, op, _ in body:
                    for cls, (rx, w) in classes.items():
                        if rx.match(op):
                            count[cls] += 1
                            work += w
                            break
                    else:
                        count["other"] += 1
                if count[want] and (best is None or count[want] > best[1][want]):
                    best = (body, count, work)
            if best is None:
                continue
            body, count, work = best
            unit = "FLOPs" if kind == "gemm" else "int8 multiply-adds"
            mix = ", ".join(f"{c} {n}" for c, n in sorted(count.items()))
            print(f"  {fname} loop at {body[0][0]:#x}: {len(body)} instructions ({mix}); "
                  f"{work} {unit} per pass, {work / len(body):.1f} per instruction")


if __name__ == "__main__":
    main()
