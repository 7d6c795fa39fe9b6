// WebGPU speed at video-DiT shapes in f16 (the dtype WebGPU's subgroup matrices take), timed on
// the GPU (timestamp queries, median of --iters calls; webgpu-timing.mjs):
// - attention through the backend's default path: dense, dense + sparsity map and block-sparse
//   at each density (sparse on subgroup matrices only where the default tiling's sparse check
//   passed, the map on them only where the map check passed); dense + the portable map pass;
//   the portable kernel dense and block-sparse (--portable-iters N > 0); every other
//   subgroup-matrix tiling that passed webgpu-sgmat-check.mjs (--check) dense, and sparse where
//   its sparse check passed too;
// - the Wan-1.3B linear GEMMs (+ a square 4096^3) for every subgroup-matrix GEMM tiling that
//   passed the check, and the portable tiled kernel.
// Masks: the predictor's video-like density-target masks (bench-data.mjs videoMasks, as in
// tools/bench/attention.mjs) at the Wan shape; at other shapes a diagonal band plus random
// blocks per query block. Writes inputs, masks and our outputs
// under --dir so tools/bench/webgpu_attention_torch.py can time PyTorch on the same data and
// check ours in float32.
//
// Usage: node tools/bench/webgpu-attention.mjs [--shape wan|B,H,L,D] [--check FILE]
//          [--densities 0.5,0.25,0.1,0.05] [--iters 10] [--config-iters 5] [--portable-iters 0]
//          [--dir /tmp/webgpu-bench] [--no-gemm] [--configs all|default|NAME,...]
//          [--gemm-configs all|default|NAME,...] [--no-robustness]
// --configs: the tilings timed (of those that passed the check): all, or those named (`default`
// names the default one); --gemm-configs chooses the GEMM tilings apart (default: all, or
// default when --configs is default). A name that matches no tiling is an error.
// --no-robustness: Dawn's robust buffer access off (DeviceRequest.robustness).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { BlockMask, Rng, f32ToF16 } from '@mod-dit/tensor';
import { SG_ATTENTION_CONFIGS, SG_ATTENTION_DEFAULT, SG_MATMUL_CONFIGS, SG_MATMUL_DEFAULT, createWebGPUBackend, sgAttentionName, sgMatmulName } from '../../packages/webgpu/dist/index.js';
import { flag, option } from '../script-args.mjs';
import { randomHalfBits, videoMasks, writeSparseCase, writeTensorBytes } from './bench-data.mjs';
import { disposeResult } from './timed-calls.mjs';
import { gpuStats } from './webgpu-timing.mjs';

const shapeArg = option('shape', 'wan');
const densities = option('densities', '0.5,0.25,0.1,0.05').split(',').map(Number);
const iters = Number(option('iters', '10'));
const configIters = Number(option('config-iters', '5'));
const portableIters = Number(option('portable-iters', '0'));
const dir = option('dir', '/tmp/webgpu-bench');
const checkFile = option('check', undefined);
const [B, H, L, D] = shapeArg === 'wan' ? [1, 12, 32760, 128] : shapeArg.split(',').map(Number);
const BS = 128;

const backend = await createWebGPUBackend({ robustness: !flag('no-robustness') });
const caps = backend.caps;
mkdirSync(dir, { recursive: true });
// only tilings that passed the device check are timed
const checked = checkFile && existsSync(checkFile) ? JSON.parse(readFileSync(checkFile, 'utf8')) : { attention: {}, gemm: {} };
/** The configurations of `all` that `arg` selects (all, or names; `default` names `def`) and that passed the check. */
function selected(arg, all, def, naming, passed) {
  const names = new Set(arg.split(',').map((x) => (x === 'default' ? naming(def) : x)));
  const unknown = [...names].filter((n) => arg !== 'all' && !all.some((c) => naming(c) === n));
  if (unknown.length) throw new Error(`no tiling named ${unknown.join(', ')}; known: ${all.map(naming).join(', ')}`);
  return backend.subgroupMatrixActive ? all.filter((c) => (arg === 'all' || names.has(naming(c))) && passed[naming(c)] === true) : [];
}
const configsArg = option('configs', 'all');
const attnConfigs = selected(configsArg, SG_ATTENTION_CONFIGS, SG_ATTENTION_DEFAULT, sgAttentionName, checked.attention);
const sparseConfigs = attnConfigs.filter((c) => checked['attention-sparse']?.[sgAttentionName(c)] === true);
const gemmConfigs = selected(option('gemm-configs', configsArg === 'default' ? 'default' : 'all'), SG_MATMUL_CONFIGS, SG_MATMUL_DEFAULT, sgMatmulName, checked.gemm);

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

/** The predictor's video-like mask of target `density` at the Wan-1.3B 480p shape (bench-data.mjs), else a band mask. */
const predictedMask = shapeArg === 'wan' ? videoMasks({ frames: 21, perFrame: 1560 }, H) : undefined;
function maskFor(density) {
  if (predictedMask) return { mask: predictedMask(density), source: 'predictor (video-like block maps)' };
  return { mask: bandMask(density, 11), source: 'band' };
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
const results = { device: caps.description, robustness: caps.robustness, subgroupMatrix: backend.subgroupMatrixActive, timer: backend.canTimeGpu ? 'gpu-timestamp median' : 'wall per call median', B, H, L, D, iters, attention: [], gemm: [], masks: [] };
const masks = densities.map((d) => ({ density: d, ...maskFor(d) }));
const attn = (opts) => () => backend.attention(q, k, v, opts);
/** Writes what is measured so far: a run cut short by a timeout still leaves a readable ours.json. */
const save = () => writeFileSync(`${dir}/ours.json`, JSON.stringify(results, null, 1));

/** Times dense (+ map) and, with `sparse`, every mask with the backend's current paths; rows labelled `kernel`. */
async function attentionRows(kernel, n, { withMap = false, sparse = true } = {}) {
  const dense = await gpuStats(backend, attn(), n);
  results.attention.push({ kernel, case: 'dense', ...dense, tflops: tflops(dense.ms, pairs) });
  if (withMap) {
    const m = await gpuStats(backend, attn({ map: { tau: 1e-4, blockSize: BS } }), Math.min(n, configIters));
    results.attention.push({ kernel, case: 'dense+map', ...m, tflops: tflops(m.ms, pairs), vsDense: m.ms / dense.ms });
  }
  for (const { density, mask } of sparse ? masks : []) {
    const s = await gpuStats(backend, attn({ mask }), n);
    const actual = mask.density();
    results.attention.push({ kernel, case: `sparse ${density}`, targetDensity: density, density: actual, ...s, tflops: tflops(s.ms, pairs * actual), vsDense: s.ms / dense.ms, bound: actual + 0.05 });
  }
}

// the backend's default path (dense + map), with the outputs PyTorch checks (sparse: the
// default path too: the subgroup-matrix kernel where the device has them)
// with --check, sparse calls take the subgroup-matrix kernel only if its sparse check passed
// and the map's second pass on subgroup matrices only if the map check passed
if (checkFile) {
  backend.paths.sgAttentionSparse = checked['attention-sparse']?.[sgAttentionName(SG_ATTENTION_DEFAULT)] === true;
  backend.paths.sgMap = checked.map?.sgmat === true;
}
const defaultKernel = backend.subgroupMatrixActive ? `default (subgroup matrices ${sgAttentionName(SG_ATTENTION_DEFAULT)})` : 'default (portable)';
await attentionRows(defaultKernel, iters, { withMap: true });
const dense = backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: BS } });
await writeTensorBytes(`${dir}/ours_dense.bin`, dense.out);
await writeTensorBytes(`${dir}/ours_dense_lse.bin`, dense.lse);
await writeTensorBytes(`${dir}/ours_map.bin`, dense.map);
disposeResult(dense);
// where the default map pass ran on subgroup matrices: the portable map pass too, for comparison
const sgMapPath = backend.paths.sgMap;
if (backend.subgroupMatrixActive && sgMapPath !== false) {
  backend.paths.sgMap = false;
  const m = await gpuStats(backend, attn({ map: { tau: 1e-4, blockSize: BS } }), Math.min(iters, configIters));
  const denseMs = results.attention.find((a) => a.kernel === defaultKernel && a.case === 'dense').ms;
  results.attention.push({ kernel: `${defaultKernel}, portable map pass`, denseKernel: defaultKernel, case: 'dense+map', ...m, tflops: tflops(m.ms, pairs), vsDense: m.ms / denseMs });
  const portableMap = backend.attention(q, k, v, { map: { tau: 1e-4, blockSize: BS } });
  await writeTensorBytes(`${dir}/ours_map_portable.bin`, portableMap.map);
  disposeResult(portableMap);
}
backend.paths.sgMap = sgMapPath;
for (const { density, mask, source } of masks) {
  const flex = await writeSparseCase(backend, dir, density, mask, q, k, v);
  results.masks.push({ density, actual: mask.density(), nQ: flex.nQ, nK: flex.nK, source });
}
save();
if (portableIters > 0) {
  backend.paths.subgroupMatrix = false;
  await attentionRows('portable (SIMT)', portableIters);
  backend.paths.subgroupMatrix = true;
  save();
}
// the other tilings (the default one was timed above)
for (const config of attnConfigs.filter((c) => sgAttentionName(c) !== sgAttentionName(SG_ATTENTION_DEFAULT))) {
  backend.paths.sgAttention = config;
  backend.paths.sgAttentionSparse = sparseConfigs.includes(config);
  await attentionRows(`subgroup matrices ${sgAttentionName(config)}`, configIters, { sparse: backend.paths.sgAttentionSparse });
  save();
}
backend.paths.sgAttention = undefined;
backend.paths.sgAttentionSparse = undefined;
disposeResult(q);
disposeResult(k);
disposeResult(v);

if (!flag('no-gemm')) {
  // Wan-1.3B linears on 32,760 tokens (weights [N, K], + bias), a square 4096^3, and the first
  // shape once more at the end: the first GEMM block of a run has come out slow on some runs
  // (every kernel, the portable one too), so a second pass tells the shape from its position
  const shapes = [[32760, 1536, 1536], [32760, 1536, 8960], [32760, 8960, 1536], [4096, 4096, 4096], [32760, 1536, 1536]];
  for (const [pass, [M, K, N]] of shapes.entries()) {
    const a = backend.upload(randomHalfBits(rng, M * K, 1, f32ToF16), [M, K], 'f16');
    const w = backend.upload(randomHalfBits(rng, N * K, 0.03, f32ToF16), [N, K], 'f16');
    const bias = backend.upload(randomHalfBits(rng, N, 0.1, f32ToF16), [N], 'f16');
    const gemm = () => backend.matmul(a, w, { transposeB: true, bias });
    const row = (config, s) => results.gemm.push({ M, K, N, pass, config, ...s, tflops: (2 * M * N * K) / (s.ms * 1e-3) / 1e12 });
    // the default tiling is one of the configurations (marked); without checked ones, the default path alone
    if (!gemmConfigs.length) row(backend.subgroupMatrixActive ? 'default (subgroup matrices)' : 'default (portable)', await gpuStats(backend, gemm, iters));
    for (const config of gemmConfigs) {
      backend.paths.sgMatmul = config;
      const name = sgMatmulName(config);
      row(name === sgMatmulName(SG_MATMUL_DEFAULT) ? `${name} (default)` : name, await gpuStats(backend, gemm, iters));
    }
    backend.paths.sgMatmul = undefined;
    backend.paths.subgroupMatrix = false;
    row('portable (tiled SIMT)', await gpuStats(backend, gemm, Math.min(iters, 3)));
    backend.paths.subgroupMatrix = true;
    for (const t of [a, w, bias]) disposeResult(t);
    save();
  }
}
save();
console.log(JSON.stringify(results));
backend.destroy();
