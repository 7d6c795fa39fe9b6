// WebGPU speed at video-DiT shapes in f16 (the dtype WebGPU's subgroup matrices take):
// dense attention, dense + sparsity map, block-sparse attention at several densities (all
// through the portable flash-attention kernel), and the Wan-1.3B linear GEMMs for each
// subgroup-matrix tile configuration. Writes inputs, masks and outputs under --dir
// so tools/bench/webgpu_attention_torch.py can time PyTorch on the same data and check ours.
//
// Usage: node tools/bench/webgpu-attention.mjs [--shape wan|B,H,L,D] [--densities 0.5,0.25,0.1,0.05]
//          [--iters 10] [--dir /tmp/webgpu-bench] [--no-gemm] [--portable]
// --portable: the subgroup-matrix GEMM off (tiled GEMM kernel instead).
// Timing: wall clock around `iters` enqueued calls closed by backend.sync(), after one warm-up call.
// Masks: per head and query block, a band around the diagonal plus random key blocks, so that
// every row holds round(density * nK) blocks (load balanced, like the predictor's density target).
import { mkdirSync, writeFileSync } from 'node:fs';
import { BlockMask, Rng, f32ToF16 } from '@mod-dit/tensor';
import { SG_FRAG_CONFIGS, createWebGPUBackend } from '../../packages/webgpu/dist/index.js';
import { option, flag } from '../script-args.mjs';
import { randomHalfBits, writeTensorBytes } from './bench-data.mjs';
import { disposeResult, timeCalls } from './timed-calls.mjs';

const shapeArg = option('shape', 'wan');
const densities = option('densities', '0.5,0.25,0.1,0.05').split(',').map(Number);
const iters = Number(option('iters', '10'));
const dir = option('dir', '/tmp/webgpu-bench');
const [B, H, L, D] = shapeArg === 'wan' ? [1, 12, 32760, 128] : shapeArg.split(',').map(Number);
const BS = 128;

const backend = await createWebGPUBackend({ paths: { subgroupMatrix: !flag('portable') } });
const caps = backend.caps;
mkdirSync(dir, { recursive: true });


/** Every query block keeps round(density * nK) key blocks: a diagonal band, then random ones. */
function bandMask(density, seed) {
  const rng = new Rng(seed);
  const nQ = Math.ceil(L / BS);
  const nK = nQ;
  const per = Math.max(1, Math.round(density * nK));
  const grid = new Uint8Array(H * nQ * nK);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < nQ; i++) {
      const row = grid.subarray((h * nQ + i) * nK, (h * nQ + i + 1) * nK);
      let on = 0;
      for (let off = 0; on < Math.min(per, 3) && off < nK; off++) {
        const j = Math.min(nK - 1, Math.max(0, i - 1 + off));
        if (!row[j]) (row[j] = 1), on++;
      }
      while (on < per) {
        const j = rng.int(0, nK);
        if (!row[j]) (row[j] = 1), on++;
      }
    }
  return BlockMask.fromDense({ heads: H, qLen: L, kLen: L, blockSize: BS }, grid);
}

const rng = new Rng(7);
const n = B * H * L * D;
const host = { q: randomHalfBits(rng, n, 1, f32ToF16), k: randomHalfBits(rng, n, 1, f32ToF16), v: randomHalfBits(rng, n, 1, f32ToF16) };
for (const [name, h] of Object.entries(host)) writeFileSync(`${dir}/${name}.bin`, Buffer.from(h.buffer));
const q = backend.upload(host.q, [B, H, L, D], 'f16');
const k = backend.upload(host.k, [B, H, L, D], 'f16');
const v = backend.upload(host.v, [B, H, L, D], 'f16');

const pairs = B * H * L * L;
const tflops = (ms, p) => (4 * D * p) / (ms * 1e-3) / 1e12;
const results = { device: caps.description, subgroupMatrix: backend.subgroupMatrixActive, B, H, L, D, iters, attention: [], gemm: [], masks: [] };

const denseMs = await timeCalls(backend, () => backend.attention(q, k, v), iters);
results.attention.push({ case: 'dense', ms: denseMs, tflops: tflops(denseMs, pairs) });
const mapMs = await timeCalls(backend, () => backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: BS } }), iters);
results.attention.push({ case: 'dense+map', ms: mapMs, tflops: tflops(mapMs, pairs), vsDense: mapMs / denseMs });
const dense = backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: BS } });
await writeTensorBytes(`${dir}/ours_dense.bin`, dense.out);
await writeTensorBytes(`${dir}/ours_dense_lse.bin`, dense.lse);
await writeTensorBytes(`${dir}/ours_map.bin`, dense.map);
disposeResult(dense);

for (const density of densities) {
  const mask = bandMask(density, 11);
  const ms = await timeCalls(backend, () => backend.attention(q, k, v, { mask }), iters);
  const actual = mask.density();
  results.attention.push({ case: `sparse ${density}`, targetDensity: density, density: actual, ms, tflops: tflops(ms, pairs * actual), vsDense: ms / denseMs, bound: (density + 0.05) });
  const flex = mask.toFlex();
  writeFileSync(`${dir}/mask_${density}_num.bin`, Buffer.from(flex.kvNumBlocks.buffer));
  writeFileSync(`${dir}/mask_${density}_idx.bin`, Buffer.from(flex.kvIndices.buffer));
  const sparse = backend.attention(q, k, v, { mask });
  await writeTensorBytes(`${dir}/ours_sparse_${density}.bin`, sparse.out);
  disposeResult(sparse);
  results.masks.push({ density, actual, nQ: flex.nQ, nK: flex.nK });
}

disposeResult(q);
disposeResult(k);
disposeResult(v);

if (!flag('no-gemm')) {
  // Wan-1.3B linears on 32,760 tokens (weights [N, K], + bias), and a square 4096^3
  const shapes = [[32760, 1536, 1536], [32760, 1536, 8960], [32760, 8960, 1536], [4096, 4096, 4096]];
  for (const [M, K, N] of shapes) {
    const a = backend.upload(randomHalfBits(rng, M * K, 1, f32ToF16), [M, K], 'f16');
    const w = backend.upload(randomHalfBits(rng, N * K, 0.03, f32ToF16), [N, K], 'f16');
    const bias = backend.upload(randomHalfBits(rng, N, 0.1, f32ToF16), [N], 'f16');
    const configs = backend.subgroupMatrixActive ? SG_FRAG_CONFIGS : [undefined];
    for (const frags of configs) {
      backend.paths.sgMatmulFrags = frags;
      const ms = await timeCalls(backend, () => backend.matmul(a, w, { transposeB: true, bias }), iters);
      results.gemm.push({ M, K, N, frags: frags?.join('x') ?? 'portable', ms, tflops: (2 * M * N * K) / (ms * 1e-3) / 1e12 });
    }
    backend.paths.sgMatmulFrags = undefined;
    disposeResult(a);
    disposeResult(w);
    disposeResult(bias);
  }
}
writeFileSync(`${dir}/ours.json`, JSON.stringify(results, null, 1));
console.log(JSON.stringify(results));
backend.destroy();
