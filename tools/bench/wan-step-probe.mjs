// Probe: what a denoising step of the Wan-1.3B MOD run costs beyond its two forwards.
// Times, at sparse steps, (a) one forward alone (+ sync), (b) the cond/uncond pair run
// concurrently, (c) the pair plus the host work of a step (guidance + UniPC on the latent).
import { performance } from 'node:perf_hooks';
import { openBackend } from '../backend-by-name.mjs';

const wan = await import('../../packages/wan/dist/index.js');
const { seededNoise, UniPCSampler, flowSchedule, guide } = await import('../../packages/pipeline/dist/index.js');
const { MaskScheduler } = await import('../../packages/scheduler/dist/index.js');
const backend = await openBackend('cuda');
const config = wan.wanConfig('t2v-1.3B');
const latent = { channels: 16, frames: 21, height: 60, width: 104 };
const weights = await wan.loadWanWeights(wan.seededWeightSource(config, 0), backend, config, { compute: 'bf16' });
const inputs = wan.seededInputs(config, 0, latent);
const noise = seededNoise([16, 21, 60, 104], 0);
for (const mode of ['dense', 'mod']) {
  const scheduler = mode === 'mod' ? new MaskScheduler({ heads: 12, geometry: { videoTokens: 32760, tokensPerFrame: 1560 }, steps: 50, warmup: 2, interval: 10, denseLayers: 1, budget: { kind: 'density', density: 0.2 } }) : undefined;
  const model = new wan.WanModel(backend, weights, { scheduler });
  const ctx = { cond: model.embedText(inputs.context, inputs.contextRows), uncond: model.embedText(inputs.contextNull, inputs.contextNullRows) };
  const fwd = (step, branch) => model.forward({ latent: noise, shape: latent, timestep: 900, context: ctx[branch], step, branch });
  for (const s of [0, 1]) for (const b of ['cond', 'uncond']) await fwd(s, b);
  const rows = [];
  const sampler = new UniPCSampler(flowSchedule({ steps: 50, shift: 5 }));
  let x = noise;
  for (let step = 2; step < 8; step++) {
    let t = performance.now();
    await fwd(step, 'cond');
    await backend.sync();
    const single = performance.now() - t;
    t = performance.now();
    const [a, b] = await Promise.all([fwd(step, 'cond'), fwd(step, 'uncond')]);
    await backend.sync();
    const pair = performance.now() - t;
    t = performance.now();
    x = sampler.step(step - 2, x, guide(a, b, 5));
    const host = performance.now() - t;
    rows.push({ step, single: Math.round(single), pair: Math.round(pair), host: Math.round(host) });
  }
  console.log(JSON.stringify({ mode, rows }));
  ctx.cond.dispose();
  ctx.uncond.dispose();
}
