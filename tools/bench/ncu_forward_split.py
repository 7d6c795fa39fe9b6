"""GPU time per op category of each Wan forward in an Nsight Compute kernel log.

The log comes from profiling tools/reference/wan-forward.mjs with one metric per kernel, clocks
and caches left alone (kernels run one at a time under ncu, so the times are each kernel's own,
without launch gaps or overlap):

  ncu --metrics gpu__time_duration.sum --clock-control none --cache-control none --csv \\
      --log-file ncu-forward.csv node tools/reference/wan-forward.mjs --backend cuda \\
      --model t2v-1.3B --dtype bf16 --iters 1 --attention dense,mod --density 0.2 --layers 4
  python3 tools/bench/ncu_forward_split.py ncu-forward.csv[.gz]

A forward starts at its patchify (the strided copy of the latent into tokens); the short spans
between forwards (output unpatchify, read-back) are folded into the forward before them.
Self-attention, the map variant and cross-attention are told apart by kernel name and length.
"""

import csv
import gzip
import sys
from collections import Counter


def category(name, us):
    if name.startswith("flash_sm90_map"):
        return "self-attention + map"
    if name.startswith("flash"):
        # cross-attention: 512 text keys, a fraction of a self-attention call
        return "cross-attention" if us < 1000 else "self-attention"
    if name.startswith("nvjet") or "gemm" in name.lower():
        return "GEMM"
    if name.startswith("residual_layernorm"):
        return "residualLayerNorm"
    if name.startswith("rmsnorm_rope"):
        return "rope3d + RMSNorm"
    if name.startswith("rmsnorm"):
        return "rmsNorm"
    return "other (casts, adds, norms, copies)"


def main(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = list(csv.reader(f))
    head = next(i for i, r in enumerate(rows) if r and r[0] == "ID")
    h = rows[head]
    name, value, unit, grid = (h.index(k) for k in ("Kernel Name", "Metric Value", "Metric Unit", "Grid Size"))
    scale = {"ns": 1e-3, "us": 1.0, "usecond": 1.0, "nsecond": 1e-3, "ms": 1e3}
    kernels = [(r[name], float(r[value].replace(",", "")) * scale[r[unit]], r[grid]) for r in rows[head + 1:]]
    starts = [i for i, (k, _, g) in enumerate(kernels) if k.startswith("copy_e4") and g.startswith("(2112")]
    # a forward runs from one patchify to the next; copies a few kernels after a forward's
    # start (its output's unpatchify) stay in it
    bounds = []
    for s in starts:
        if not bounds or s - bounds[-1] > 10:
            bounds.append(s)
    segments = list(zip(bounds, bounds[1:] + [len(kernels)]))
    if len(segments) > 1 and segments[-1][1] - segments[-1][0] <= 10:
        segments[-2:] = [(segments[-2][0], segments[-1][1])]
    for n, (a, b) in enumerate(segments):
        cats = Counter()
        for k, us, _ in kernels[a:b]:
            cats[category(k, us)] += us
        total = sum(cats.values())
        print(f"forward {n}: {b - a} kernels, {total / 1e3:.2f} ms")
        for c, us in cats.most_common():
            print(f"  {c:36s} {us / 1e3:8.3f} ms  {100 * us / total:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1])
