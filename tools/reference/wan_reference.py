#!/usr/bin/env python3
"""PyTorch reference of the Wan2.1 DiT and its UniPC flow sampler, written from the official
sources (Wan-Video/Wan2.1 wan/modules/model.py, wan/utils/fm_solvers_unipc.py,
wan/text2video.py), never from this repository's TypeScript.

Modes
  --tiny OUT_DIR   golden fixture: seeded tiny T2V and I2V models, weights in the ORIGINAL key
                   layout, inputs and float64 outputs (forward of both guidance branches, every
                   latent of a 5-step UniPC + CFG run) as safetensors. Runs on the CPU in float64
                   so the fixture is exact up to the final f32 rounding.
  --time OUT_JSON  times one full-size forward (seeded weights, bf16 GEMMs, fp32 residual and
                   norms, cuDNN SDPA) on the GPU; --model 1.3B|14B, --size 480p|720p.

Only torch is needed (the safetensors writer is inline).
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- configs

BASE = dict(patch=(1, 2, 2), text_len=512, in_dim=16, freq_dim=256, text_dim=4096, out_dim=16,
            eps=1e-6, image_dim=1280, model_type='t2v')
CONFIGS = {
    '1.3B': dict(BASE, dim=1536, ffn_dim=8960, num_heads=12, num_layers=30),
    '14B': dict(BASE, dim=5120, ffn_dim=13824, num_heads=40, num_layers=40),
    'i2v-14B': dict(BASE, dim=5120, ffn_dim=13824, num_heads=40, num_layers=40, in_dim=36, model_type='i2v'),
    # Tiny: awkward sizes; head_dim 32 gives the uneven RoPE split [12, 10, 10] like 128 -> [44, 42, 42].
    'tiny-t2v': dict(BASE, dim=64, ffn_dim=88, num_heads=2, num_layers=2, text_len=16, text_dim=32),
    'tiny-i2v': dict(BASE, dim=64, ffn_dim=88, num_heads=2, num_layers=2, text_len=16, text_dim=32,
                     in_dim=36, image_dim=24, model_type='i2v'),
}
SIZES = {'480p': (21, 60, 104), '720p': (21, 90, 160)}  # latent (T, H, W) of 81 frames


def weight_shapes(cfg):
    """Every tensor of the original checkpoint layout with its shape (model.py's modules)."""
    C, Fd, pt, ph, pw = cfg['dim'], cfg['ffn_dim'], *cfg['patch']
    s = {
        'patch_embedding.weight': (C, cfg['in_dim'], pt, ph, pw), 'patch_embedding.bias': (C,),
        'text_embedding.0.weight': (C, cfg['text_dim']), 'text_embedding.0.bias': (C,),
        'text_embedding.2.weight': (C, C), 'text_embedding.2.bias': (C,),
        'time_embedding.0.weight': (C, cfg['freq_dim']), 'time_embedding.0.bias': (C,),
        'time_embedding.2.weight': (C, C), 'time_embedding.2.bias': (C,),
        'time_projection.1.weight': (6 * C, C), 'time_projection.1.bias': (6 * C,),
        'head.modulation': (1, 2, C),
        'head.head.weight': (cfg['out_dim'] * pt * ph * pw, C), 'head.head.bias': (cfg['out_dim'] * pt * ph * pw,),
    }
    attn = ['q', 'k', 'v', 'o']
    for i in range(cfg['num_layers']):
        p = f'blocks.{i}.'
        s[p + 'modulation'] = (1, 6, C)
        for a in ('self_attn', 'cross_attn'):
            for n in attn:
                s[f'{p}{a}.{n}.weight'] = (C, C)
                s[f'{p}{a}.{n}.bias'] = (C,)
            s[f'{p}{a}.norm_q.weight'] = (C,)
            s[f'{p}{a}.norm_k.weight'] = (C,)
        if cfg['model_type'] == 'i2v':
            for n in ('k_img', 'v_img'):
                s[f'{p}cross_attn.{n}.weight'] = (C, C)
                s[f'{p}cross_attn.{n}.bias'] = (C,)
            s[f'{p}cross_attn.norm_k_img.weight'] = (C,)
        s[p + 'norm3.weight'] = (C,)
        s[p + 'norm3.bias'] = (C,)
        s[p + 'ffn.0.weight'] = (Fd, C)
        s[p + 'ffn.0.bias'] = (Fd,)
        s[p + 'ffn.2.weight'] = (C, Fd)
        s[p + 'ffn.2.bias'] = (C,)
    if cfg['model_type'] == 'i2v':
        D = cfg['image_dim']
        s.update({
            'img_emb.proj.0.weight': (D,), 'img_emb.proj.0.bias': (D,),
            'img_emb.proj.1.weight': (D, D), 'img_emb.proj.1.bias': (D,),
            'img_emb.proj.3.weight': (C, D), 'img_emb.proj.3.bias': (C,),
            'img_emb.proj.4.weight': (C,), 'img_emb.proj.4.bias': (C,),
        })
    return s


def seeded_weights(cfg, gen, dtype, device):
    """Random weights scaled so activations stay O(1) through the whole net (nothing zero:
    the official init zeroes the head, which would make a golden output meaningless)."""
    out = {}
    for name, shape in weight_shapes(cfg).items():
        if name.endswith('modulation'):
            w = torch.randn(shape, generator=gen) * 0.5
        elif name.startswith('img_emb.proj.0') or name.startswith('img_emb.proj.4') or 'norm' in name:
            w = (1 + 0.2 * torch.randn(shape, generator=gen)) if name.endswith('weight') else 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith('bias'):
            w = 0.1 * torch.randn(shape, generator=gen)
        else:
            fan_in = math.prod(shape[1:])
            w = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
        out[name] = w.to(dtype=torch.float32).to(device=device, dtype=dtype)
    return out

# ----------------------------------------------------------------------------- model


def sinusoid(freq_dim, t):
    """model.py sinusoidal_embedding_1d: float64, cos half first, w_j = 10000^(-j/half)."""
    half = freq_dim // 2
    pos = t.to(torch.float64)
    w = torch.pow(torch.tensor(10000.0, dtype=torch.float64), -torch.arange(half, dtype=torch.float64) / half)
    arg = torch.outer(pos, w.to(pos.device))
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


def rope_tables(head_dim, grid, theta, dtype, device):
    """cos/sin [L, head_dim/2] for the (t, h, w) grid. model.py: the head_dim split is
    d - 4*(d//6), 2*(d//6), 2*(d//6); per axis freq_j = theta^(-2j/dim_axis), integer positions."""
    d6 = head_dim // 6
    dims = (head_dim - 4 * d6, 2 * d6, 2 * d6)
    angles = []
    for axis, (n, dim) in enumerate(zip(grid, dims)):
        freqs = 1.0 / torch.pow(torch.tensor(theta, dtype=torch.float64), torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        a = torch.outer(torch.arange(n, dtype=torch.float64), freqs)  # [n, dim/2]
        shape = [1, 1, 1, dim // 2]
        shape[axis] = n
        angles.append(a.view(shape).expand(*grid, dim // 2))
    ang = torch.cat(angles, dim=-1).reshape(-1, head_dim // 2)
    return torch.cos(ang).to(device=device, dtype=dtype), torch.sin(ang).to(device=device, dtype=dtype)


def rope_apply(x, cos, sin):
    """Rotates interleaved pairs (2i, 2i+1) of x [B, L, H, D] (view_as_complex in model.py)."""
    xr = x.reshape(*x.shape[:-1], -1, 2)
    a, b = xr[..., 0], xr[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).flatten(-2)


class Wan:
    """Functional Wan DiT over a dict of original-layout weights.
    cdt: dtype of GEMM inputs and weights; acc: dtype of the residual stream, norms,
    modulation and RoPE (float32 in the official code; float64 for the golden)."""

    def __init__(self, cfg, W, cdt, acc, attention):
        self.cfg, self.W, self.cdt, self.acc, self.attention = cfg, W, cdt, acc, attention

    def lin(self, x, name):
        return F.linear(x.to(self.cdt), self.W[name + '.weight'], self.W[name + '.bias'])

    def rms(self, x, name):
        x = x.to(self.acc)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg['eps']) * self.W[name + '.weight'].to(self.acc)

    def ln(self, x, name=None, eps=None):
        w = self.W[name + '.weight'].to(self.acc) if name else None
        b = self.W[name + '.bias'].to(self.acc) if name else None
        return F.layer_norm(x.to(self.acc), (x.shape[-1],), w, b, eps if eps is not None else self.cfg['eps'])

    def attn(self, q, k, v):
        """q [B, Lq, C], k/v [B, Lk, C] -> [B, Lq, C] over num_heads heads."""
        B, H = q.shape[0], self.cfg['num_heads']
        split = lambda t: t.to(self.cdt).view(B, t.shape[1], H, -1).transpose(1, 2)
        o = self.attention(split(q), split(k), split(v))
        return o.transpose(1, 2).reshape(B, q.shape[1], -1)

    def embed(self, x, t, context, clip_fea=None, y=None):
        cfg, acc = self.cfg, self.acc
        if y is not None:
            x = torch.cat([x, y], dim=0)
        pe = F.conv3d(x[None].to(self.cdt), self.W['patch_embedding.weight'], self.W['patch_embedding.bias'], stride=cfg['patch'])
        grid = tuple(pe.shape[2:])
        h = pe.flatten(2).transpose(1, 2).to(acc)  # [1, L, C], frame-major (t, h, w)
        e = self.lin(F.silu(self.lin(sinusoid(cfg['freq_dim'], t).to(acc), 'time_embedding.0').to(acc)), 'time_embedding.2').to(acc)
        e0 = self.lin(F.silu(e), 'time_projection.1').to(acc).unflatten(1, (6, cfg['dim']))
        pad = context.new_zeros(cfg['text_len'] - context.shape[0], context.shape[1])
        ctx = torch.cat([context, pad])[None]
        ctx = self.lin(F.gelu(self.lin(ctx, 'text_embedding.0'), approximate='tanh'), 'text_embedding.2')
        img = None
        if clip_fea is not None:
            # MLPProj: LayerNorm (torch default eps 1e-5), Linear, exact GELU, Linear, LayerNorm.
            g = self.ln(clip_fea[None], 'img_emb.proj.0', eps=1e-5)
            g = self.lin(F.gelu(self.lin(g, 'img_emb.proj.1')), 'img_emb.proj.3')
            img = self.ln(g, 'img_emb.proj.4', eps=1e-5).to(self.cdt)
        return h, grid, e, e0, ctx, img

    def block(self, i, x, e0, ctx, img, cos, sin):
        cfg, acc, p = self.cfg, self.acc, f'blocks.{i}.'
        B, L, C = x.shape
        H = cfg['num_heads']
        m = (self.W[p + 'modulation'].to(acc) + e0).chunk(6, dim=1)  # shift, scale, gate x2
        h = self.ln(x) * (1 + m[1]) + m[0]
        q = self.rms(self.lin(h, p + 'self_attn.q'), p + 'self_attn.norm_q')
        k = self.rms(self.lin(h, p + 'self_attn.k'), p + 'self_attn.norm_k')
        v = self.lin(h, p + 'self_attn.v')
        q = rope_apply(q.view(B, L, H, -1), cos, sin).view(B, L, C)
        k = rope_apply(k.view(B, L, H, -1), cos, sin).view(B, L, C)
        x = x + self.lin(self.attn(q, k, v), p + 'self_attn.o').to(acc) * m[2]
        hc = self.ln(x, p + 'norm3')
        cq = self.rms(self.lin(hc, p + 'cross_attn.q'), p + 'cross_attn.norm_q')
        ck = self.rms(self.lin(ctx, p + 'cross_attn.k'), p + 'cross_attn.norm_k')
        out = self.attn(cq, ck, self.lin(ctx, p + 'cross_attn.v'))
        if img is not None:
            ik = self.rms(self.lin(img, p + 'cross_attn.k_img'), p + 'cross_attn.norm_k_img')
            out = out + self.attn(cq, ik, self.lin(img, p + 'cross_attn.v_img'))
        x = x + self.lin(out, p + 'cross_attn.o').to(acc)
        f = self.ln(x) * (1 + m[4]) + m[3]
        y = self.lin(F.gelu(self.lin(f, p + 'ffn.0'), approximate='tanh'), p + 'ffn.2')
        return x + y.to(acc) * m[5]

    def head(self, x, e, grid):
        cfg = self.cfg
        shift, scale = (self.W['head.modulation'].to(self.acc) + e[:, None]).chunk(2, dim=1)
        out = self.lin(self.ln(x) * (1 + scale) + shift, 'head.head').to(self.acc)[0]
        pt, ph, pw = cfg['patch']
        c = cfg['out_dim']
        u = out.view(*grid, pt, ph, pw, c)  # channel LAST in each patch vector
        u = torch.einsum('fhwpqrc->cfphqwr', u)
        return u.reshape(c, grid[0] * pt, grid[1] * ph, grid[2] * pw)

    def forward(self, x, t, context, clip_fea=None, y=None, trace=None):
        h, grid, e, e0, ctx, img = self.embed(x, t, context, clip_fea, y)
        cos, sin = rope_tables(self.cfg['dim'] // self.cfg['num_heads'], grid, 10000.0, self.acc, x.device)
        if trace is not None:
            trace.update({'trace.patch': h[0], 'trace.e0': e0[0], 'trace.context': ctx[0]})
        for i in range(self.cfg['num_layers']):
            h = self.block(i, h, e0, ctx, img, cos, sin)
            if trace is not None and i == 0:
                trace['trace.block0'] = h[0]
        return self.head(h, e, grid)

# ----------------------------------------------------------------------------- sampler


def wan_schedule(steps, shift):
    """FlowUniPCMultistepScheduler.set_timesteps with Wan's construction (shift=1 at init,
    shift applied here): sigma_max is the float32 value 0.999 of the training table, sigmas are
    linspace(sigma_max, 0, N+1)[:-1] shifted in float64, timesteps = int64(sigma * 1000), then the
    sigmas are stored as float32 with a final 0."""
    sigma_max = float(torch.tensor(1 - 1 / 1000, dtype=torch.float32))  # (1 - alphas)[0] in float32
    s = torch.linspace(sigma_max, 0.0, steps + 1, dtype=torch.float64)[:-1]
    s = shift * s / (1 + (shift - 1) * s)
    timesteps = (s * 1000).to(torch.int64)
    sigmas = torch.cat([s, torch.zeros(1, dtype=torch.float64)]).to(torch.float32).to(torch.float64)
    return sigmas, timesteps


def lam(sigma):
    return math.log(1 - sigma) - math.log(sigma) if sigma > 0 else math.inf


def unipc_run(velocity, noise, sigmas, timesteps):
    """UniPC, order 2, bh2, predict-x0, lower order at the first and last step, corrector on
    every step after the first (Wan's defaults). velocity(x, t) -> model output v. Returns the
    latent after every step."""
    N = len(timesteps)
    x = noise
    hist = []  # converted outputs (x0 predictions), newest last
    prev_order, last = None, None
    out = []

    def coeffs(sigma_t, sigma_s0):
        h = lam(sigma_t) - lam(sigma_s0)
        hh = -h
        h_phi_1 = math.expm1(hh)
        return h, hh, h_phi_1, h_phi_1  # B_h = expm1(hh) for bh2

    for i in range(N):
        v = velocity(x, timesteps[i])
        m = x - sigmas[i] * v
        if i > 0:  # UniC corrector of the previous step's prediction, order = that step's order
            st, s0 = sigmas[i], sigmas[i - 1]
            h, hh, h_phi_1, B_h = coeffs(st, s0)
            m0 = hist[-1]
            base = (st / s0) * last - (1 - st) * h_phi_1 * m0
            if prev_order == 1:
                rho_k, rho_t, D1 = None, 0.5, None
            else:
                rk = (lam(sigmas[i - 2]) - lam(s0)) / h
                D1 = (hist[-2] - m0) / rk
                g1 = h_phi_1 / hh - 1
                g2 = g1 / hh - 0.5
                b = torch.tensor([g1 / B_h, g2 * 2 / B_h], dtype=torch.float64)
                R = torch.tensor([[1.0, 1.0], [rk, 1.0]], dtype=torch.float64)
                rho = torch.linalg.solve(R, b)
                rho_k, rho_t = float(rho[0]), float(rho[1])
            corr = rho_t * (m - m0) + (rho_k * D1 if D1 is not None else 0)
            x = base - (1 - st) * B_h * corr
        hist.append(m)
        order = min(2, N - i, i + 1)
        last = x
        st, s0 = sigmas[i + 1], sigmas[i]
        if st == 0:  # lambda_t = inf: h_phi_1 = B_h = -1 and the update is the x0 prediction
            x = m
        else:
            h, hh, h_phi_1, B_h = coeffs(st, s0)
            x_next = (st / s0) * x - (1 - st) * h_phi_1 * m
            if order == 2:
                rk = (lam(sigmas[i - 1]) - lam(s0)) / h
                D1 = (hist[-2] - m) / rk
                x_next = x_next - (1 - st) * B_h * 0.5 * D1
            x = x_next
        prev_order = order
        out.append(x)
    return out

# ----------------------------------------------------------------------------- safetensors


ST_DTYPES = {torch.float32: 'F32', torch.int32: 'I32', torch.float16: 'F16', torch.bfloat16: 'BF16'}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.partial'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)

# ----------------------------------------------------------------------------- modes

TINY_LATENT = (16, 3, 6, 10)  # grid (3, 3, 5): 45 tokens
TINY_RUN = dict(steps=5, shift=3.0, guidance=4.0)


def tiny(out_dir):
    torch.manual_seed(0)
    dev = 'cpu'
    sdpa = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)
    os.makedirs(out_dir, exist_ok=True)
    for seed, name in ((1, 'tiny-t2v'), (2, 'tiny-i2v')):
        cfg = CONFIGS[name]
        gen = torch.Generator().manual_seed(seed)
        W32 = seeded_weights(cfg, gen, torch.float32, dev)
        W64 = {k: v.to(torch.float64) for k, v in W32.items()}
        model = Wan(cfg, W64, torch.float64, torch.float64, sdpa)
        f32 = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float32)
        noise = f32(*TINY_LATENT)
        io = {'noise': noise, 'context': f32(7, cfg['text_dim']), 'context_null': f32(5, cfg['text_dim'])}
        if cfg['model_type'] == 'i2v':
            io['clip_fea'] = f32(9, cfg['image_dim'])
            io['y'] = f32(cfg['in_dim'] - cfg['out_dim'], *TINY_LATENT[1:])
        d = {k: v.to(torch.float64) for k, v in io.items()}
        extra = {'clip_fea': d.get('clip_fea'), 'y': d.get('y')}
        sigmas, timesteps = wan_schedule(TINY_RUN['steps'], TINY_RUN['shift'])
        t0 = timesteps[:1]
        trace = {}
        v_cond = model.forward(d['noise'], t0, d['context'], trace=trace, **extra)
        v_uncond = model.forward(d['noise'], t0, d['context_null'], **extra)

        def velocity(x, t):
            tt = torch.tensor([int(t)])
            vc = model.forward(x, tt, d['context'], **extra)
            vu = model.forward(x, tt, d['context_null'], **extra)
            return vu + TINY_RUN['guidance'] * (vc - vu)

        latents = unipc_run(velocity, d['noise'], [float(s) for s in sigmas], [int(t) for t in timesteps])
        io.update({
            'sigmas': sigmas.to(torch.float32), 'timesteps': timesteps.to(torch.int32),
            'velocity_cond': v_cond.float(), 'velocity_uncond': v_uncond.float(),
            'latents': torch.stack(latents).float(),
        })
        io.update({k: v.float() for k, v in trace.items()})
        meta = {'config': json.dumps(cfg), 'run': json.dumps(TINY_RUN), 'seed': seed,
                'source': 'tools/reference/wan_reference.py --tiny (float64 on CPU)', 'torch': torch.__version__}
        write_safetensors(os.path.join(out_dir, f'{name}.weights.safetensors'), W32, meta)
        write_safetensors(os.path.join(out_dir, f'{name}.io.safetensors'), io, meta)
        print(f'{name}: |v_cond| rms {v_cond.pow(2).mean().sqrt():.4f}, final latent rms {latents[-1].pow(2).mean().sqrt():.4f}, '
              f'timesteps {timesteps.tolist()}', flush=True)


def timed(model_name, size, out_json, iters):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    assert torch.cuda.is_available(), 'the --time mode needs a CUDA GPU'
    cfg = CONFIGS[model_name]
    dev = 'cuda'
    gen = torch.Generator(device=dev).manual_seed(0)
    W = {}
    for name, shape in weight_shapes(cfg).items():  # seeded like seeded_weights, generated on the GPU
        fan_in = math.prod(shape[1:]) if len(shape) > 1 and not name.endswith('modulation') else 0
        w = torch.randn(shape, generator=gen, device=dev, dtype=torch.float32)
        w = w / math.sqrt(fan_in) if fan_in else (1 + 0.2 * w if 'norm' in name and name.endswith('weight') else 0.1 * w)
        W[name] = w.to(torch.bfloat16)
    torch.cuda.synchronize()
    weights_gib = sum(v.numel() * v.element_size() for v in W.values()) / 2 ** 30
    attention = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)
    model = Wan(cfg, W, torch.bfloat16, torch.float32, attention)
    T, H, Wd = SIZES[size]
    x = torch.randn(cfg['out_dim'], T, H, Wd, generator=gen, device=dev)
    ctx = torch.randn(512, cfg['text_dim'], generator=gen, device=dev)
    extra = {}
    if cfg['model_type'] == 'i2v':
        extra = {'clip_fea': torch.randn(257, cfg['image_dim'], generator=gen, device=dev),
                 'y': torch.randn(cfg['in_dim'] - cfg['out_dim'], T, H, Wd, generator=gen, device=dev)}
    t = torch.tensor([999], device=dev)
    tokens = T * (H // 2) * (Wd // 2)
    result = {'model': model_name, 'size': size, 'tokens': tokens, 'device': torch.cuda.get_device_name(),
              'torch': torch.__version__, 'weights_gib': round(weights_gib, 2), 'dtype': 'bf16 GEMMs, fp32 residual/norms/RoPE'}
    backend = SDPBackend.CUDNN_ATTENTION
    try:
        with torch.no_grad(), sdpa_kernel([backend]):
            out = model.forward(x, t, ctx, **extra)
    except RuntimeError as err:  # record it rather than time a different kernel silently
        print(f'cuDNN SDPA unavailable ({err}); timing FlashAttention instead', flush=True)
        backend = SDPBackend.FLASH_ATTENTION
    result['sdpa_backend'] = backend.name
    with torch.no_grad(), sdpa_kernel([backend]):
        for _ in range(2):
            out = model.forward(x, t, ctx, **extra)
        torch.cuda.synchronize()
        assert torch.isfinite(out).all(), 'non-finite output'
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            out = model.forward(x, t, ctx, **extra)
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        # attention alone: the 30/40 self-attention calls at this shape
        C, Hh = cfg['dim'], cfg['num_heads']
        q = torch.randn(1, Hh, tokens, C // Hh, device=dev, dtype=torch.bfloat16)
        F.scaled_dot_product_attention(q, q, q)
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(5):
            F.scaled_dot_product_attention(q, q, q)
        b.record()
        torch.cuda.synchronize()
    result.update({
        'forward_ms': sorted(times), 'forward_ms_median': sorted(times)[len(times) // 2],
        'self_attention_call_ms': a.elapsed_time(b) / 5, 'layers': cfg['num_layers'],
        'peak_gib': round(torch.cuda.max_memory_allocated() / 2 ** 30, 2),
        'output_rms': float(out.float().pow(2).mean().sqrt()),
    })
    print(json.dumps(result), flush=True)
    if out_json:
        with open(out_json, 'a') as f:
            f.write(json.dumps(result) + '\n')
    del W, model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', metavar='OUT_DIR')
    ap.add_argument('--time', metavar='OUT_JSON', nargs='?', const='')
    ap.add_argument('--model', default='1.3B', choices=['1.3B', '14B', 'i2v-14B'])
    ap.add_argument('--size', default='480p', choices=list(SIZES))
    ap.add_argument('--iters', type=int, default=5)
    a = ap.parse_args()
    if a.tiny is None and a.time is None:
        ap.error('give --tiny OUT_DIR and/or --time [OUT_JSON]')
    if a.tiny is not None:
        tiny(a.tiny)
    if a.time is not None:
        timed(a.model, a.size, a.time, a.iters)


if __name__ == '__main__':
    sys.exit(main())
