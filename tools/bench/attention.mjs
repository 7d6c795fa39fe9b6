// Attention + GEMM speed of a @mod-dit backend (built dist) at video-DiT shapes: dense, dense +
// sparsity map, block-sparse at several densities with video-like masks from
// @mod-dit/predictor's density-target masking (HunyuanVideo: with its 256 text tokens last,
// whose rows and columns the masks keep dense), and the Wan linear GEMMs. Each attention case
// records the kernel that ran it (CUDA: `module:name`, attention_sm90 = the wgmma kernels). It also writes the
// inputs, masks and our outputs under --dir so tools/bench/attention_torch.py can time PyTorch
// (SDPA flash / cuDNN, FlexAttention with the SAME masks) and check our outputs in float32.
//
// Dense+map also runs with map.within = each sparse case's mask (a refresh step's map).
// Dense and dense+map also run on "local" q/k (a positional code makes attention concentrate
// near the diagonal, as in video DiTs), where most map blocks are provably negligible.
//
// Usage: node tools/bench/attention.mjs [--backend cuda|webgpu|cpu] [--shape wan|hunyuan|B,H,L,D]
//          [--densities 0.5,0.25,0.1,0.05] [--iters 10] [--dir /tmp/attn-bench] [--no-gemm]
// Prints one JSON object (also written to <dir>/ours.json). Timing: wall clock around `iters`
// enqueued calls closed by backend.sync(), after one warm-up call.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Rng, f32ToBf16 } from '@mod-dit/tensor';
import { option, flag } from '../script-args.mjs';
import { openBackend } from '../backend-by-name.mjs';
import { randomHalfBits, videoMasks, writeSparseCase, writeTensorBytes } from './bench-data.mjs';
import { disposeResult, timeCalls } from './timed-calls.mjs';

const backendName = option('backend', 'cuda');
const shapeArg = option('shape', 'wan');
const densities = option('densities', '0.5,0.25,0.1,0.05').split(',').filter(Boolean).map(Number);
const iters = Number(option('iters', '10'));
const dir = option('dir', '/tmp/attn-bench');
const gemm = !flag('no-gemm');

// Wan2.1-1.3B 480p: 21 latent frames of 30x52 tokens. HunyuanVideo 720p: 33 latent frames of 45x80
// plus 256 text tokens (the last ones), always-on rows and columns in every mask.
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
const results = { backend: backendName, device: backend.device?.name ?? backendName, B, H, L, D, text: shape.extra ?? 0, iters, attention: [], gemm: [] };
/** The kernel of the backend's last attention call, where the backend reports it (CUDA). */
const kernel = () => backend.lastAttentionKernel;

const MAP = { tau: 1e-4, blockSize: 128 };
/** Times dense and dense+map on (qq, kk, v) as cases `dense<tag>` and `dense+map<tag>`; returns the dense time and one dense+map result. */
async function denseCases(qq, kk, tag) {
  const ms = await timeCalls(backend, () => backend.attention(qq, kk, v), iters);
  results.attention.push({ case: `dense${tag}`, kernel: kernel(), ms, tflops: tflops(ms, fullPairs) });
  const mapMs = await timeCalls(backend, () => backend.attention(qq, kk, v, { map: MAP }), iters);
  results.attention.push({ case: `dense+map${tag}`, kernel: kernel(), ms: mapMs, tflops: tflops(mapMs, fullPairs), vsDense: mapMs / ms });
  return { ms, result: backend.attention(qq, kk, v, { map: MAP }) };
}

const { ms: denseMs, result: dense } = await denseCases(q, k, '');
await writeTensorBytes(`${dir}/ours_dense.bin`, dense.out);
await writeTensorBytes(`${dir}/ours_dense_lse.bin`, dense.lse);
await writeTensorBytes(`${dir}/ours_map.bin`, dense.map);
disposeResult(dense);

/**
 * q or k with attention locality: N(0, 1) plus amplitude 2 times a positional code whose dot
 * product peaks for nearby tokens (64 sin/cos pairs, wavelengths up to ~3000 tokens) and
 * averages out beyond. Scores near the diagonal then exceed far ones by ~20, so most far
 * blocks hold only p < tau: the inputs on which the map's bound skips its rechecks.
 */
function localHalfBits(seed) {
  const r = new Rng(seed);
  const code = new Float32Array(L * D);
  for (let l = 0; l < L; l++)
    for (let f = 0; f < D / 2; f++) {
      const w = Math.pow(1 / 512, f / (D / 2 - 1));
      code[l * D + 2 * f] = 2 * Math.cos(l * w);
      code[l * D + 2 * f + 1] = 2 * Math.sin(l * w);
    }
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = f32ToBf16(r.normal() + code[i % (L * D)]);
  return out;
}
const qlh = localHalfBits(8);
const klh = localHalfBits(9);
const ql = backend.upload(qlh, [B, H, L, D], 'bf16');
const kl = backend.upload(klh, [B, H, L, D], 'bf16');
for (const [name, h] of [['q_local', qlh], ['k_local', klh]]) writeFileSync(`${dir}/${name}.bin`, Buffer.from(h.buffer));
const { result: local } = await denseCases(ql, kl, ' (local inputs)');
await writeTensorBytes(`${dir}/ours_map_local.bin`, local.map);
disposeResult(local);
disposeResult(ql);
disposeResult(kl);

// the predictor's video-like masks (HunyuanVideo: text rows and columns always on)
const predictedMask = videoMasks(shape, H);
const masks = [];
for (const density of densities) {
  const mask = predictedMask(density);
  const ms = await timeCalls(backend, () => backend.attention(q, k, v, { mask }), iters);
  const actual = mask.density();
  results.attention.push({ case: `sparse ${density}`, kernel: kernel(), targetDensity: density, density: actual, ms, tflops: tflops(ms, fullPairs * actual), vsDense: ms / denseMs });
  const flex = await writeSparseCase(backend, dir, density, mask, q, k, v);
  masks.push({ density, actual, nQ: flex.nQ, nK: flex.nK });
  // a refresh step's dense+map: the map only on the blocks of the active mask (map.within)
  const withinMs = await timeCalls(backend, () => backend.attention(q, k, v, { map: { ...MAP, within: mask } }), iters);
  results.attention.push({ case: `dense+map within the ${density} mask`, plain: 'dense', kernel: kernel(), ms: withinMs, tflops: tflops(withinMs, fullPairs), vsDense: withinMs / denseMs });
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
