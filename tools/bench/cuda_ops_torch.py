# PyTorch eager baseline for tools/bench/cuda-ops.mjs: the same ops at the same Wan2.1-1.3B
# shapes, timed with CUDA events around `iters` calls after one warm-up, so our CUDA kernels
# can be compared as ratios on the same card in the same command.
# Usage: python tools/bench/cuda_ops_torch.py [--iters 20]
import argparse
import json

import torch
import torch.nn.functional as F

from torch_timing import cuda_ms

p = argparse.ArgumentParser()
p.add_argument("--iters", type=int, default=20)
args = p.parse_args()

L, C, H, D, FF = 32760, 1536, 12, 128, 8960
dev = "cuda"
g = torch.Generator(device=dev).manual_seed(1)
x = torch.randn(1, L, C, device=dev, generator=g) + 0.5
xb = torch.randn(1, L, C, device=dev, generator=g).bfloat16()
y = torch.randn(1, L, C, device=dev, generator=g)
row = torch.randn(1, 1, C, device=dev, generator=g) * 0.2
row2 = torch.randn(1, 1, C, device=dev, generator=g)
w = torch.randn(C, device=dev, generator=g) * 0.3 + 1
qf = torch.randn(1, L, H, D, device=dev, generator=g)
qb = qf.bfloat16()
ffn = torch.randn(1, L, FF, device=dev, generator=g).bfloat16()
# cross-attention: Wan's 512 (zero-padded) text tokens as keys
qh = qb.permute(0, 2, 1, 3)
ctx_k = torch.randn(1, H, 512, D, device=dev, generator=g).bfloat16()
ctx_v = torch.randn(1, H, 512, D, device=dev, generator=g).bfloat16()


def rms(t, weight, eps=1e-6):
    # Wan's WanRMSNorm: f32 math, back to the input dtype
    return (t.float() * torch.rsqrt(t.float().pow(2).mean(-1, keepdim=True) + eps)).type_as(t) * weight


# RoPE as Wan applies it: complex multiply with precomputed per-token frequencies
freqs = torch.polar(torch.ones(L, D // 2, device=dev), torch.rand(L, D // 2, device=dev, generator=g))


def rope(t):
    c = torch.view_as_complex(t.float().reshape(1, L, H, D // 2, 2))
    return torch.view_as_real(c * freqs[None, :, None, :]).flatten(3).type_as(t)


OPS = [
    ("cast f32->bf16 [L,C]", L * C * 6, lambda: x.bfloat16()),
    ("cast bf16->f32 [L,C]", L * C * 6, lambda: xb.float()),
    ("add f32 [L,C]", L * C * 12, lambda: x + y),
    ("modulate f32 x, [1,1,C] scale/shift", L * C * 8, lambda: x * (1 + row) + row2),
    ("gatedAdd f32 x, f32 y, [1,1,C] gate", L * C * 12, lambda: x + y * row),
    ("gatedAdd f32 x, bf16 y, [1,1,C] gate", L * C * 10, lambda: x + xb * row),
    ("layerNorm f32 [L,C]", L * C * 8, lambda: F.layer_norm(x, (C,), eps=1e-6)),
    ("layerNorm f32 affine [L,C]", L * C * 8, lambda: F.layer_norm(x, (C,), w, w, eps=1e-6)),
    ("rmsNorm f32 [L,C]", L * C * 8, lambda: rms(x, w)),
    ("softmax f32 [L,C]", L * C * 8, lambda: torch.softmax(x, -1)),
    ("rope3d f32 [1,L,12,128]", L * C * 8, lambda: rope(qf)),
    ("rope3d bf16 [1,L,12,128]", L * C * 4, lambda: rope(qb)),
    ("gelu bf16 [L,8960]", L * FF * 4, lambda: F.gelu(ffn, approximate="tanh")),
    ("contiguous bf16 [1,L,H,D] -> [1,H,L,D]", L * C * 4, lambda: qb.permute(0, 2, 1, 3).contiguous()),
    ("contiguous f32 [1,L,H,D] -> [1,H,L,D]", L * C * 8, lambda: qf.permute(0, 2, 1, 3).contiguous()),
    ("layerNorm + modulate -> bf16 (eager)", L * C * 6, lambda: (F.layer_norm(x, (C,), eps=1e-6) * (1 + row) + row2).bfloat16()),
    ("residual gatedAdd + layerNorm adaLN -> bf16 (eager)", L * C * 16, lambda: (F.layer_norm(x + xb * row, (C,), eps=1e-6) * (1 + row) + row2).bfloat16()),
    ("cross-attention bf16 [1,12,L,128] x 512 keys (SDPA)", 0, lambda: F.scaled_dot_product_attention(qh, ctx_k, ctx_v)),
]

rows = []
for name, nbytes, fn in OPS:
    ms = cuda_ms(fn, args.iters)
    rows.append({"name": name, "ms": round(ms, 4), "gbs": round(nbytes / ms / 1e6) if nbytes else None})
    rate = f"  {nbytes / ms / 1e6:6.0f} GB/s" if nbytes else ""
    print(f"  {name:58s} {ms:8.3f} ms{rate}")
print("json " + json.dumps({"label": "torch eager", "device": torch.cuda.get_device_name(), "rows": rows}))
