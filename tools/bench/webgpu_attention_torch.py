"""PyTorch baselines and float32 checks for tools/bench/webgpu-attention.mjs (f16), same inputs.

Reads what webgpu-attention.mjs wrote under --dir (q/k/v f16, FlexAttention layouts of the
masks, our outputs, ours.json), then on the same GPU times SDPA (flash, cuDNN) dense,
FlexAttention (torch.compile) with the SAME block masks, and F.linear at the GEMM shapes,
all in f16; and checks our outputs against float32 math on sampled query blocks.
Writes webgpu-bench.json and webgpu-bench.md to --out.

Usage: python tools/bench/webgpu_attention_torch.py --dir /tmp/webgpu-bench --out $OUT [--command "..."]
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, flex_attention

import torch_timing

ap = argparse.ArgumentParser()
ap.add_argument("--dir", default="/tmp/webgpu-bench")
ap.add_argument("--out", default=".")
ap.add_argument("--iters", type=int, default=10)
ap.add_argument("--check-blocks", type=int, default=6)
ap.add_argument("--command", default="")
args = ap.parse_args()

ours = json.load(open(os.path.join(args.dir, "ours.json")))
B, H, L, D = ours["B"], ours["H"], ours["L"], ours["D"]
BS = 128
dev = torch.device("cuda")
scale = 1.0 / math.sqrt(D)


def load_f16(name, shape):
    raw = np.fromfile(os.path.join(args.dir, name), dtype=np.float16)
    return torch.from_numpy(raw).reshape(shape).to(dev)


def load_f32(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(args.dir, name), dtype=np.float32)).reshape(shape).to(dev)


def cuda_ms(fn):
    return torch_timing.cuda_ms(fn, args.iters)


q, k, v = (load_f16(f"{n}.bin", (B, H, L, D)) for n in "qkv")
pairs = B * H * L * L
tflops = lambda ms, p: 4 * D * p / (ms * 1e-3) / 1e12
res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "baselines": [], "checks": [], "gemm": []}
for name, be in [("sdpa flash", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION)]:
    try:
        with sdpa_kernel(be):
            ms = cuda_ms(lambda: F.scaled_dot_product_attention(q, k, v))
        res["baselines"].append({"case": name, "ms": ms, "tflops": tflops(ms, pairs)})
    except RuntimeError as e:
        res["baselines"].append({"case": name, "error": str(e)[:200]})

nQ = (L + BS - 1) // BS
flex = torch.compile(flex_attention, dynamic=False)
layouts = {}
for m in ours["masks"]:
    d = m["density"]
    num = torch.from_numpy(np.fromfile(os.path.join(args.dir, f"mask_{d}_num.bin"), dtype=np.int32)).reshape(1, H, nQ).to(dev)
    idx = torch.from_numpy(np.fromfile(os.path.join(args.dir, f"mask_{d}_idx.bin"), dtype=np.int32)).reshape(1, H, nQ, m["nK"]).to(dev)
    bm = BlockMask.from_kv_blocks(num, idx, BLOCK_SIZE=BS, seq_lengths=(L, L))
    layouts[d] = (num, idx, bm)
    ms = cuda_ms(lambda: flex(q, k, v, block_mask=bm))
    res["baselines"].append({"case": f"flex {d}", "density": m["actual"], "ms": ms, "tflops": tflops(ms, pairs * m["actual"])})

# float32 checks on sampled query blocks (first, last (ragged), spread between)
blocks = sorted(set([0, nQ - 1] + [int(x) for x in np.linspace(0, nQ - 1, args.check_blocks)]))
rows = torch.cat([torch.arange(b * BS, min(L, (b + 1) * BS)) for b in blocks]).to(dev)
kf, vf = k.float(), v.float()


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def reference(token_mask=None):
    outs, lses = [], []
    for h in range(H):
        s = (q[0, h, rows].float() @ kf[0, h].T) * scale
        if token_mask is not None:
            s = s.masked_fill(~token_mask[h], float("-inf"))
        lse = torch.logsumexp(s, dim=-1)
        outs.append(torch.exp(s - lse[:, None]).nan_to_num(0.0) @ vf[0, h])
        lses.append(lse)
    return torch.stack(outs), torch.stack(lses)


ref_out, ref_lse = reference()
res["checks"].append({"case": "dense out", "rel_err": rel(load_f16("ours_dense.bin", (B, H, L, D))[0][:, rows].float(), ref_out)})
res["checks"].append({"case": "dense lse", "max_abs_err": (load_f32("ours_dense_lse.bin", (B, H, L))[0][:, rows] - ref_lse).abs().max().item()})
ours_map = load_f32("ours_map.bin", (B, H, nQ, nQ))[0][:, blocks]
ref_map = torch.zeros(H, len(blocks), nQ, device=dev)
for h in range(H):
    s = (q[0, h, rows].float() @ kf[0, h].T) * scale
    neg = (s - torch.logsumexp(s, dim=-1)[:, None]) < math.log(1e-4)
    r0 = 0
    for bi, b in enumerate(blocks):
        nr = min(L, (b + 1) * BS) - b * BS
        counts = F.pad(neg[r0 : r0 + nr].float().sum(0), (0, nQ * BS - L))
        r0 += nr
        cols = torch.full((nQ,), float(BS), device=dev)
        cols[-1] = L - (nQ - 1) * BS
        ref_map[h, bi] = counts.view(nQ, BS).sum(1) / (nr * cols)
diff = (ours_map - ref_map).abs()
res["checks"].append({"case": "map", "max_abs_err": diff.max().item(), "mean_abs_err": diff.mean().item()})
for m in ours["masks"]:
    d = m["density"]
    num, idx, bm = layouts[d]
    active = torch.zeros(H, nQ, nQ, dtype=torch.bool, device=dev)
    for h in range(H):
        for b in blocks:
            active[h, b, idx[0, h, b, : num[0, h, b]].long()] = True
    block_rows = torch.tensor([b for b in blocks for _ in range(min(L, (b + 1) * BS) - b * BS)], device=dev)
    token_mask = active[:, block_rows].repeat_interleave(BS, dim=-1)[..., :L]
    ref_o, _ = reference(token_mask)
    got = load_f16(f"ours_sparse_{d}.bin", (B, H, L, D))[0][:, rows].float()
    flex_o = flex(q, k, v, block_mask=bm)[0][:, rows].float()
    res["checks"].append({"case": f"sparse {d} out", "rel_err": rel(got, ref_o), "flex_rel_err": rel(flex_o, ref_o)})

seen = set()
for g in ours["gemm"]:
    M, K, N = g["M"], g["K"], g["N"]
    if (M, K, N) in seen:
        continue
    seen.add((M, K, N))
    a = torch.randn(M, K, device=dev, dtype=torch.float16)
    w = torch.randn(N, K, device=dev, dtype=torch.float16) * 0.03
    bias = torch.randn(N, device=dev, dtype=torch.float16) * 0.1
    ms = cuda_ms(lambda: F.linear(a, w, bias))
    res["gemm"].append({"M": M, "K": K, "N": N, "ms": ms, "tflops": 2 * M * N * K / (ms * 1e-3) / 1e12})

base = {b["case"]: b for b in res["baselines"] if "ms" in b}
lines = [f"Device: {res['device']} (ours: {ours['device']}; timer: {ours.get('timer', 'wall')}), torch {res['torch']}; B={B} H={H} L={L} D={D}, f16.", ""]
if args.command:
    lines += [f"Command: `{args.command}`", ""]
lines += ["| kernel | case | ours ms (median [min-max]) | ours TFLOP/s | baseline | baseline ms | baseline TFLOP/s | ours / baseline throughput |", "|---|---|---|---|---|---|---|---|"]
dense_ms = {a["kernel"]: a["ms"] for a in ours["attention"] if a["case"] == "dense"}
for a in ours["attention"]:
    if a["case"] == "dense":
        refs = [base.get("sdpa flash"), base.get("sdpa cudnn")]
    elif a["case"].startswith("sparse"):
        refs = [base.get(f"flex {a['targetDensity']}")]
    else:
        refs = [{"case": "our dense, same kernel", "ms": dense_ms[a["kernel"]], "tflops": tflops(dense_ms[a["kernel"]], pairs)}]
    extra = f" (actual {a['density']:.3f}; time {a['vsDense']:.3f}x dense, target <= {a['bound']:.3f}x)" if "density" in a else ""
    spread = f"{a['ms']:.2f} [{a['min']:.2f}-{a['max']:.2f}]" if "min" in a else f"{a['ms']:.2f}"
    for r in refs:
        if r is None:
            continue
        lines.append(f"| {a['kernel']} | {a['case']}{extra} | {spread} | {a['tflops']:.1f} | {r['case']} | {r['ms']:.2f} | {r['tflops']:.0f} | {r['ms'] / a['ms']:.3f}x |")
tg = {(t["M"], t["K"], t["N"]): t for t in res["gemm"]}
for g in ours["gemm"]:
    t = tg[(g["M"], g["K"], g["N"])]
    spread = f"{g['ms']:.3f} [{g['min']:.3f}-{g['max']:.3f}]" if "min" in g else f"{g['ms']:.3f}"
    lines.append(f"| GEMM {g['config']} | [{g['M']},{g['K']}]x[{g['N']},{g['K']}]^T+bias | {spread} | {g['tflops']:.1f} | torch F.linear | {t['ms']:.3f} | {t['tflops']:.0f} | {t['ms'] / g['ms']:.3f}x |")
lines += ["", f"| check (ours f16 vs float32 PyTorch, sampled query blocks {blocks}) | value |", "|---|---|"]
for c in res["checks"]:
    lines.append(f"| {c['case']} | " + ", ".join(f"{kk} {vv:.3g}" for kk, vv in c.items() if kk != "case") + " |")
table = "\n".join(lines)
os.makedirs(args.out, exist_ok=True)
json.dump({"ours": ours, "torch": res}, open(os.path.join(args.out, "webgpu-bench.json"), "w"), indent=1)
open(os.path.join(args.out, "webgpu-bench.md"), "w").write(table + "\n")
print(table)
