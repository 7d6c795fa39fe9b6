"""Standalone check + timing of the sm_90a attention kernels (packages/cuda/kernels/attention_sm90.cu).

Loads the cubin through the CUDA driver API (ctypes on libcuda, the same calls the Node backend
makes) into PyTorch's context and launches the kernels on torch tensors with the contract's
signature. Needs only PyTorch and a Hopper GPU (no Node):

  python3 tools/bench/hopper/check_sm90.py --cubin packages/cuda/dist/kernels/attention_sm90.sm_90a.cubin[:stages] \
      [--cubin variant.cubin:3] [--check-cubin variant.cubin] [--time-cubin diagnostic.cubin] [--bench [--no-flex]] [--json out.json]

1. Correctness, every kernel, fresh random inputs (never zeros), outputs poisoned with NaN before
   each launch, against float32 PyTorch math on the same bf16/f16 inputs: awkward shapes (Lq, Lk
   not multiples of 128, Lk < one tile, B*H > 1), permuted [B, L, H, D] views (strided), a CSR
   block-sparse mask with empty query blocks (rows -> 0, LSE -inf), and the sparsity map (with
   text tokens outside it) against a float32 map computed from the reference LSE.
   With two or more cubins, every map (these cases and two long map rows of more than 1024 blocks,
   random and sharp, too large for the float32 reference) must also be bit-identical across the
   cubins: a rework of the map must count exactly what the kernel it replaces counts.
2. With --bench, at B=1, H=12, L=32760, D=128 bf16 in the same process: SDPA flash, SDPA cuDNN,
   our dense kernel (each cubin given), dense + map, FlexAttention and ours at block densities
   0.25 and 0.1 (same random CSR masks), ms and TFLOP/s of actual work.
"""

import argparse
import ctypes
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import torch_timing  # noqa: E402 (tools/bench/torch_timing.py)

MAX_SHARED = 8  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
BS = 128
THREADS = 384


class Driver:
    def __init__(self):
        self.cu = ctypes.CDLL("libcuda.so.1")
        torch.zeros(1, device="cuda")  # makes the primary context current
        ctx = ctypes.c_void_p()
        self.check("cuCtxGetCurrent", self.cu.cuCtxGetCurrent(ctypes.byref(ctx)))
        if not ctx.value:
            raise RuntimeError("no current CUDA context after torch init")

    def check(self, what, rc):
        if rc != 0:
            name = ctypes.c_char_p()
            self.cu.cuGetErrorName(rc, ctypes.byref(name))
            raise RuntimeError(f"{what} failed: {rc} {name.value}")

    def load(self, path):
        mod = ctypes.c_void_p()
        self.check(f"cuModuleLoad({path})", self.cu.cuModuleLoad(ctypes.byref(mod), path.encode()))
        return mod

    def function(self, mod, name, smem):
        fn = ctypes.c_void_p()
        self.check(f"cuModuleGetFunction({name})", self.cu.cuModuleGetFunction(ctypes.byref(fn), mod, name.encode()))
        self.check("cuFuncSetAttribute", self.cu.cuFuncSetAttribute(fn, MAX_SHARED, smem))
        return fn

    def launch(self, fn, grid, smem, args):
        holders = []
        for kind, val in args:
            if kind == "p":
                holders.append(ctypes.c_uint64(val))
            elif kind == "i":
                holders.append(ctypes.c_int32(val))
            elif kind == "f":
                holders.append(ctypes.c_float(val))
            elif kind == "l":
                holders.append(ctypes.c_int64(val))
        arr = (ctypes.c_void_p * len(holders))(*[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        self.check(
            "cuLaunchKernel",
            self.cu.cuLaunchKernel(fn, grid[0], grid[1], 1, THREADS, 1, 1, smem, stream, arr, None),
        )


def smem_bytes(stages):
    # SMEM_BYTES of attention_sm90.cu: 1024 alignment slack + (1 + 2 * STAGES) 32 KiB tiles + 512 for the barriers and masks
    return 1024 + (1 + 2 * stages) * 32768 + 512


class Kernels:
    def __init__(self, drv, path, stages):
        self.drv, self.path, self.stages = drv, path, stages
        self.label = f"{path.rsplit('/', 1)[-1]} stages={stages}"
        self.smem = smem_bytes(stages)
        mod = drv.load(path)
        self.fns = {}
        for dt in ("bf16", "f16"):
            for mp in ("", "map_"):
                name = f"flash_sm90_{mp}{dt}_d128"
                self.fns[name] = drv.function(mod, name, self.smem)

    def run(self, q, k, v, out, lse, scale, csr=None, map_req=None):
        """q/k/v/out: [B, H, L, D] views with a contiguous last dim; out written in place."""
        B, H, Lq, D = q.shape
        Lk = k.shape[2]
        dt = "bf16" if q.dtype == torch.bfloat16 else "f16"
        name = f"flash_sm90_{'map_' if map_req else ''}{dt}_d128"
        rowPtr, colIdx, nQmask = (csr[0].data_ptr(), csr[1].data_ptr(), csr[2]) if csr else (0, 0, 0)
        mp, lt, mq, mk = (map_req["out"].data_ptr(), math.log(map_req["tau"]) * math.log2(math.e), map_req["tq"], map_req["tk"]) if map_req else (0, 0.0, 0, 0)
        args = [("p", q.data_ptr()), ("p", k.data_ptr()), ("p", v.data_ptr()), ("p", out.data_ptr()), ("p", lse.data_ptr()),
                ("i", H), ("i", Lq), ("i", Lk), ("f", scale * math.log2(math.e)),
                ("p", rowPtr), ("p", colIdx), ("i", BS), ("i", nQmask), ("p", mp), ("f", lt), ("i", BS), ("i", mq), ("i", mk)]
        for t in (q, k, v, out):
            args += [("l", t.stride(0)), ("l", t.stride(1)), ("l", t.stride(2))]
        self.drv.launch(self.fns[name], ((Lq + BS - 1) // BS, B * H), self.smem, args)


def rand_qkv(B, H, Lq, Lk, dtype, permuted, gen, sharp=0.0):
    def make(L):
        if permuted:  # [B, L, H, D] storage viewed as [B, H, L, D]
            return torch.randn(B, L, H, 128, generator=gen, device="cuda").permute(0, 2, 1, 3)
        return torch.randn(B, H, L, 128, generator=gen, device="cuda")
    q, k, v = make(Lq), make(Lk), make(Lk)
    if sharp:  # keys equal to the queries, scaled: a sharp diagonal (what makes the map bound bite)
        assert Lq == Lk
        q = q * sharp
        k = q.clone() if not permuted else q.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
    return q.to(dtype), k.to(dtype), v.to(dtype)


def make_out(q, permuted):
    B, H, Lq, D = q.shape
    if permuted:
        o = torch.full((B, Lq, H, D), float("nan"), dtype=q.dtype, device="cuda").permute(0, 2, 1, 3)
    else:
        o = torch.full((B, H, Lq, D), float("nan"), dtype=q.dtype, device="cuda")
    return o, torch.full((B, H, Lq), float("nan"), device="cuda")


def random_csr(H, nQ, nK, density, gen, empty_rows=()):
    """Per (head, query block) a random set of key blocks (always the diagonal unless listed empty)."""
    rows, cols, dense = [0], [], torch.zeros(H, nQ, nK, dtype=torch.bool)
    for h in range(H):
        for i in range(nQ):
            if (h, i) in empty_rows:
                rows.append(len(cols))
                continue
            sel = torch.rand(nK, generator=gen) < density
            sel[min(i, nK - 1)] = True
            idx = torch.nonzero(sel).flatten()
            idx = idx[torch.randperm(len(idx), generator=gen)]  # any CSR order is legal
            cols += idx.tolist()
            dense[h, i, idx] = True
            rows.append(len(cols))
    rp = torch.tensor(rows, dtype=torch.int32, device="cuda")
    ci = torch.tensor(cols if cols else [0], dtype=torch.int32, device="cuda")
    return (rp, ci, nQ), dense


def reference(q, k, v, scale, block_dense=None):
    """float32 attention on the given (16-bit) inputs: out, natural-log LSE, raw-score scaled S."""
    qf, kf, vf = q.float(), k.float(), v.float()
    s = torch.matmul(qf, kf.transpose(-1, -2)) * scale
    if block_dense is not None:
        Lq, Lk = s.shape[-2:]
        m = block_dense.to("cuda").repeat_interleave(BS, 1).repeat_interleave(BS, 2)[:, :Lq, :Lk]
        s = s.masked_fill(~m.unsqueeze(0), float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse.unsqueeze(-1))
    p = torch.nan_to_num(p, nan=0.0)
    return torch.matmul(p, vf), lse, s


def ref_map(s, lse, tau, tq, tk):
    below = (s - lse.unsqueeze(-1)) < math.log(tau)
    below = below[:, :, :tq, :tk].float()
    B, H = below.shape[:2]
    nQ, nK = (tq + BS - 1) // BS, (tk + BS - 1) // BS
    out = torch.zeros(B, H, nQ, nK, device="cuda")
    cnt = torch.zeros(B, H, nQ, nK, device="cuda")
    for I in range(nQ):
        for J in range(nK):
            blk = below[:, :, I * BS:(I + 1) * BS, J * BS:(J + 1) * BS]
            out[:, :, I, J] = blk.sum(dim=(-1, -2))
            cnt[:, :, I, J] = blk.shape[-1] * blk.shape[-2]
    return out / cnt, cnt


def rel_err(got, ref):
    g, r = got.float(), ref.float()
    return ((g - r).abs().max() / r.abs().max().clamp_min(1e-30)).item(), (g - r).abs().max().item()


def check(kern, results, maps):
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1234)
    cgen = torch.Generator()
    cgen.manual_seed(99)
    ok = True

    def record(case, passed, **kw):
        nonlocal ok
        ok &= passed
        results.append({"cubin": kern.path, "case": case, "pass": bool(passed), **kw})
        print(("PASS " if passed else "FAIL ") + case + " " + json.dumps(kw), flush=True)

    dense_cases = [
        ("dense bf16 B2 H3 Lq300 Lk333 permuted", 2, 3, 300, 333, torch.bfloat16, True),
        ("dense f16 B1 H2 Lq129 Lk1000", 1, 2, 129, 1000, torch.float16, False),
        ("dense bf16 B1 H1 Lq70 Lk1 (one key)", 1, 1, 70, 1, torch.bfloat16, False),
        ("dense bf16 B1 H2 Lq1000 Lk97 permuted", 1, 2, 1000, 97, torch.bfloat16, True),
        ("dense f16 B3 H1 Lq513 Lk640 permuted", 3, 1, 513, 640, torch.float16, True),
    ]
    for case, B, H, Lq, Lk, dt, perm in dense_cases:
        q, k, v = rand_qkv(B, H, Lq, Lk, dt, perm, gen)
        scale = 1 / math.sqrt(128)
        out, lse = make_out(q, perm)
        kern.run(q, k, v, out, lse, scale)
        torch.cuda.synchronize()
        ro, rl, _ = reference(q, k, v, scale)
        e, a = rel_err(out, ro)
        le = (lse - rl).abs().max().item()
        record(case, e <= 1e-2 and le <= 1e-3 and not out.isnan().any().item(), rel_err=e, max_abs=a, lse_max_abs=le)

    # block-sparse: random masks (density 0.3), two empty query blocks, ragged last block
    B, H, L = 1, 3, 1000
    nQ = (L + BS - 1) // BS
    for dt in (torch.bfloat16, torch.float16):
        csr, dense = random_csr(H, nQ, nQ, 0.3, cgen, empty_rows={(0, 2), (2, nQ - 1)})
        q, k, v = rand_qkv(B, H, L, L, dt, True, gen)
        scale = 0.1
        out, lse = make_out(q, True)
        kern.run(q, k, v, out, lse, scale, csr=csr)
        torch.cuda.synchronize()
        ro, rl, _ = reference(q, k, v, scale, dense)
        e, a = rel_err(out, ro)
        fin = torch.isfinite(rl)
        le = (lse[fin] - rl[fin]).abs().max().item()
        empty_ok = bool((lse[~fin] == float("-inf")).all().item()) and bool((out.float()[~fin] == 0).all().item())
        record(f"sparse {dt} H3 L1000 density0.3 + empty blocks", e <= 1e-2 and le <= 1e-3 and empty_ok and (~fin).sum().item() > 0,
               rel_err=e, max_abs=a, lse_max_abs=le, empty_rows=int((~fin).sum().item()), empty_ok=empty_ok)

    # map: Lq == Lk (diagonal start), text tokens outside the map, random and sharp inputs
    for case, B, H, L, tok, dt, sharp in [
        ("map bf16 B1 H2 L1100 tok1000 random", 1, 2, 1100, 1000, torch.bfloat16, 0.0),
        ("map bf16 B2 H1 L1100 tok1037 sharp", 2, 1, 1100, 1037, torch.bfloat16, 1.5),
        ("map f16 B1 H2 L700 tok700 sharp", 1, 2, 700, 700, torch.float16, 1.2),
        ("map bf16 B1 H2 L4100 tok4000 random", 1, 2, 4100, 4000, torch.bfloat16, 0.0),
    ]:
        q, k, v = rand_qkv(B, H, L, L, dt, True, gen, sharp=sharp)
        scale = 1 / math.sqrt(128)
        tau = 1e-4
        out, lse = make_out(q, True)
        nq = (tok + BS - 1) // BS
        mp = torch.full((B, H, nq, nq), float("nan"), device="cuda")
        kern.run(q, k, v, out, lse, scale, map_req={"out": mp, "tau": tau, "tq": tok, "tk": tok})
        torch.cuda.synchronize()
        ro, rl, s = reference(q, k, v, scale)
        rm, cnt = ref_map(s, rl, tau, tok, tok)
        e, a = rel_err(out, ro)
        le = (lse - rl).abs().max().item()
        count_diff = ((mp - rm).abs() * cnt).max().item()
        ones = (rm == 1).float().mean().item()
        record(case, e <= 1e-2 and le <= 1e-3 and count_diff <= 4 and not mp.isnan().any().item(), rel_err=e, lse_max_abs=le,
               map_max_count_diff=count_diff, map_max_abs=(mp - rm).abs().max().item(), ref_blocks_all_below=ones)
        maps.setdefault(case, []).append((kern.label, mp))

    # map.within (the CSR of a map launch): exact inside, NaN outside; a sparse within row skips
    # the bound, a dense one keeps it
    for case, H, L, dt, sharp, density in [
        ("map within 0.15 bf16 H3 L1100 sharp", 3, 1100, torch.bfloat16, 1.5, 0.15),
        ("map within 0.6 f16 H2 L1500 sharp", 2, 1500, torch.float16, 1.2, 0.6),
        ("map within 0.2 bf16 H2 L1300 random", 2, 1300, torch.bfloat16, 0.0, 0.2),
    ]:
        nq = (L + BS - 1) // BS
        csr, inside = random_csr(H, nq, nq, density, cgen, empty_rows={(0, 1)})
        q, k, v = rand_qkv(1, H, L, L, dt, True, gen, sharp=sharp)
        scale = 1 / math.sqrt(128)
        out, lse = make_out(q, True)
        mp = torch.full((1, H, nq, nq), 7.0, device="cuda")
        kern.run(q, k, v, out, lse, scale, csr=csr, map_req={"out": mp, "tau": 1e-4, "tq": L, "tk": L})
        torch.cuda.synchronize()
        ro, rl, s = reference(q, k, v, scale)
        rm, cnt = ref_map(s, rl, 1e-4, L, L)
        ins = inside.to("cuda").unsqueeze(0)
        e, _ = rel_err(out, ro)
        count_diff = ((mp - rm).abs() * cnt)[ins].max().item()
        nan_out = bool(mp[~ins].isnan().all().item())
        record(case, e <= 1e-2 and count_diff <= 4 and nan_out and not mp[ins].isnan().any().item(), rel_err=e,
               map_max_count_diff=count_diff, nan_outside=nan_out, ref_blocks_all_below=(rm[ins] == 1).float().mean().item())
        maps.setdefault(case, []).append((kern.label, mp))

    # long map rows (nK > 1024: the recheck goes in chunks), checked only across cubins
    for case, L, tok, sharp in [("long map bf16 H1 L140000 tok135000 random", 140000, 135000, 0.0),
                                ("long map bf16 H1 L140000 tok135000 sharp", 140000, 135000, 1.5)]:
        q, k, v = rand_qkv(1, 1, L, L, torch.bfloat16, True, gen, sharp=sharp)
        out, lse = make_out(q, True)
        nq = (tok + BS - 1) // BS
        mp = torch.full((1, 1, nq, nq), float("nan"), device="cuda")
        kern.run(q, k, v, out, lse, 1 / math.sqrt(128), map_req={"out": mp, "tau": 1e-4, "tq": tok, "tk": tok})
        torch.cuda.synchronize()
        record(case, not mp.isnan().any().item() and bool(((mp >= 0) & (mp <= 1)).all().item()), map_mean=mp.mean().item(),
               map_ones=(mp == 1).float().mean().item())
        maps.setdefault(case, []).append((kern.label, mp))
        del q, k, v, out, lse
    return ok


def same_maps(maps, results):
    """Every cubin's map of a case bit-identical to the first cubin's."""
    ok = True
    for case, got in maps.items():
        (ref_label, ref), rest = got[0], got[1:]
        for label, mp in rest:
            diff = int(((mp != ref) & ~(mp.isnan() & ref.isnan())).sum().item())
            ok &= diff == 0
            results.append({"case": f"same map {case}", "pass": diff == 0, "cubin": label, "vs": ref_label, "blocks_differing": diff})
            print(("PASS " if diff == 0 else "FAIL ") + f"same map as {ref_label}: {label} {case} blocks_differing={diff}", flush=True)
    return ok


def cuda_ms(fn):
    return torch_timing.cuda_ms(fn, 10)


def bench(kerns, results, maps, with_flex=True, baselines=True):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import BlockMask, flex_attention

    B, H, L, D = 1, 12, 32760, 128
    gen = torch.Generator(device="cuda")
    gen.manual_seed(7)
    q, k, v = rand_qkv(B, H, L, L, torch.bfloat16, True, gen)  # the Wan layout: [1, L, H, D] permuted
    scale = 1 / math.sqrt(D)
    pairs = B * H * L * L
    tf = lambda ms, frac=1.0: 4 * D * pairs * frac / (ms * 1e-3) / 1e12
    row = lambda case, ms, frac=1.0, **kw: (results.append({"case": case, "ms": ms, "tflops": tf(ms, frac), **kw}),
                                            print(f"{case:40s} {ms:8.3f} ms {tf(ms, frac):7.1f} TFLOP/s {json.dumps(kw)}", flush=True))
    qc, kc, vc = (t.contiguous() for t in (q, k, v))
    ref = {}
    for name, be in [("sdpa flash", SDPBackend.FLASH_ATTENTION), ("sdpa cudnn", SDPBackend.CUDNN_ATTENTION)] if baselines else []:
        try:
            with sdpa_kernel(be):
                f = lambda: torch.nn.functional.scaled_dot_product_attention(qc, kc, vc)
                ref[name] = f()
                row(name, cuda_ms(f))
        except Exception as e:  # report, keep going
            print(f"{name}: unavailable ({e})", flush=True)
    base = ref.get("sdpa flash")
    for kern in kerns:
        out, lse = make_out(q, True)
        kern.run(q, k, v, out, lse, scale)
        torch.cuda.synchronize()
        err = rel_err(out, base)[0] if base is not None else None
        dense_ms = cuda_ms(lambda: kern.run(q, k, v, out, lse, scale))
        row(f"ours dense {kern.label}", dense_ms, rel_err_vs_sdpa_flash=err)
        nq = (L + BS - 1) // BS
        mp = torch.full((B, H, nq, nq), float("nan"), device="cuda")
        mreq = {"out": mp, "tau": 1e-4, "tq": L, "tk": L}
        map_ms = cuda_ms(lambda: kern.run(q, k, v, out, lse, scale, map_req=mreq))
        row(f"ours dense+map random {kern.label}", map_ms, map_mean=mp.mean().item(), map_over_dense=map_ms / dense_ms)
        maps.setdefault("bench map random L32760", []).append((kern.label, mp))
        for density in (0.2, 0.5):
            (rp, ci, nQ), _ = random_csr(H, nq, nq, density, torch.Generator().manual_seed(11))
            mpw = torch.full((B, H, nq, nq), float("nan"), device="cuda")
            mreq = {"out": mpw, "tau": 1e-4, "tq": L, "tk": L}
            w_ms = cuda_ms(lambda: kern.run(q, k, v, out, lse, scale, csr=(rp, ci, nQ), map_req=mreq))
            row(f"ours dense+map within {density} random {kern.label}", w_ms, map_over_dense=w_ms / dense_ms)
            maps.setdefault(f"bench map within {density} random L32760", []).append((kern.label, mpw))
    qs, ks, vs = rand_qkv(B, H, L, L, torch.bfloat16, True, gen, sharp=1.5)
    for kern in kerns:
        out, lse = make_out(qs, True)
        dense_ms = cuda_ms(lambda: kern.run(qs, ks, vs, out, lse, scale))
        row(f"ours dense sharp {kern.label}", dense_ms)
        nq = (L + BS - 1) // BS
        mp = torch.full((B, H, nq, nq), float("nan"), device="cuda")
        mreq = {"out": mp, "tau": 1e-4, "tq": L, "tk": L}
        map_ms = cuda_ms(lambda: kern.run(qs, ks, vs, out, lse, scale, map_req=mreq))
        row(f"ours dense+map sharp {kern.label}", map_ms, map_mean=mp.mean().item(), map_ones=(mp == 1).float().mean().item(),
            map_over_dense=map_ms / dense_ms)
        maps.setdefault("bench map sharp L32760", []).append((kern.label, mp))

    if not baselines:
        return
    flex = torch.compile(flex_attention, dynamic=False)
    nQ = (L + BS - 1) // BS
    cgen = torch.Generator()
    cgen.manual_seed(5)
    for density in (0.25, 0.1):
        # random block masks, per head, diagonal always on (same masks for Flex and ours)
        sel = torch.rand(H, nQ, nQ, generator=cgen) < density
        sel |= torch.eye(nQ, dtype=torch.bool).unsqueeze(0)
        counts = sel.sum(-1).to(torch.int32)
        order = torch.argsort((~sel).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        rp = torch.cat([torch.zeros(1, dtype=torch.int64), counts.flatten().cumsum(0)]).to(torch.int32).cuda()
        ci = order.reshape(-1, nQ)[torch.arange(nQ).view(1, -1) < counts.reshape(-1, 1)].cuda()
        # actual work: active blocks x their real (ragged) sizes
        sizes = torch.full((nQ,), BS, dtype=torch.float64)
        sizes[-1] = L - (nQ - 1) * BS
        frac = (sel.double() * sizes.view(1, -1, 1) * sizes.view(1, 1, -1)).sum().item() / (H * L * L)
        bm = BlockMask.from_kv_blocks(counts.unsqueeze(0).cuda(), order.unsqueeze(0).cuda(), BLOCK_SIZE=BS, seq_lengths=(L, L))
        fo = None
        if with_flex:
            fo = flex(qc, kc, vc, block_mask=bm)
            row(f"flex density {density}", cuda_ms(lambda: flex(qc, kc, vc, block_mask=bm)), frac, actual_density=frac)
        for kern in kerns:
            out, lse = make_out(q, True)
            kern.run(q, k, v, out, lse, scale, csr=(rp, ci, nQ))
            torch.cuda.synchronize()
            err = rel_err(out, fo)[0] if fo is not None else None
            row(f"ours sparse {density} {kern.label}", cuda_ms(lambda: kern.run(q, k, v, out, lse, scale, csr=(rp, ci, nQ))), frac,
                rel_err_vs_flex=err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cubin", action="append", required=True, help="path[:stages], default stages 2")
    ap.add_argument("--check-cubin", action="append", default=[], help="path[:stages]: correctness only (build variants)")
    ap.add_argument("--time-cubin", action="append", default=[],
                    help="path[:stages]: timing only, no checks (diagnostic builds whose results are not meant to be right)")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--no-flex", action="store_true", help="bench without FlexAttention (no torch.compile)")
    ap.add_argument("--json")
    a = ap.parse_args()
    drv = Driver()
    def load(specs):
        return [Kernels(drv, path, int(st or 2)) for path, _, st in (c.partition(":") for c in specs)]
    kerns, extra, timed = load(a.cubin), load(a.check_cubin), load(a.time_cubin)
    for kern in timed:
        kern.label += " (timing only)"
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    results, maps = [], {}
    ok = all([check(kern, results, maps) for kern in kerns + extra])
    if a.bench:
        bench(kerns, results, maps, with_flex=not a.no_flex)
        bench(timed, results, {}, with_flex=False, baselines=False)
    ok &= same_maps(maps, results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "ok": ok, "results": results}, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
