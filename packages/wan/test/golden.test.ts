import { cpuBackend } from '@mod-dit/tensor';
import { Checkpoint } from '@mod-dit/tensor/safetensors';
import { denoise, flowSchedule } from '@mod-dit/pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAN_CONFIGS, WanModel, checkpointSource, loadWanWeights, wanVelocity, type LatentShape, type WanInputs, type WanWeights } from '../src/index.js';
import { f32, fixturePath, readGolden, type Golden } from './fixture.js';
import { maxRelativeError } from '@mod-dit/tensor/conformance';

// Tolerances against the float64 PyTorch reference for our f32 CPU forward (max abs error /
// max abs value). Measured: ~1.2e-7 for one forward and <= 1.7e-7 at every step of the 5-step
// UniPC + CFG(4) run, i.e. f32 rounding; 1e-6 leaves room for summation-order differences
// while still catching any real deviation (a wrong eps or a swapped RoPE axis costs > 1e-3).
const FORWARD_TOL = 1e-6;
const RUN_TOL = 1e-6;
const SHAPE: LatentShape = { channels: 16, frames: 3, height: 6, width: 10 };

for (const name of ['tiny-t2v', 'tiny-i2v'] as const) {
  describe(`golden ${name} (tools/reference/wan_reference.py)`, () => {
    const config = WAN_CONFIGS[name];
    let g: Golden;
    let weights: WanWeights;
    let inputs: WanInputs;
    beforeAll(async () => {
      g = await readGolden(name);
      const ckpt = await Checkpoint.open(fixturePath(`${name}.weights.safetensors`));
      weights = await loadWanWeights(checkpointSource(ckpt), cpuBackend(), config);
      await ckpt.close();
      const rows = (n: string) => (g.tensors.get(n)?.shape[0] ?? 0) as number;
      inputs = { context: f32(g, 'context'), contextRows: rows('context'), contextNull: f32(g, 'context_null'), contextNullRows: rows('context_null') };
      if (config.modelType === 'i2v') Object.assign(inputs, { clipFea: f32(g, 'clip_fea'), clipRows: rows('clip_fea'), y: f32(g, 'y') });
    });
    afterAll(() => weights?.dispose());

    it('has the schedule of the reference (sigmas and integer timesteps)', () => {
      const sch = flowSchedule({ steps: g.run.steps, shift: g.run.shift });
      expect(Array.from(sch.timesteps)).toEqual(Array.from(g.tensors.get('timesteps')?.data as Int32Array));
      expect(Array.from(sch.sigmas)).toEqual(Array.from(f32(g, 'sigmas')));
    });

    it('forward of both branches matches the reference', async () => {
      const model = new WanModel(cpuBackend(), weights);
      const v = await wanVelocity(model, inputs, SHAPE);
      const t0 = (g.tensors.get('timesteps')?.data as Int32Array)[0];
      const noise = f32(g, 'noise');
      const cond = await v.velocity(noise, { step: 0, timestep: t0, sigma: 0, branch: 'cond' });
      const uncond = await v.velocity(noise, { step: 0, timestep: t0, sigma: 0, branch: 'uncond' });
      v.dispose();
      expect(maxRelativeError(cond, f32(g, 'velocity_cond'))).toBeLessThan(FORWARD_TOL);
      expect(maxRelativeError(uncond, f32(g, 'velocity_uncond'))).toBeLessThan(FORWARD_TOL);
    });

    it('a full UniPC + CFG run matches the reference at every step', async () => {
      const model = new WanModel(cpuBackend(), weights);
      const v = await wanVelocity(model, inputs, SHAPE);
      const ref = f32(g, 'latents');
      const per = ref.length / g.run.steps;
      const errs: number[] = [];
      await denoise({
        model: v.velocity,
        schedule: flowSchedule({ steps: g.run.steps, shift: g.run.shift }),
        noise: f32(g, 'noise'),
        guidance: g.run.guidance,
        onStep: (i, x) => errs.push(maxRelativeError(x, ref.subarray(i * per, (i + 1) * per))),
      });
      v.dispose();
      expect(errs).toHaveLength(g.run.steps);
      for (const e of errs) expect(e).toBeLessThan(RUN_TOL);
    });
  });
}
