// Times one Wan2.1 DiT forward of OUR implementation (@mod-dit/wan, built dist) on a backend,
// with seeded weights: the counterpart of `wan_reference.py --time`. Run both in the same
// command on the same card and compare the medians.
//
// Usage: node tools/reference/wan-forward.mjs [--backend cpu|cuda|webgpu] [--model t2v-1.3B]
//          [--latent 21x60x104] [--dtype bf16] [--iters 3] [--attention dense|mod|dense,mod] [--density 0.2]
//          [--layers N] [--out file.jsonl]
// --attention mod: warm-up 2 (steps 0 and 1 are the dense + map steps that fit the first mask,
// run untimed), then the timed iterations are sparse steps 2, 3, ... (at most 9) under the
// --density block budget, layer 0 dense.
// Needs `npx tsup` in packages/tensor, predictor, scheduler, pipeline, wan (and cuda or webgpu).
// Weights are generated on the host tensor by tensor (seeded uniforms, seconds for 1.3B),
// uploaded as f32 and cast on the device. Timing: wall clock around forward() closed by
// backend.sync() (forward() itself ends with a read-back of the output), after one warm-up.
// enqueueMs: from the call to the last read it requests (the output's), i.e. how long the host
// takes to enqueue a forward; close to forwardMs means the host, not the GPU, sets the pace.
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { option } from '../script-args.mjs';
import { openBackend } from '../backend-by-name.mjs';

const wan = await import('../../packages/wan/dist/index.js');
const { seededNoise } = await import('../../packages/pipeline/dist/index.js');
const { DTYPE_BYTES } = await import('../../packages/tensor/dist/index.js');

const backendName = option('backend', 'cpu');
// --layers N keeps the first N blocks (memory runs of the 14B: peak at full depth = the
// measured peak + the bytes of the blocks left out, which the result line also reports)
const fullConfig = wan.wanConfig(option('model', 't2v-1.3B'));
const config = { ...fullConfig, layers: Number(option('layers', fullConfig.layers)) };
const [frames, height, width] = option('latent', config.name.startsWith('tiny') ? '3x16x24' : '21x60x104').split('x').map(Number);
const dtype = option('dtype', backendName === 'cpu' ? 'f32' : 'bf16');
const iters = Number(option('iters', '3'));
const attentionModes = option('attention', 'dense').split(',');
const density = Number(option('density', '0.2'));
const out = option('out', '');

const backend = await openBackend(backendName);
const latent = { channels: config.outDim, frames, height, width };
const tokens = (frames * height * width) / 4;
let t0 = performance.now();
const weights = await wan.loadWanWeights(wan.seededWeightSource(config, 0), backend, config, { compute: dtype });
await backend.sync();
const loadMs = performance.now() - t0;

// the time of the latest read request (a forward's last one is its output's)
let lastRead = 0;
const read = backend.read.bind(backend);
backend.read = (t) => {
  lastRead = performance.now();
  return read(t);
};

const inputs = wan.seededInputs(config, 0, latent);
const noise = seededNoise([config.outDim, frames, height, width], 0);
const { MaskScheduler } = await import('../../packages/scheduler/dist/index.js');

/** Times `iters` forwards under one attention mode and prints (and appends) one JSON line. */
async function timeMode(attention) {
  backend.resetPeakMemory?.();
  let scheduler;
  if (attention === 'mod') {
    if (iters > 9) throw new Error('--attention mod times sparse steps 2..10: at most 9 iterations');
    scheduler = new MaskScheduler({
      heads: config.heads,
      geometry: { videoTokens: tokens, tokensPerFrame: (height * width) / 4 },
      steps: 50,
      warmup: 2,
      interval: 10,
      denseLayers: 1,
      budget: { kind: 'density', density },
    });
  }
  const model = new wan.WanModel(backend, weights, { scheduler });
  const context = model.embedText(inputs.context, inputs.contextRows);
  const image = config.modelType === 'i2v' ? await model.embedImage(inputs.clipFea, inputs.clipRows) : undefined;
  const forward = (step) => model.forward({ latent: noise, shape: latent, timestep: 999, context, image, condition: inputs.y, step });
  // warm-up (kernel compilation, allocator); under MOD also the two map steps that issue the masks
  await forward(0);
  if (attention === 'mod') await forward(1);
  const times = [];
  const enqueue = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await forward(attention === 'mod' ? 2 + i : 0);
    enqueue.push(lastRead - t);
    await backend.sync();
    times.push(performance.now() - t);
  }
  context.dispose();
  image?.dispose();
  const sorted = [...times].sort((a, b) => a - b);
  const result = {
    impl: '@mod-dit/wan',
    backend: backend.name,
    model: config.name,
    latent: [frames, height, width],
    tokens,
    dtype,
    attention,
    ...(attention === 'mod' ? { density } : {}),
    loadMs: Math.round(loadMs),
    forwardMs: times.map((t) => Math.round(t * 10) / 10),
    forwardMsMedian: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10,
    enqueueMs: enqueue.map((t) => Math.round(t * 10) / 10),
    // device bytes (CUDA): live tensors and allocator reservation, peaks over this mode's forwards (weights included)
    ...(backend.memoryStats ? { memory: backend.memoryStats } : {}),
    ...(config.layers < fullConfig.layers ? { layers: config.layers, omittedBlockBytes: omittedBlockBytes() } : {}),
  };
  console.log(JSON.stringify(result));
  if (out) appendFileSync(out, `${JSON.stringify(result)}\n`);
}

/** Device bytes of the blocks --layers left out, in the dtypes loadWanWeights gave block 0. */
function omittedBlockBytes() {
  let bytes = 0;
  for (const [name, shape] of wan.wanWeightShapes(fullConfig)) {
    const layer = /^blocks\.(\d+)\./.exec(name);
    if (!layer || Number(layer[1]) < config.layers) continue;
    const dtype = weights.get(name.replace(/^blocks\.\d+\./, 'blocks.0.')).dtype;
    bytes += shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  }
  return bytes;
}

for (const mode of attentionModes) await timeMode(mode);
weights.dispose();
backend.destroy?.();
