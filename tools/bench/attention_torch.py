"""PyTorch baselines and float32 checks for tools/bench/attention.mjs, on the same inputs.

Reads what attention.mjs wrote under --dir (q/k/v bf16, the FlexAttention layout of every
mask, our outputs and timings in ours.json), then on the same GPU:
  * times SDPA with the flash and the cuDNN backends (dense) and FlexAttention with the SAME
    block masks (BlockMask.from_kv_blocks, block 128), torch.compile'd;
  * times torch's bf16 linear (x @ W^T + b) at the GEMM shapes of ours.json;
  * checks our bf16 outputs (dense out + lse, sparsity map, sparse outs) against float32 math
    on sampled query blocks (full 128-row blocks, so map rows are complete);
  * emulates the mma.sync map kernel's bound-and-recheck (128-row CTAs, 64-key tiles, diagonal
    first) on float32 scores: the fraction of map blocks it must recheck on these inputs.
Writes bench.json and a markdown table to --out (and prints them).

Usage: python tools/bench/attention_torch.py --dir /tmp/attn-bench --out $OUT [--iters 10]
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
ap.add_argument("--dir", default="/tmp/attn-bench")
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


def load_bf16(name, shape):
    raw = np.fromfile(os.path.join(args.dir, name), dtype=np.uint16)
    return torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16).reshape(shape).to(dev)


def load_f32(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(args.dir, name), dtype=np.float32)).reshape(shape).to(dev)


def cuda_ms(fn):
    return torch_timing.cuda_ms(fn, args.iters)


q = load_bf16("q.bin", (B, H, L, D))
k = load_bf16("k.bin", (B, H, L, D))
v = load_bf16("v.bin", (B, H, L, D))
pairs = B * H * L * L
tflops = lambda ms, p: 4 * D * p / (ms * 1e-3) / 1e12

res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "B": B, "H": H, "L": L, "D": D, "baselines": [], "checks": [], "gemm": []}
for name, backend in [("sdpa flash", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION)]:
    try:
        with sdpa_kernel(backend):
            ms = cuda_ms(lambda: F.scaled_dot_product_attention(q, k, v))
        res["baselines"].append({"case": name, "ms": ms, "tflops": tflops(ms, pairs)})
    except RuntimeError as e:  # a backend the build or shape does not support
        res["baselines"].append({"case": name, "error": str(e)[:200]})

nQ = (L + BS - 1) // BS
flex = torch.compile(flex_attention, dynamic=False)
flex_masks = {}
for m in ours.get("masks", []):
    d = m["density"]
    num = torch.from_numpy(np.fromfile(os.path.join(args.dir, f"mask_{d}_num.bin"), dtype=np.int32)).reshape(1, H, nQ).to(dev)
    idx = torch.from_numpy(np.fromfile(os.path.join(args.dir, f"mask_{d}_idx.bin"), dtype=np.int32)).reshape(1, H, nQ, m["nK"]).to(dev)
    bm = BlockMask.from_kv_blocks(num, idx, BLOCK_SIZE=BS, seq_lengths=(L, L))
    flex_masks[d] = (num, idx)
    ms = cuda_ms(lambda: flex(q, k, v, block_mask=bm))
    res["baselines"].append({"case": f"flex {d}", "density": m["actual"], "ms": ms, "tflops": tflops(ms, pairs * m["actual"])})

# ---- float32 checks on sampled query blocks (first, last (ragged), and spread between) ----
blocks = sorted(set([0, nQ - 1] + [int(x) for x in np.linspace(0, nQ - 1, args.check_blocks)]))
rows = torch.cat([torch.arange(b * BS, min(L, (b + 1) * BS)) for b in blocks]).to(dev)
kf, vf = k.float(), v.float()


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def reference(token_mask=None):
    """f32 attention of the sampled rows; token_mask [H, R, L] bool (True = active)."""
    outs, lses = [], []
    for h in range(H):
        s = (q[0, h, rows].float() @ kf[0, h].T) * scale
        if token_mask is not None:
            s = s.masked_fill(~token_mask[h], float("-inf"))
        lse = torch.logsumexp(s, dim=-1)
        p = torch.exp(s - lse[:, None]).nan_to_num(0.0)
        outs.append(p @ vf[0, h])
        lses.append(lse)
    return torch.stack(outs), torch.stack(lses)


dense_out = load_bf16("ours_dense.bin", (B, H, L, D))[0][:, rows].float()
dense_lse = load_f32("ours_dense_lse.bin", (B, H, L))[0][:, rows]
ref_out, ref_lse = reference()
res["checks"].append({"case": "dense out", "rel_err": rel(dense_out, ref_out)})
res["checks"].append({"case": "dense lse", "max_abs_err": (dense_lse - ref_lse).abs().max().item()})
nKm = nQ
ln_tau = math.log(1e-4)


def map_check(tag, file, qq, kk):
    """Our map of the sampled query blocks against f32 scores and f32 lse."""
    ours_map = load_f32(file, (B, H, nQ, nKm))[0][:, blocks]
    ref_map = torch.zeros(H, len(blocks), nKm, device=dev)
    for h in range(H):
        s = (qq[0, h, rows].float() @ kk[0, h].float().T) * scale
        neg = (s - torch.logsumexp(s, dim=-1)[:, None]) < ln_tau
        r0 = 0
        for bi, b in enumerate(blocks):
            nr = min(L, (b + 1) * BS) - b * BS
            counts = neg[r0 : r0 + nr].float().sum(0)
            r0 += nr
            padded = F.pad(counts, (0, nKm * BS - L))
            cols = torch.full((nKm,), float(BS), device=dev)
            cols[-1] = L - (nKm - 1) * BS
            ref_map[h, bi] = padded.view(nKm, BS).sum(1) / (nr * cols)
    diff = (ours_map - ref_map).abs()
    res["checks"].append({"case": tag, "max_abs_err": diff.max().item(), "mean_abs_err": diff.mean().item(), "mean_map": ref_map.mean().item()})


map_check("map", "ours_map.bin", q, k)
q_local = load_bf16("q_local.bin", (B, H, L, D))
k_local = load_bf16("k_local.bin", (B, H, L, D))
map_check("map (local inputs)", "ours_map_local.bin", q_local, k_local)


def recheck_fraction(qq, kk, chunk_ctas=32, BR=128, BC=64):
    """Fraction of (CTA, map block) pairs with X_J >= G in packages/cuda/kernels/attention.cu."""
    nT = (L + BC - 1) // BC
    flagged = total = 0
    for h in range(H):
        kh = kk[0, h].float()
        for c0 in range(0, nQ, chunk_ctas):
            r0, r1 = c0 * BR, min(L, (c0 + chunk_ctas) * BR)
            s = qq[0, h, r0:r1].float() @ kh.T  # raw scores
            lse = torch.logsumexp(s * scale, dim=-1)
            tm = F.pad(s, (0, nT * BC - L), value=float("-inf")).view(r1 - r0, nT, BC).amax(-1)  # tile maxima
            del s
            rows = torch.arange(r0, r1, device=dev)
            # each CTA sweeps its tiles from its diagonal tile on, wrapping around
            order = (torch.arange(nT, device=dev)[None, :] + (rows // BR * (BR // BC))[:, None]) % nT
            tm_rot = tm.gather(1, order)
            run_max = tm_rot.cummax(1).values
            x = torch.empty_like(tm).scatter_(1, order, tm_rot - run_max)
            m_final = run_max[:, -1]
            thr = (lse + ln_tau) / scale
            g_row = thr - m_final - 2.0**-10 * (thr.abs() + m_final.abs())
            cta = (rows // BR) - c0
            n_cta = int(cta.max().item()) + 1
            X = torch.full((n_cta, nT), float("-inf"), device=dev).index_reduce_(0, cta, x, "amax")
            X = F.pad(X, (0, (nT % 2) * 1), value=float("-inf")).view(n_cta, -1, 2).amax(-1)[:, :nQ]  # 64-key tiles -> 128-key blocks
            G = torch.full((n_cta,), float("inf"), device=dev).index_reduce_(0, cta, g_row, "amin")
            flagged += (X >= G[:, None]).sum().item()
            total += X.numel()
    return flagged / total


res["checks"].append({"case": "map blocks rechecked (mma.sync kernel, emulated)", "fraction": recheck_fraction(q, k)})
res["checks"].append({"case": "map blocks rechecked, local inputs (emulated)", "fraction": recheck_fraction(q_local, k_local)})

for m in ours.get("masks", []):
    d = m["density"]
    num, idx = flex_masks[d]
    active = torch.zeros(H, nQ, m["nK"], dtype=torch.bool, device=dev)
    for h in range(H):
        for b in blocks:
            active[h, b, idx[0, h, b, : num[0, h, b]].long()] = True
    block_rows = torch.tensor([b for b in blocks for _ in range(min(L, (b + 1) * BS) - b * BS)], device=dev)
    token_mask = active[:, block_rows].repeat_interleave(BS, dim=-1)[..., :L]
    ref_o, _ = reference(token_mask)
    got = load_bf16(f"ours_sparse_{d}.bin", (B, H, L, D))[0][:, rows].float()
    bm = BlockMask.from_kv_blocks(num, idx, BLOCK_SIZE=BS, seq_lengths=(L, L))
    flex_o = flex(q, k, v, block_mask=bm)[0][:, rows].float()
    res["checks"].append({"case": f"sparse {d} out", "rel_err": rel(got, ref_o), "flex_rel_err": rel(flex_o, ref_o)})

# ---- GEMM: torch's bf16 linear at the same shapes ----
for g in ours.get("gemm", []):
    M, K, N = g["M"], g["K"], g["N"]
    a = torch.randn(M, K, device=dev, dtype=torch.bfloat16)
    w = torch.randn(N, K, device=dev, dtype=torch.bfloat16) * 0.03
    bias = torch.randn(N, device=dev, dtype=torch.bfloat16) * 0.1
    ms = cuda_ms(lambda: F.linear(a, w, bias))
    res["gemm"].append({"M": M, "K": K, "N": N, "ms": ms, "tflops": 2 * M * N * K / (ms * 1e-3) / 1e12})

# ---- table ----
base = {b["case"]: b for b in res["baselines"] if "ms" in b}
lines = [f"Device: {res['device']}, torch {res['torch']}; shape B={B} H={H} L={L} D={D}, bf16.", ""]
if args.command:
    lines += [f"Command: `{args.command}`", ""]
lines += ["| case | kernel | ours ms | ours TFLOP/s | baseline | baseline ms | baseline TFLOP/s | ours / baseline throughput |", "|---|---|---|---|---|---|---|---|"]
plain_ms = {a["case"]: a["ms"] for a in ours["attention"] if a["case"].startswith("dense") and "map" not in a["case"]}
for a in ours["attention"]:
    if a["case"] in plain_ms:
        refs = [base.get("sdpa flash"), base.get("sdpa cudnn")]
    elif a["case"].startswith("dense+map"):
        plain = a["case"].replace("dense+map", "dense")
        refs = [{"case": f"our {plain}", "ms": plain_ms[plain], "tflops": tflops(plain_ms[plain], pairs)}]
    else:
        refs = [base.get(f"flex {a['targetDensity']}")]
    for r in refs:
        if r is None:
            continue
        lines.append(f"| {a['case']}" + (f" (actual {a['density']:.3f})" if "density" in a else "") + f" | {a.get('kernel', '')} | {a['ms']:.2f} | {a['tflops']:.0f} | {r['case']} | {r['ms']:.2f} | {r['tflops']:.0f} | {r['ms'] / a['ms']:.2f}x |")
for g, t in zip(ours.get("gemm", []), res["gemm"]):
    lines.append(f"| GEMM [{g['M']},{g['K']}]x[{g['K']},{g['N']}]+bias | cuBLASLt | {g['ms']:.2f} | {g['tflops']:.0f} | torch F.linear | {t['ms']:.2f} | {t['tflops']:.0f} | {t['ms'] / g['ms']:.2f}x |")
lines += ["", "| check (ours bf16 vs float32 PyTorch, sampled query blocks " + str(blocks) + ") | value |", "|---|---|"]
for c in res["checks"]:
    lines.append(f"| {c['case']} | " + ", ".join(f"{k} {v:.3g}" for k, v in c.items() if k != "case") + " |")
table = "\n".join(lines)
os.makedirs(args.out, exist_ok=True)
json.dump({"ours": ours, "torch": res}, open(os.path.join(args.out, "bench.json"), "w"), indent=1)
open(os.path.join(args.out, "bench.md"), "w").write(table + "\n")
print(table)
