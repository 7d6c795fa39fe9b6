// Speed of the CUDA backend's elementwise, row, RoPE, cast and copy ops at Wan2.1-1.3B 480p
// shapes (32,760 tokens, dim 1536, 12 heads x 128, ffn 8960), each against the bytes it must
// move (read every input once, write the output once): GB/s and the fraction of `--peak` GB/s.
// Also one Wan block's worth of these ops, as the model calls them, and the fused variants
// (layerNorm + adaLN into bf16, GEMM + GELU epilogue) next to their unfused sequences.
//
// Usage: node tools/bench/cuda-ops.mjs [--dist packages/cuda/dist] [--iters 20] [--peak 3350] [--label after]
//   --dist: the built @mod-dit/cuda to load (e.g. a build of an older commit, for before/after).
// Ops the loaded build does not offer (fused options on older builds) print as skipped.
// Timing: wall clock around `iters` enqueued calls closed by backend.sync(), after one warm-up.
// For ops of ~0.1 ms the host's enqueue work (allocation, argument packing) is as long as the
// kernel, so those rows are upper bounds that vary with the machine; kernel-only times come
// from tools/bench/hopper/row_kernels_bench.cu (CUDA events) or Nsight Compute.
// Prints a table and one JSON line (prefix "json ").
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Rng, f32ToBf16 } from '@mod-dit/tensor';
import { option } from '../script-args.mjs';
import { disposeResult, timeCalls } from './timed-calls.mjs';

const dist = resolve(option('dist', new URL('../../packages/cuda/dist', import.meta.url).pathname));
const iters = Number(option('iters', '20'));
const peak = Number(option('peak', '3350'));
const label = option('label', dist);

const { createCudaBackend } = await import(pathToFileURL(`${dist}/index.js`).href);
const b = createCudaBackend();

const L = 32760;
const C = 1536;
const H = 12;
const D = 128;
const F = 8960;
const GRID = [21, 30, 52];
const SPLIT = [44, 42, 42];
// Timings do not depend on the values: tile one Gaussian pool instead of drawing ~10^9 normals.
const POOL = 1 << 20;
const pool = new Rng(1).normals(POOL + 1);
function tiled(n, std, mean, encode) {
  const out = encode === 'bf16' ? new Uint16Array(n) : new Float32Array(n);
  const src = encode === 'bf16' ? Uint16Array.from(pool, (v) => f32ToBf16(std * v + mean)) : pool.map((v) => std * v + mean);
  // a shift of one element per repetition so that rows are not copies of each other
  for (let at = 0, k = 0; at < n; at += POOL, k = (k + 1) % 2) out.set(src.subarray(k, k + Math.min(POOL, n - at)), at);
  return out;
}
function f32(shape, std = 1, mean = 0) {
  return b.upload(tiled(shape.reduce((a, x) => a * x, 1), std, mean, 'f32'), shape, 'f32');
}
function bf16(shape, std = 1) {
  return b.upload(tiled(shape.reduce((a, x) => a * x, 1), std, 0, 'bf16'), shape, 'bf16');
}

const x = f32([1, L, C], 1, 0.5);
const xb = bf16([1, L, C]);
const y = f32([1, L, C]);
const row = f32([1, 1, C], 0.2);
const row2 = f32([1, 1, C]);
const w = f32([C], 0.3, 1);
const qf = f32([1, L, H, D]);
const qb = bf16([1, L, H, D]);
const ffn = bf16([1, L, F]);
const wUp = bf16([F, C], 0.03);
const biasUp = bf16([F], 0.1);

const MB = L * C;
const rows = [];

// builds before the fused options ignore them (no error): probe with a tiny layerNorm into bf16
const probe = b.layerNorm(b.upload(new Float32Array([1, 2]), [2], 'f32'), { eps: 1e-6, dtype: 'bf16' });
const fusedOptions = probe.dtype === 'bf16';
probe.dispose();

async function op(name, bytes, fn, needsFused = false) {
  if (needsFused && !fusedOptions) {
    rows.push({ name, skipped: 'this build has no fused layerNorm / matmul options' });
    return;
  }
  let ms;
  try {
    ms = await timeCalls(b, fn, iters);
  } catch (e) {
    rows.push({ name, skipped: String(e?.message ?? e).split('\n')[0].slice(0, 90) });
    return;
  }
  const gbs = bytes ? bytes / ms / 1e6 : undefined;
  rows.push({ name, ms: +ms.toFixed(4), gbs: gbs && +gbs.toFixed(0), ofPeak: gbs && +(gbs / peak).toFixed(2), floorMs: bytes && +(bytes / peak / 1e6).toFixed(4) });
}

// ---- single ops ------------------------------------------------------------------------
await op('cast f32->bf16 [L,C]', MB * 6, () => b.cast(x, 'bf16'));
await op('cast bf16->f32 [L,C]', MB * 6, () => b.cast(xb, 'f32'));
await op('add f32 [L,C]', MB * 12, () => b.add(x, y));
await op('modulate f32 x, [1,1,C] scale/shift', MB * 8, () => b.modulate(x, row, row2));
await op('gatedAdd f32 x, f32 y, [1,1,C] gate', MB * 12, () => b.gatedAdd(x, y, row));
await op('gatedAdd f32 x, bf16 y, [1,1,C] gate', MB * 10, () => b.gatedAdd(x, xb, row));
await op('layerNorm f32 [L,C]', MB * 8, () => b.layerNorm(x, { eps: 1e-6 }));
await op('layerNorm f32 affine [L,C]', MB * 8, () => b.layerNorm(x, { eps: 1e-6, weight: w, bias: w }));
await op('rmsNorm f32 [L,C]', MB * 8, () => b.rmsNorm(x, w, 1e-6));
await op('rmsNorm bf16 [L,C]', MB * 4, () => b.rmsNorm(xb, w, 1e-6));
await op('softmax f32 [L,C]', MB * 8, () => b.softmax(x));
await op('rope3d f32 [1,L,12,128]', MB * 8, () => b.rope3d(qf, { grid: GRID, split: SPLIT, theta: 10000 }));
await op('rope3d bf16 [1,L,12,128]', MB * 4, () => b.rope3d(qb, { grid: GRID, split: SPLIT, theta: 10000 }));
await op('gelu bf16 [L,8960]', L * F * 4, () => b.gelu(ffn));
await op('contiguous bf16 [1,L,H,D] -> [1,H,L,D]', MB * 4, () => b.contiguous(qb.permute([0, 2, 1, 3])));
await op('contiguous f32 [1,L,H,D] -> [1,H,L,D]', MB * 8, () => b.contiguous(qf.permute([0, 2, 1, 3])));

// ---- fused variants (new options) next to the unfused sequences they replace -----------
// both priced at the fused task's bytes (read x f32, write bf16): effective GB/s
await op('layerNorm + modulate, f32 then cast bf16 (3 ops)', MB * 6, () => {
  const n = b.layerNorm(x, { eps: 1e-6 });
  const m = b.modulate(n, row, row2);
  const c = b.cast(m, 'bf16');
  n.dispose();
  m.dispose();
  return c;
});
await op('layerNorm + adaLN fused -> bf16 (1 op)', MB * 6, () => b.layerNorm(x, { eps: 1e-6, scale: row, shift: row2, dtype: 'bf16' }), true);
await op('ffn.0 GEMM + bias, then gelu (2 ops)', 0, () => {
  const h = b.matmul(xb, wUp, { transposeB: true, bias: biasUp });
  const g = b.gelu(h);
  h.dispose();
  return g;
});
await op('ffn.0 GEMM + bias + GELU epilogue (1 op)', 0, () => b.matmul(xb, wUp, { transposeB: true, bias: biasUp, activation: 'gelu' }), true);
// q / k: RMSNorm over the token's 1536 channels, then RoPE, against the fused rope3d norm
const wNorm = bf16([C], 0.3);
await op('rmsNorm + rope3d bf16 [1,L,12,128] (2 ops)', MB * 8, () => {
  const n = b.rmsNorm(xb, wNorm, 1e-6);
  const r = b.rope3d(n.reshape([1, L, H, D]), { grid: GRID, split: SPLIT, theta: 10000 });
  n.dispose();
  return r;
});
await op('rope3d with fused RMSNorm bf16 (1 op)', MB * 4, () => b.rope3d(xb.reshape([1, L, H, D]), { grid: GRID, split: SPLIT, theta: 10000, norm: { weight: wNorm, eps: 1e-6 } }));

// a block stage's end: the gated residual (bf16 sublayer output into the f32 stream) and the
// next stage's adaLN norm into bf16; both priced at the fused op's bytes
await op('gatedAdd + layerNorm adaLN -> bf16 (2 ops)', MB * 12, () => {
  const s = b.gatedAdd(x, xb, row);
  const n = b.layerNorm(s, { eps: 1e-6, scale: row, shift: row2, dtype: 'bf16' });
  return { s, n };
});
await op('residualLayerNorm gated, adaLN -> bf16 (1 op)', MB * 12, () => b.residualLayerNorm(x, xb, { gate: row, eps: 1e-6, scale: row, shift: row2, dtype: 'bf16' }));

// ---- one Wan block's non-GEMM, non-attention ops, as packages/wan called them at HEAD ----
// (LN, modulate, casts around each bf16 GEMM, q/k RMSNorm + RoPE in f32, head permutes,
// residual gates); GEMM outputs are stood in by ready bf16 tensors of their shapes.
const qkv = bf16([1, L, C]);
await op('Wan block elementwise (unfused, HEAD call sequence)', 0, () => {
  const out = [];
  const keep = (t) => (out.push(t), t);
  const h = keep(b.modulate(keep(b.layerNorm(x, { eps: 1e-6 })), row, row2));
  keep(b.cast(h, 'bf16'));
  for (let k = 0; k < 2; k++) {
    const r = keep(b.rope3d(keep(b.rmsNorm(keep(b.cast(qkv, 'f32')), w, 1e-6)).reshape([1, L, H, D]), { grid: GRID, split: SPLIT, theta: 10000 }));
    keep(b.contiguous(keep(b.cast(r, 'bf16')).permute([0, 2, 1, 3])));
  }
  keep(b.contiguous(qkv.reshape([1, L, H, D]).permute([0, 2, 1, 3])));
  keep(b.contiguous(qkv.reshape([1, H, L, D]).permute([0, 2, 1, 3])));
  const x1 = keep(b.gatedAdd(x, keep(b.cast(qkv, 'f32')), row));
  keep(b.cast(keep(b.layerNorm(x1, { eps: 1e-6, weight: w, bias: w })), 'bf16'));
  keep(b.cast(keep(b.rmsNorm(keep(b.cast(qkv, 'f32')), w, 1e-6)), 'bf16'));
  keep(b.contiguous(qkv.reshape([1, H, L, D]).permute([0, 2, 1, 3])));
  const x2 = keep(b.add(x1, keep(b.cast(qkv, 'f32'))));
  keep(b.cast(keep(b.modulate(keep(b.layerNorm(x2, { eps: 1e-6 })), row, row2)), 'bf16'));
  keep(b.gelu(ffn));
  keep(b.gatedAdd(x2, keep(b.cast(qkv, 'f32')), row));
  for (const t of out.slice(0, -1)) t.dispose();
  return out[out.length - 1];
});
// the block as packages/wan calls it now: q/k RMSNorm + RoPE in one op each, attention output
// already [L, H, D] (no merge copy), each stage ending in one residualLayerNorm
await op('Wan block elementwise (current model: rope norm, residualLayerNorm)', 0, () => {
  const out = [];
  const keep = (t) => (out.push(t), t);
  const both = (r) => (keep(r.norm), keep(r.sum));
  for (let k = 0; k < 2; k++) keep(b.rope3d(qkv.reshape([1, L, H, D]), { grid: GRID, split: SPLIT, theta: 10000, norm: { weight: wNorm, eps: 1e-6 } }));
  const x1 = both(b.residualLayerNorm(x, qkv, { gate: row, eps: 1e-6, weight: w, bias: w, dtype: 'bf16' }));
  keep(b.rmsNorm(qkv, wNorm, 1e-6));
  const x2 = both(b.residualLayerNorm(x1, qkv, { eps: 1e-6, scale: row, shift: row2, dtype: 'bf16' }));
  both(b.residualLayerNorm(x2, qkv, { gate: row, eps: 1e-6, scale: row, shift: row2, dtype: 'bf16' }));
  for (const t of out.slice(0, -1)) t.dispose();
  return out[out.length - 1];
}, true);

// cross-attention: Wan's 512 zero-padded text tokens as keys (dense; a short key sweep per CTA)
const ck = bf16([1, H, 512, D]);
const cv = bf16([1, H, 512, D]);
await op('cross-attention bf16 [1,12,L,128] x 512 keys', 0, () => b.attention(qb.permute([0, 2, 1, 3]), ck, cv));

disposeResult({ x, xb, y, row, row2, w, qf, qb, ffn, wUp, biasUp, qkv, wNorm, ck, cv });
b.destroy();

console.log(`cuda-ops (${label}) on ${b.device.name}, iters ${iters}, peak ${peak} GB/s`);
for (const r of rows) {
  const rate = r.gbs === undefined ? '' : `  ${String(r.gbs).padStart(5)} GB/s (${r.ofPeak} of peak, floor ${r.floorMs} ms)`;
  console.log(r.skipped ? `  ${r.name.padEnd(58)} skipped: ${r.skipped}` : `  ${r.name.padEnd(58)} ${r.ms.toFixed(3).padStart(8)} ms${rate}`);
}
console.log(`json ${JSON.stringify({ label, device: b.device.name, iters, rows })}`);
