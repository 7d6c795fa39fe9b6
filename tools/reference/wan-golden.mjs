// Checks OUR Wan forward and a full 5-step UniPC + CFG run on any backend against the golden
// fixture of wan_reference.py --tiny (packages/wan/test/fixtures), and prints the relative
// errors (max |ours - ref| / max |ref|). The CPU backend is checked by the @mod-dit/wan tests;
// this script is for GPU backends on the device machine.
//
// Usage: node tools/reference/wan-golden.mjs [--backend cuda|webgpu|cpu] [--dtype f32|bf16]
// Exit code 1 when an error exceeds the tolerance (f32: 1e-4; bf16/f16: 3e-2).
import { fileURLToPath } from 'node:url';
import { option } from '../script-args.mjs';
import { openBackend } from '../backend-by-name.mjs';

const wan = await import('../../packages/wan/dist/index.js');
const { denoise, flowSchedule } = await import('../../packages/pipeline/dist/index.js');
const { toFloat32 } = await import('../../packages/tensor/dist/index.js');
const { Checkpoint, SafetensorsFile } = await import('../../packages/tensor/dist/safetensors.js');
const { maxRelativeError } = await import('../../packages/tensor/dist/conformance.js');

const backendName = option('backend', 'cpu');
const dtype = option('dtype', 'f32');
const tol = dtype === 'f32' ? 1e-4 : 3e-2;

const fixture = (f) => fileURLToPath(new URL(`../../packages/wan/test/fixtures/${f}`, import.meta.url));

const backend = await openBackend(backendName);
const shape = { channels: 16, frames: 3, height: 6, width: 10 };
let worst = 0;
for (const name of ['tiny-t2v', 'tiny-i2v']) {
  const config = wan.WAN_CONFIGS[name];
  const io = await SafetensorsFile.open(fixture(`${name}.io.safetensors`));
  const g = {};
  for (const k of io.tensors.keys()) {
    const t = await io.read(k);
    g[k] = { shape: t.shape, data: t.dtype === 'i32' ? t.data : Float32Array.from(toFloat32(t.data, t.dtype)) };
  }
  const run = JSON.parse(io.metadata.run);
  await io.close();
  const ckpt = await Checkpoint.open(fixture(`${name}.weights.safetensors`));
  const weights = await wan.loadWanWeights(wan.checkpointSource(ckpt), backend, config, { compute: dtype });
  await ckpt.close();
  const inputs = { context: g.context.data, contextRows: g.context.shape[0], contextNull: g.context_null.data, contextNullRows: g.context_null.shape[0] };
  if (config.modelType === 'i2v') Object.assign(inputs, { clipFea: g.clip_fea.data, clipRows: g.clip_fea.shape[0], y: g.y.data });
  const v = await wan.wanVelocity(new wan.WanModel(backend, weights), inputs, shape);
  const t0 = g.timesteps.data[0];
  const cond = await v.velocity(g.noise.data, { step: 0, timestep: t0, sigma: 0, branch: 'cond' });
  const uncond = await v.velocity(g.noise.data, { step: 0, timestep: t0, sigma: 0, branch: 'uncond' });
  const per = g.latents.data.length / run.steps;
  const steps = [];
  await denoise({
    model: v.velocity,
    schedule: flowSchedule({ steps: run.steps, shift: run.shift }),
    noise: g.noise.data,
    guidance: run.guidance,
    onStep: (i, x) => steps.push(maxRelativeError(x, g.latents.data.subarray(i * per, (i + 1) * per))),
  });
  v.dispose();
  weights.dispose();
  const result = { model: name, backend: backend.name, dtype, forwardCond: maxRelativeError(cond, g.velocity_cond.data), forwardUncond: maxRelativeError(uncond, g.velocity_uncond.data), runSteps: steps };
  worst = Math.max(worst, result.forwardCond, result.forwardUncond, ...steps);
  console.log(JSON.stringify(result));
}
backend.destroy?.();
console.log(JSON.stringify({ worst, tolerance: tol, pass: worst <= tol }));
process.exitCode = worst <= tol ? 0 : 1;
