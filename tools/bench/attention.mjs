// Attention + GEMM speed of a @mod-dit backend (built dist) at video-DiT shapes: dense, dense +
// sparsity map, block-sparse at several densities with video-like masks from
// @mod-dit/predictor's density-target masking, and the Wan linear GEMMs. It also writes the
// inputs, masks and our outputs under --dir so tools/bench/attention_torch.py can time PyTorch
// (SDPA flash / cuDNN, FlexAttention with the SAME masks) and check our outputs in float32.
//
// Usage: node tools/bench/attention.mjs [--backend cuda|webgpu|cpu] [--shape wan|hunyuan|B,H,L,D]
//          [--densities 0.5,0.25,0.1,0.05] [--iters 10] [--dir /tmp/attn-bench] [--no-gemm]
// Prints one JSON object (also written to <dir>/ours.json). Timing: wall clock around `iters`
// enqueued calls closed by backend.sync(), after one warm-up call.
import { mkdirSync, writeFileSync } from 'node:fs';
import { BlockLayout, buildMask, fitFeatures, predictFeatures } from '@mod-dit/predictor';
import { Rng, f32ToBf16 } from '@mod-dit/tensor';
import { option, flag } from '../script-args.mjs';
import { openBackend } from '../backend-by-name.mjs';
import { randomHalfBits, writeTensorBytes } from './bench-data.mjs';
import { disposeResult, timeCalls } from './timed-calls.mjs';

const backendName = option('backend', 'cuda');
const shapeArg = option('shape', 'wan');
const densities = option('densities', '0.5,0.25,0.1,0.05').split(',').map(Number);
const iters = Number(option('iters', '10'));
const dir = option('dir', '/tmp/attn-bench');
const gemm = !flag('no-gemm');

// Wan2.1-1.3B 480p: 21 latent frames of 30x52 tokens. HunyuanVideo 720p: 33 latent frames of 45x80
// plus 256 text tokens; its masks would need text rows/columns, so that shape runs dense only.
const SHAPES = {
  wan: { B: 1, H: 12, frames: 21, perFrame: 1560, D: 128 },
  hunyuan: { B: 1, H: 24, frames: 33, perFrame: 3600, D: 128, extra: 256 },
  // a few frames, for checking this script on a CPU
  tiny: { B: 1, H: 2, frames: 3, perFrame: 256, D: 64 },
};
const shape = SHAPES[shapeArg] ?? (() => {
  const [B, H, L, D] = shapeArg.split(',').map(Number);
  return { B, H, frames: 1, perFrame: L, D };
})();
const { B, H, D } = shape;
const L = shape.frames * shape.perFrame + (shape.extra ?? 0);

/** Block map with video structure (frame diagonals, sinks, intra-frame tiles) that the predictor fits and masks. */
function videoMap(layout, heads, seed) {
  const rng = new Rng(seed);
  const n = layout.n;
  const map = new Float32Array(heads * n * n);
  const frameBlocks = shape.perFrame / 128;
  for (let h = 0; h < heads; h++) {
    const diags = [0, ...Array.from({ length: 4 }, () => Math.round(rng.int(1, shape.frames) * frameBlocks) * (rng.uniform() < 0.5 ? -1 : 1))];
    const sinks = Array.from({ length: 3 }, () => rng.int(0, n));
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0.98;
        if (diags.some((d) => Math.abs(j - i - d) <= 1) || sinks.includes(j)) s = 0.2 + 0.3 * rng.uniform();
        if (j >= layout.tileStart[i] && j < layout.tileEnd[i]) s = Math.min(s, 0.4 + 0.3 * rng.uniform());
        map[(h * n + i) * n + j] = Math.min(1, Math.max(0, s + 0.02 * (rng.uniform() - 0.5)));
      }
  }
  return map;
}

const backend = await openBackend(backendName);
mkdirSync(dir, { recursive: true });
const rng = new Rng(7);
const n = B * H * L * D;
// std 1 inputs: scores ~N(0, sqrt(D)) * 1/sqrt(D) scale -> softmax of realistic sharpness
const qh = randomHalfBits(rng, n, 1, f32ToBf16);
const kh = randomHalfBits(rng, n, 1, f32ToBf16);
const vh = randomHalfBits(rng, n, 1, f32ToBf16);
const q = backend.upload(qh, [B, H, L, D], 'bf16');
const k = backend.upload(kh, [B, H, L, D], 'bf16');
const v = backend.upload(vh, [B, H, L, D], 'bf16');
for (const [name, h] of [['q', qh], ['k', kh], ['v', vh]]) writeFileSync(`${dir}/${name}.bin`, Buffer.from(h.buffer));

const fullPairs = B * H * L * L;
const tflops = (ms, pairs) => (4 * D * pairs) / (ms * 1e-3) / 1e12;
const results = { backend: backendName, device: backend.device?.name ?? backendName, B, H, L, D, iters, attention: [], gemm: [] };

const denseMs = await timeCalls(backend, () => backend.attention(q, k, v), iters);
results.attention.push({ case: 'dense', ms: denseMs, tflops: tflops(denseMs, fullPairs) });
const mapMs = await timeCalls(backend, () => backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: 128 } }), iters);
results.attention.push({ case: 'dense+map', ms: mapMs, tflops: tflops(mapMs, fullPairs), vsDense: mapMs / denseMs });
const dense = backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: 128 } });
await writeTensorBytes(`${dir}/ours_dense.bin`, dense.out);
await writeTensorBytes(`${dir}/ours_dense_lse.bin`, dense.lse);
await writeTensorBytes(`${dir}/ours_map.bin`, dense.map);
disposeResult(dense);

// the predictor fits two synthetic video maps, extrapolates, and masks each head to the density target
const sparseDensities = shape.extra ? [] : densities;
let layout;
let predicted;
if (sparseDensities.length) {
  layout = new BlockLayout({ videoTokens: L, tokensPerFrame: shape.perFrame, blockSize: 128 });
  predicted = predictFeatures(fitFeatures(videoMap(layout, H, 1), H, layout), fitFeatures(videoMap(layout, H, 2), H, layout), { interval: 10 });
}
const masks = [];
for (const density of sparseDensities) {
  const mask = buildMask(predicted, layout, { budget: { kind: 'density', density } });
  if (mask.qLen !== L) throw new Error(`mask covers ${mask.qLen} tokens, the bench uses ${L}`);
  const ms = await timeCalls(backend, () => backend.attention(q, k, v, { mask }), iters);
  const actual = mask.density();
  results.attention.push({ case: `sparse ${density}`, targetDensity: density, density: actual, ms, tflops: tflops(ms, fullPairs * actual), vsDense: ms / denseMs });
  const flex = mask.toFlex();
  writeFileSync(`${dir}/mask_${density}_num.bin`, Buffer.from(flex.kvNumBlocks.buffer));
  writeFileSync(`${dir}/mask_${density}_idx.bin`, Buffer.from(flex.kvIndices.buffer));
  const sparse = backend.attention(q, k, v, { mask });
  await writeTensorBytes(`${dir}/ours_sparse_${density}.bin`, sparse.out);
  disposeResult(sparse);
  masks.push({ density, actual, nQ: flex.nQ, nK: flex.nK });
}
results.masks = masks;
disposeResult(q);
disposeResult(k);
disposeResult(v);

if (gemm) {
  // Wan-1.3B linears on 32,760 tokens: qkv/o projections and the FFN up projection (weights [N, K])
  for (const [M, K, N] of [[32760, 1536, 1536], [32760, 1536, 8960], [32760, 8960, 1536]]) {
    const a = backend.upload(randomHalfBits(rng, M * K, 1, f32ToBf16), [M, K], 'bf16');
    const w = backend.upload(randomHalfBits(rng, N * K, 0.03, f32ToBf16), [N, K], 'bf16');
    const bias = backend.upload(randomHalfBits(rng, N, 0.1, f32ToBf16), [N], 'bf16');
    const ms = await timeCalls(backend, () => backend.matmul(a, w, { transposeB: true, bias }), iters);
    results.gemm.push({ M, K, N, ms, tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12 });
    disposeResult(a);
    disposeResult(w);
    disposeResult(bias);
  }
}
writeFileSync(`${dir}/ours.json`, JSON.stringify(results, null, 1));
console.log(JSON.stringify(results));
backend.destroy?.();
