"""The PyTorch side shared by the attention benchmarks (attention_torch.py for CUDA, bf16;
webgpu_attention_torch.py for WebGPU, f16): reading what the JS side wrote, SDPA and
FlexAttention baselines with our block masks, F.linear at our GEMM shapes, and float32
references on sampled query blocks (full 128-row blocks, so map rows are complete)."""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, flex_attention

BS = 128
LN_TAU = math.log(1e-4)
_NUMPY = {"f16": np.float16, "f32": np.float32, "i32": np.int32}


def bench_args(default_dir):
    """The scripts' command line (--dir, --out, --iters, --check-blocks, --command) and the dir's ours.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=default_dir)
    ap.add_argument("--out", default=".")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--check-blocks", type=int, default=6)
    ap.add_argument("--command", default="")
    args = ap.parse_args()
    return args, json.load(open(os.path.join(args.dir, "ours.json")))


def load(directory, name, dtype, shape, dev):
    """A raw little-endian tensor file written by the JS side ('bf16', 'f16', 'f32' or 'i32')."""
    path = os.path.join(directory, name)
    if dtype == "bf16":
        t = torch.from_numpy(np.fromfile(path, dtype=np.uint16).view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(np.fromfile(path, dtype=_NUMPY[dtype]))
    return t.reshape(shape).to(dev)


def attention_tflops(ms, D, pairs):
    return 4 * D * pairs / (ms * 1e-3) / 1e12


def sdpa_baselines(q, k, v, time_ms, pairs):
    """SDPA with the flash and the cuDNN backends; a backend the build or shape lacks is recorded as an error."""
    out = []
    for name, backend in [("sdpa flash", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION)]:
        try:
            with sdpa_kernel(backend):
                ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v))
            out.append({"case": name, "ms": ms, "tflops": attention_tflops(ms, q.shape[-1], pairs)})
        except RuntimeError as e:
            out.append({"case": name, "error": str(e)[:200]})
    return out


def flex_baselines(q, k, v, masks, directory, time_ms, pairs):
    """FlexAttention (torch.compile'd) with the SAME block masks (BlockMask.from_kv_blocks).
    Returns the compiled function, the baseline rows and {density: (num, idx, block_mask)}."""
    _, H, L, D = q.shape
    nQ = (L + BS - 1) // BS
    flex = torch.compile(flex_attention, dynamic=False)
    rows, layouts = [], {}
    for m in masks:
        d = m["density"]
        num = load(directory, f"mask_{d}_num.bin", "i32", (1, H, nQ), q.device)
        idx = load(directory, f"mask_{d}_idx.bin", "i32", (1, H, nQ, m["nK"]), q.device)
        bm = BlockMask.from_kv_blocks(num, idx, BLOCK_SIZE=BS, seq_lengths=(L, L))
        layouts[d] = (num, idx, bm)
        ms = time_ms(lambda: flex(q, k, v, block_mask=bm))
        rows.append({"case": f"flex {d}", "density": m["actual"], "ms": ms, "tflops": attention_tflops(ms, D, pairs * m["actual"])})
    return flex, rows, layouts


def linear_baseline(M, K, N, dtype, time_ms, dev):
    """torch's F.linear (x @ W^T + b) at one GEMM shape, on random data."""
    a = torch.randn(M, K, device=dev, dtype=dtype)
    w = torch.randn(N, K, device=dev, dtype=dtype) * 0.03
    bias = torch.randn(N, device=dev, dtype=dtype) * 0.1
    ms = time_ms(lambda: F.linear(a, w, bias))
    return {"M": M, "K": K, "N": N, "ms": ms, "tflops": 2 * M * N * K / (ms * 1e-3) / 1e12}


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


class SampledBlocks:
    """Query blocks checked in float32: the first, the last (ragged) and `count` spread between."""

    def __init__(self, L, count, dev):
        self.L = L
        nQ = (L + BS - 1) // BS
        self.nQ = nQ
        self.blocks = sorted(set([0, nQ - 1] + [int(x) for x in np.linspace(0, nQ - 1, count)]))
        self.sizes = [min(L, (b + 1) * BS) - b * BS for b in self.blocks]
        self.rows = torch.cat([torch.arange(b * BS, b * BS + n) for b, n in zip(self.blocks, self.sizes)]).to(dev)

    def reference(self, q, k, v, scale, token_mask=None):
        """f32 attention out and LSE of the sampled rows; token_mask [H, R, L] bool (True = active)."""
        kf, vf = k.float(), v.float()
        outs, lses = [], []
        for h in range(q.shape[1]):
            s = (q[0, h, self.rows].float() @ kf[0, h].T) * scale
            if token_mask is not None:
                s = s.masked_fill(~token_mask[h], float("-inf"))
            lse = torch.logsumexp(s, dim=-1)
            outs.append(torch.exp(s - lse[:, None]).nan_to_num(0.0) @ vf[0, h])
            lses.append(lse)
        return torch.stack(outs), torch.stack(lses)

    def reference_map(self, q, k, scale):
        """f32 block sparsity map of the sampled query blocks, [H, blocks, nK]: fraction of p < 1e-4."""
        L, nK = self.L, self.nQ
        cols = torch.full((nK,), float(BS), device=q.device)
        cols[-1] = L - (nK - 1) * BS
        out = torch.zeros(q.shape[1], len(self.blocks), nK, device=q.device)
        for h in range(q.shape[1]):
            s = (q[0, h, self.rows].float() @ k[0, h].float().T) * scale
            neg = (s - torch.logsumexp(s, dim=-1)[:, None]) < LN_TAU
            r0 = 0
            for bi, nr in enumerate(self.sizes):
                counts = F.pad(neg[r0 : r0 + nr].float().sum(0), (0, nK * BS - L))
                r0 += nr
                out[h, bi] = counts.view(nK, BS).sum(1) / (nr * cols)
        return out

    def sparse_check(self, q, k, v, scale, density, layout, flex, ours_out):
        """Our sparse output (sampled rows) and FlexAttention's against the f32 masked reference."""
        num, idx, bm = layout
        H = q.shape[1]
        active = torch.zeros(H, self.nQ, idx.shape[-1], dtype=torch.bool, device=q.device)
        for h in range(H):
            for b in self.blocks:
                active[h, b, idx[0, h, b, : num[0, h, b]].long()] = True
        block_rows = torch.tensor([b for b, n in zip(self.blocks, self.sizes) for _ in range(n)], device=q.device)
        token_mask = active[:, block_rows].repeat_interleave(BS, dim=-1)[..., : self.L]
        ref_o, _ = self.reference(q, k, v, scale, token_mask)
        flex_o = flex(q, k, v, block_mask=bm)[0][:, self.rows].float()
        return {"case": f"sparse {density} out", "rel_err": rel(ours_out, ref_o), "flex_rel_err": rel(flex_o, ref_o)}
