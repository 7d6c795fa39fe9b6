"""One launch of each sm_90a attention case at the Wan-1.3B 480p shape, for a profiler.

Nsight Compute replays each launch, so this runs every case exactly once (after one untimed
warm-up launch of the dense kernel) on the inputs check_sm90.py benchmarks:

  ncu --kernel-name regex:flash_sm90 --launch-skip 1 --section SpeedOfLight --section WarpStateStats \\
      python3 tools/bench/hopper/profile_sm90.py --cubin packages/cuda/dist/kernels/attention_sm90.sm_90a.cubin

Cases, in launch order: dense, dense + whole map (i.i.d. inputs: every block recounted),
dense + map within a random 0.2-density CSR, sparse at density 0.2, and cross-attention
(the 32,760 queries against Wan's 512 text keys).

With --scan (no profiler) it times instead, with CUDA events, our dense kernel and SDPA at
Lq = 32,760 against Lk = 512 .. 32,760 keys: the per-CTA fixed cost is the intercept.
"""

import argparse
import math

import torch

from check_sm90 import BS, Driver, Kernels, make_out, rand_qkv, random_csr
import torch_timing  # noqa: E402 (tools/bench/, on the path check_sm90 adds)


def scan(kern, q, scale):
    B, H, L, D = q.shape
    gen = torch.Generator(device="cuda")
    gen.manual_seed(3)
    out, lse = make_out(q, True)
    for lk in (512, 1024, 2048, 4096, 8192, 32760):
        k = torch.randn(B, H, lk, D, generator=gen, device="cuda").to(q.dtype)
        v = torch.randn(B, H, lk, D, generator=gen, device="cuda").to(q.dtype)
        ours = torch_timing.cuda_ms(lambda: kern.run(q, k, v, out, lse, scale), 20)
        sdpa = torch_timing.cuda_ms(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v), 20)
        tf = lambda ms: 4 * B * H * L * lk * D / (ms * 1e-3) / 1e12
        print(f"Lk {lk:6d}: ours {ours:8.3f} ms ({tf(ours):5.0f} TFLOP/s), SDPA {sdpa:8.3f} ms ({tf(sdpa):5.0f} TFLOP/s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubin", required=True, help="path[:stages], default stages 2")
    ap.add_argument("--scan", action="store_true", help="time dense attention over key lengths instead")
    a = ap.parse_args()
    path, _, st = a.cubin.partition(":")
    kern = Kernels(Driver(), path, int(st or 2))
    B, H, L, D = 1, 12, 32760, 128
    gen = torch.Generator(device="cuda")
    gen.manual_seed(7)
    q, k, v = rand_qkv(B, H, L, L, torch.bfloat16, True, gen)
    out, lse = make_out(q, True)
    scale = 1 / math.sqrt(D)
    if a.scan:
        scan(kern, q, scale)
        return
    nq = (L + BS - 1) // BS
    (rp, ci, nQ), _ = random_csr(H, nq, nq, 0.2, torch.Generator().manual_seed(11))
    mp = torch.full((B, H, nq, nq), float("nan"), device="cuda")
    mreq = {"out": mp, "tau": 1e-4, "tq": L, "tk": L}
    kern.run(q, k, v, out, lse, scale)  # warm-up (skipped by --launch-skip 1)
    kern.run(q, k, v, out, lse, scale)
    kern.run(q, k, v, out, lse, scale, map_req=mreq)
    kern.run(q, k, v, out, lse, scale, csr=(rp, ci, nQ), map_req=mreq)
    kern.run(q, k, v, out, lse, scale, csr=(rp, ci, nQ))
    ck, cv = (torch.randn(B, H, 512, D, generator=gen, device="cuda").to(q.dtype) for _ in range(2))
    kern.run(q, ck, cv, out, lse, scale)
    torch.cuda.synchronize()
    print("profile_sm90: 6 launches done", flush=True)


if __name__ == "__main__":
    main()
