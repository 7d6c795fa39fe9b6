// End-to-end dense vs MOD-DiT denoising runs of our Wan implementation on any backend, from
// the same seeded weights, stand-in embeddings and noise: the issue-6 "50-step MOD run vs our
// dense run" measurement. `mod-dit compare` does the same from the CLI (--backend cpu|cuda|webgpu).
//
// Usage: node tools/reference/wan-compare.mjs [--backend cuda|webgpu|cpu] [--model t2v-1.3B]
//          [--latent 21x60x104] [--dtype bf16] [--steps 50] [--guidance 5] [--shift 5]
//          [--density 0.2 | --top-k 350] [--warmup 12] [--interval 10] [--out file.jsonl] [--profile]
//          [--repeat N]
// Prints one JSON line: wall time of each run (every step ends with the latent's read-back,
// so wall times are real on asynchronous backends; the per-category times are host-side on
// them), the speedup, latent PSNR / relative error of MOD against dense, per-step sparsity.
// --repeat N (N > 1) times N - 1 more dense/MOD pairs in alternating order (MOD first in the
// second pair, dense first in the third, ...), so that a card warming up or throttling during
// the command weighs on both runs alike; `speedup` is then total dense over total MOD time,
// with every pair's wall times listed in `pairs`.
import { appendFileSync } from 'node:fs';
import { option, flag } from '../script-args.mjs';
import { openBackend } from '../backend-by-name.mjs';
import { timeCalls } from '../bench/timed-calls.mjs';

const wan = await import('../../packages/wan/dist/index.js');
const { latentFidelity, seededNoise } = await import('../../packages/pipeline/dist/index.js');

const backendName = option('backend', 'cpu');
const config = wan.wanConfig(option('model', 't2v-1.3B'));
const tiny = config.name.startsWith('tiny');
const [frames, height, width] = option('latent', tiny ? '3x16x24' : '21x60x104').split('x').map(Number);
const dtype = option('dtype', backendName === 'cpu' ? 'f32' : 'bf16');
const steps = Number(option('steps', tiny ? '8' : '50'));
const guidance = Number(option('guidance', '5'));
const shift = Number(option('shift', '5'));
const topK = option('top-k', undefined);
const budget = topK !== undefined ? { kind: 'top-k', k: Number(topK) } : { kind: 'density', density: Number(option('density', '0.2')) };
const mod = {
  blockSize: Number(option('block-size', tiny ? '64' : '128')),
  warmup: Number(option('warmup', tiny ? '3' : '12')),
  interval: Number(option('interval', tiny ? '3' : '10')),
  denseLayers: 1,
  budget,
};
const out = option('out', '');
const profile = flag('profile');
const repeat = Number(option('repeat', '1'));
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer, got ${option('repeat', '1')}`);

const backend = await openBackend(backendName);
const latent = { channels: config.outDim, frames, height, width };
const t0 = performance.now();
const weights = await wan.loadWanWeights(wan.seededWeightSource(config, 0), backend, config, { compute: dtype });
await backend.sync();
const loadMs = performance.now() - t0;
const memory = () => backend.memoryStats && { ...backend.memoryStats };
const afterLoad = memory();
const common = { profile, backend, weights, latent, inputs: wan.seededInputs(config, 0, latent), noise: seededNoise([config.outDim, frames, height, width], 0), steps, shift, guidance };
const progress = (label) => (e) => process.stderr.write(`\r${label} ${e.step}/${e.steps} ${e.itPerSec.toFixed(2)} it/s${e.step === e.steps ? '\n' : ''}`);
backend.resetPeakMemory?.();
const dense = await wan.runWan({ ...common, attention: 'dense', onProgress: progress('dense') });
const denseMemory = memory();
backend.resetPeakMemory?.();
const sparse = await wan.runWan({ ...common, attention: 'mod', mod, onProgress: progress('mod') });
const modMemory = memory();
const pairs = [{ order: 'dense first', denseMs: Math.round(dense.wallMs), modMs: Math.round(sparse.wallMs) }];
for (let r = 1; r < repeat; r++) {
  const runs = { dense: () => wan.runWan({ ...common, attention: 'dense' }), mod: () => wan.runWan({ ...common, attention: 'mod', mod }) };
  const order = r % 2 === 1 ? ['mod', 'dense'] : ['dense', 'mod'];
  const ms = {};
  for (const kind of order) {
    ms[kind] = Math.round((await runs[kind]()).wallMs);
    process.stderr.write(`repeat ${r}: ${kind} ${ms[kind]} ms\n`);
  }
  pairs.push({ order: `${order[0]} first`, denseMs: ms.dense, modMs: ms.mod });
}
const total = (k) => pairs.reduce((a, p) => a + p[k], 0);
const round = (v, k = 1) => Math.round(v * 10 ** k) / 10 ** k;

/**
 * Self-attention under the masks the MOD run issued (cond branch, first interval, every
 * sparse layer), timed alone on random q/k/v of the run's shape: what a sparse call costs on
 * the masks the predictor really makes, next to the benchmark's synthetic ones.
 */
async function runMaskAttention() {
  const first = sparse.masks.filter((r) => r.branch === 'cond' && r.fromStep === sparse.masks[0].fromStep);
  if (!first.length || backendName === 'cpu') return undefined;
  const { heads, qLen } = first[0].mask;
  const d = config.dim / config.heads;
  const { Rng } = await import('../../packages/tensor/dist/index.js');
  const rng = new Rng(5);
  const [q, k, v] = [0, 1, 2].map(() => backend.cast(backend.upload(rng.normals(heads * qLen * d), [1, heads, qLen, d], 'f32'), dtype));
  let ms = 0;
  let density = 0;
  for (const r of first) {
    ms += await timeCalls(backend, () => backend.attention(q, k, v, { mask: r.mask }), 5);
    density += r.mask.density();
  }
  const dense = await timeCalls(backend, () => backend.attention(q, k, v), 5);
  for (const t of [q, k, v]) t.dispose();
  return { layers: first.length, meanMs: round(ms / first.length, 3), meanDensity: round(density / first.length, 4), denseMs: round(dense, 3) };
}
const maskAttention = await runMaskAttention();
const fid = latentFidelity(sparse.latent, dense.latent);
const result = {
  impl: '@mod-dit/wan',
  backend: backend.name,
  model: config.name,
  latent: [frames, height, width],
  tokens: (frames * height * width) / 4,
  dtype,
  steps,
  guidance,
  mod,
  loadMs: Math.round(loadMs),
  denseMs: Math.round(dense.wallMs),
  modMs: Math.round(sparse.wallMs),
  speedup: round(total('denseMs') / total('modMs'), 3),
  pairs: pairs.map((p) => ({ ...p, speedup: round(p.denseMs / p.modMs, 3) })),
  psnrDb: Number.isFinite(fid.psnrDb) ? round(fid.psnrDb, 2) : 'identical',
  relativeError: fid.relativeError,
  sparseCallSparsity: round(sparse.sparseCallSparsity, 4),
  sparsityPerStep: sparse.sparsity.map((s) => round(s, 3)),
  calls: sparse.calls,
  modStepMs: sparse.stepMs.map((s) => Math.round(s)),
  denseStepMs: dense.stepMs.map((s) => Math.round(s)),
  profile,
  sparseAttentionOnRunMasks: maskAttention,
  // device bytes (CUDA): after loading the weights, and the peaks of live tensors / allocator reservation in each run
  memory: afterLoad && { afterLoad, dense: denseMemory, mod: modMemory },
  hostTimeMs: { dense: Object.fromEntries(Object.entries(dense.timeMs).map(([k, v]) => [k, Math.round(v)])), mod: Object.fromEntries(Object.entries(sparse.timeMs).map(([k, v]) => [k, Math.round(v)])) },
};
console.log(JSON.stringify(result));
if (out) appendFileSync(out, `${JSON.stringify(result)}\n`);
weights.dispose();
backend.destroy?.();
