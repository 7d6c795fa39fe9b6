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
import json
import math
import os

import torch
import torch.nn.functional as F

import torch_timing
from torch_attention import bench_args, LN_TAU, SampledBlocks, attention_tflops, flex_baselines, linear_baseline, load, rel, sdpa_baselines

args, ours = bench_args("/tmp/attn-bench")
B, H, L, D = ours["B"], ours["H"], ours["L"], ours["D"]
dev = torch.device("cuda")
scale = 1.0 / math.sqrt(D)


def load_bf16(name, shape):
    return load(args.dir, name, "bf16", shape, dev)


def load_f32(name, shape):
    return load(args.dir, name, "f32", shape, dev)


def cuda_ms(fn):
    return torch_timing.cuda_ms(fn, args.iters)


q = load_bf16("q.bin", (B, H, L, D))
k = load_bf16("k.bin", (B, H, L, D))
v = load_bf16("v.bin", (B, H, L, D))
pairs = B * H * L * L
res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "B": B, "H": H, "L": L, "D": D, "baselines": sdpa_baselines(q, k, v, cuda_ms, pairs), "checks": [], "gemm": []}
flex, flex_rows, layouts = flex_baselines(q, k, v, ours.get("masks", []), args.dir, cuda_ms, pairs)
res["baselines"] += flex_rows

# ---- float32 checks on sampled query blocks ----
sample = SampledBlocks(L, args.check_blocks, dev)
blocks, rows, nQ = sample.blocks, sample.rows, sample.nQ
ref_out, ref_lse = sample.reference(q, k, v, scale)
dense_out = load_bf16("ours_dense.bin", (B, H, L, D))[0][:, rows].float()
dense_lse = load_f32("ours_dense_lse.bin", (B, H, L))[0][:, rows]
res["checks"].append({"case": "dense out", "rel_err": rel(dense_out, ref_out)})
res["checks"].append({"case": "dense lse", "max_abs_err": (dense_lse - ref_lse).abs().max().item()})


def map_check(tag, file, qq, kk):
    """Our map of the sampled query blocks against f32 scores and f32 lse."""
    ours_map = load_f32(file, (B, H, nQ, nQ))[0][:, blocks]
    ref_map = sample.reference_map(qq, kk, scale)
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
            thr = (lse + LN_TAU) / scale
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
    got = load_bf16(f"ours_sparse_{d}.bin", (B, H, L, D))[0][:, rows].float()
    res["checks"].append(sample.sparse_check(q, k, v, scale, d, layouts[d], flex, got))

# ---- GEMM: torch's bf16 linear at the same shapes ----
res["gemm"] = [linear_baseline(g["M"], g["K"], g["N"], torch.bfloat16, cuda_ms, dev) for g in ours.get("gemm", [])]

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
        plain = a.get("plain", a["case"].replace("dense+map", "dense"))
        refs = [{"case": f"our {plain}", "ms": plain_ms[plain], "tflops": attention_tflops(plain_ms[plain], D, pairs)}]
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
