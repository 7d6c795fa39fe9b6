"""PyTorch baselines and float32 checks for tools/bench/webgpu-attention.mjs (f16), same inputs.

Reads what webgpu-attention.mjs wrote under --dir (q/k/v f16, FlexAttention layouts of the
masks, our outputs, ours.json), then on the same GPU times SDPA (flash, cuDNN) dense,
FlexAttention (torch.compile) with the SAME block masks, and F.linear at the GEMM shapes,
all in f16; and checks our outputs against float32 math on sampled query blocks.
Where --dir also holds cuda.json (tools/bench/attention.mjs --backend cuda on the same shape and
masks, bf16, wall clock over N enqueued calls; webgpu_run.sh writes it), our CUDA backend's
dense, sparse and GEMM times are baselines too. Writes webgpu-bench.json and webgpu-bench.md to --out.

Usage: python tools/bench/webgpu_attention_torch.py --dir /tmp/webgpu-bench --out $OUT [--command "..."]
"""
import json
import math
import os

import torch

import torch_timing
from torch_attention import bench_args, SampledBlocks, attention_tflops, flex_baselines, linear_baseline, load, rel, sdpa_baselines

args, ours = bench_args("/tmp/webgpu-bench")
B, H, L, D = ours["B"], ours["H"], ours["L"], ours["D"]
dev = torch.device("cuda")
scale = 1.0 / math.sqrt(D)


def load_f16(name, shape):
    return load(args.dir, name, "f16", shape, dev)


def load_f32(name, shape):
    return load(args.dir, name, "f32", shape, dev)


def cuda_ms(fn):
    return torch_timing.cuda_ms(fn, args.iters)


q, k, v = (load_f16(f"{n}.bin", (B, H, L, D)) for n in "qkv")
pairs = B * H * L * L
res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "baselines": sdpa_baselines(q, k, v, cuda_ms, pairs), "checks": [], "gemm": []}
flex, flex_rows, layouts = flex_baselines(q, k, v, ours["masks"], args.dir, cuda_ms, pairs)
res["baselines"] += flex_rows

# float32 checks on sampled query blocks
sample = SampledBlocks(L, args.check_blocks, dev)
blocks, rows, nQ = sample.blocks, sample.rows, sample.nQ
ref_out, ref_lse = sample.reference(q, k, v, scale)
res["checks"].append({"case": "dense out", "rel_err": rel(load_f16("ours_dense.bin", (B, H, L, D))[0][:, rows].float(), ref_out)})
res["checks"].append({"case": "dense lse", "max_abs_err": (load_f32("ours_dense_lse.bin", (B, H, L))[0][:, rows] - ref_lse).abs().max().item()})
ref_map = sample.reference_map(q, k, scale)
for case, name in [("map", "ours_map.bin"), ("map (portable pass)", "ours_map_portable.bin")]:
    if os.path.exists(os.path.join(args.dir, name)):
        diff = (load_f32(name, (B, H, nQ, nQ))[0][:, blocks] - ref_map).abs()
        res["checks"].append({"case": case, "max_abs_err": diff.max().item(), "mean_abs_err": diff.mean().item()})
for m in ours["masks"]:
    d = m["density"]
    got = load_f16(f"ours_sparse_{d}.bin", (B, H, L, D))[0][:, rows].float()
    res["checks"].append(sample.sparse_check(q, k, v, scale, d, layouts[d], flex, got))

# our CUDA backend on the same shape and masks (bf16), where this run has it
cuda_path = os.path.join(args.dir, "cuda.json")
cuda = json.load(open(cuda_path)) if os.path.exists(cuda_path) else None
if cuda:
    for a in cuda["attention"]:
        if a["case"] == "dense" or a["case"].startswith("sparse"):
            res["baselines"].append({"case": f"our CUDA {a['case']} (bf16)", "ms": a["ms"], "tflops": a["tflops"]})
cuda_gemm = {(g["M"], g["K"], g["N"]): g for g in (cuda or {}).get("gemm", [])}

shapes = list(dict.fromkeys((g["M"], g["K"], g["N"]) for g in ours["gemm"]))
res["gemm"] = [linear_baseline(M, K, N, torch.float16, cuda_ms, dev) for M, K, N in shapes]

base = {b["case"]: b for b in res["baselines"] if "ms" in b}
lines = [f"Device: {res['device']} (ours: {ours['device']}; timer: {ours.get('timer', 'wall')}), torch {res['torch']}; B={B} H={H} L={L} D={D}, f16.", ""]
if args.command:
    lines += [f"Command: `{args.command}`", ""]
lines += ["| kernel | case | ours ms (median [min-max]) | ours TFLOP/s | baseline | baseline ms | baseline TFLOP/s | ours / baseline throughput |", "|---|---|---|---|---|---|---|---|"]
dense_ms = {a["kernel"]: a["ms"] for a in ours["attention"] if a["case"] == "dense"}
for a in ours["attention"]:
    if a["case"] == "dense":
        refs = [base.get("sdpa flash"), base.get("sdpa cudnn"), base.get("our CUDA dense (bf16)")]
    elif a["case"].startswith("sparse"):
        refs = [base.get(f"flex {a['targetDensity']}"), base.get(f"our CUDA sparse {a['targetDensity']} (bf16)")]
    else:
        dms = dense_ms[a.get("denseKernel", a["kernel"])]
        refs = [{"case": "our dense, same kernel", "ms": dms, "tflops": attention_tflops(dms, D, pairs)}]
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
    again = " (again, last)" if g.get("pass", 0) > 0 and any(h["pass"] < g["pass"] and (h["M"], h["K"], h["N"]) == (g["M"], g["K"], g["N"]) for h in ours["gemm"]) else ""
    lines.append(f"| GEMM {g['config']}{again} | [{g['M']},{g['K']}]x[{g['N']},{g['K']}]^T+bias | {spread} | {g['tflops']:.1f} | torch F.linear | {t['ms']:.3f} | {t['tflops']:.0f} | {t['ms'] / g['ms']:.3f}x |")
    c = cuda_gemm.get((g["M"], g["K"], g["N"]))
    if c and "default" in g["config"]:
        lines.append(f"| GEMM {g['config']}{again} | [{g['M']},{g['K']}]x[{g['N']},{g['K']}]^T+bias | {spread} | {g['tflops']:.1f} | our CUDA (bf16) | {c['ms']:.3f} | {c['tflops']:.0f} | {c['ms'] / g['ms']:.3f}x |")
lines += ["", f"| check (ours f16 vs float32 PyTorch, sampled query blocks {blocks}) | value |", "|---|---|"]
for c in res["checks"]:
    lines.append(f"| {c['case']} | " + ", ".join(f"{kk} {vv:.3g}" for kk, vv in c.items() if kk != "case") + " |")
table = "\n".join(lines)
os.makedirs(args.out, exist_ok=True)
json.dump({"ours": ours, "torch": res}, open(os.path.join(args.out, "webgpu-bench.json"), "w"), indent=1)
open(os.path.join(args.out, "webgpu-bench.md"), "w").write(table + "\n")
print(table)
