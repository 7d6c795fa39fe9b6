import { cpuBackend, Rng, type CpuBackend } from '@mod-dit/tensor';
import { MaskScheduler, type ScheduleBudget } from '@mod-dit/scheduler';
import { denoise, flowSchedule, seededNoise } from '@mod-dit/pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OpClock,
  WAN_CONFIGS,
  WanInputError,
  WanModel,
  loadWanWeights,
  runWan,
  seededWeightSource,
  wanVelocity,
  type AttentionCallRecord,
  type WanForwardArgs,
  type WanInputs,
  type WanWeights,
} from '../src/index.js';
import { maxRelativeError } from '@mod-dit/tensor/conformance';

const config = WAN_CONFIGS['tiny-t2v'];
// grid 4 x 8 x 8 = 256 tokens, 64 per frame: 4 blocks of 64. The CPU reference backend is
// slow, so the runs are short: 6 steps, warm-up 3, refresh interval 2.
const SHAPE = { channels: 16, frames: 4, height: 16, width: 16 };
const STEPS = 6;
const SLOW = 120_000;
let weights: WanWeights;
let inputs: WanInputs;

beforeAll(async () => {
  weights = await loadWanWeights(seededWeightSource(config, 3), cpuBackend(), config);
  const r = new Rng(5);
  inputs = { context: r.normals(7 * config.textDim), contextRows: 7, contextNull: r.normals(3 * config.textDim), contextNullRows: 3 };
});
afterAll(() => weights.dispose());

async function runWith(budget: ScheduleBudget | null, records: AttentionCallRecord[] = [], clock?: OpClock) {
  const scheduler = budget
    ? new MaskScheduler({ heads: config.heads, geometry: { videoTokens: 256, tokensPerFrame: 64, blockSize: 64 }, steps: STEPS, warmup: 3, interval: 2, denseLayers: 1, budget })
    : undefined;
  const model = new WanModel(cpuBackend(), weights, { scheduler, clock, onAttention: (r) => records.push(r) });
  const v = await wanVelocity(model, inputs, SHAPE);
  try {
    return await denoise({ model: v.velocity, schedule: flowSchedule({ steps: STEPS, shift: 5 }), noise: seededNoise([16, 4, 16, 16], 1), guidance: 3 });
  } finally {
    v.dispose();
  }
}

describe('MOD-DiT in the Wan loop', () => {
  it(
    'sends every self-attention call through the scheduler (per layer and branch, layer 0 dense), matches dense with every line on, frees every temporary',
    async () => {
      const cpu = cpuBackend() as CpuBackend;
      const before = cpu.liveStorages;
      const records: AttentionCallRecord[] = [];
      const clock = new OpClock();
      const mod = await runWith({ kind: 'density', density: 0.5 }, records, clock);
      expect(cpu.liveStorages).toBe(before);
      expect(records).toHaveLength(STEPS * config.layers * 2);
      const kinds = (layer: number, branch: string) => records.filter((r) => r.layer === layer && r.branch === branch).map((r) => r.kind);
      for (const branch of ['cond', 'uncond']) {
        expect(kinds(0, branch)).toEqual(new Array(STEPS).fill('dense'));
        // warm-up 3, interval 2: step 0 dense, 1-2 dense+map, then sparse with a refresh where (t - 3) mod 2 == 1
        expect(kinds(1, branch)).toEqual(['dense', 'dense+map', 'dense+map', 'sparse', 'dense+map', 'sparse']);
      }
      for (const r of records.filter((q) => q.kind === 'sparse')) {
        expect(r.sparsity).toBeGreaterThan(0.2);
        expect(r.sparsity).toBeLessThan(0.8);
      }
      for (const k of ['self-attention', 'cross-attention', 'gemm', 'mod', 'other'] as const) expect(clock.ms[k]).toBeGreaterThan(0);

      const dense = await runWith(null);
      const full = await runWith({ kind: 'top-k', k: 3 * 4 - 1 });
      expect(maxRelativeError(full.latent, dense.latent)).toBeLessThan(1e-5);
      expect(maxRelativeError(mod.latent, dense.latent)).toBeGreaterThan(1e-4); // the sparse run really skipped work
      expect(maxRelativeError(mod.latent, dense.latent)).toBeLessThan(1);
    },
    SLOW,
  );
});

describe('runWan', () => {
  it(
    'the device loop (latent, guidance and UniPC on the backend) matches the host loop',
    async () => {
      const common = { backend: cpuBackend(), weights, inputs, latent: SHAPE, noise: seededNoise([16, 4, 16, 16], 2), steps: 4, shift: 5, guidance: 4, attention: 'dense' as const };
      const host = await runWan({ ...common, sampling: 'host' });
      const before = (cpuBackend() as CpuBackend).liveStorages;
      const device = await runWan({ ...common, sampling: 'device' });
      expect((cpuBackend() as CpuBackend).liveStorages).toBe(before); // every latent and history tensor freed
      expect(maxRelativeError(device.latent, host.latent)).toBeLessThan(1e-5);
      expect(device.stepMs).toHaveLength(4);
    },
    SLOW,
  );
});

describe('guidance branches sharing layer 0', () => {
  it(
    "computes layer 0's self-attention stage once for both branches, bit for bit, and never serves it to another latent",
    async () => {
      const b = cpuBackend() as CpuBackend;
      const records: AttentionCallRecord[] = [];
      const model = new WanModel(b, weights, { onAttention: (r) => records.push(r) });
      const cond = model.embedText(inputs.context, inputs.contextRows);
      const uncond = model.embedText(inputs.contextNull as Float32Array, inputs.contextNullRows as number);
      const latent = b.upload(seededNoise([16, 4, 16, 16], 3), [16, 4, 16, 16], 'f32');
      const other = b.upload(seededNoise([16, 4, 16, 16], 4), [16, 4, 16, 16], 'f32');
      const run = async (a: Partial<WanForwardArgs>) => {
        const v = await model.forwardTensor({ latent, shape: SHAPE, timestep: 800, step: 2, context: cond, ...a });
        try {
          return await v.toFloat32();
        } finally {
          v.dispose();
        }
      };
      const plainCond = await run({ branch: 'cond' });
      const plainUncond = await run({ context: uncond, branch: 'uncond' });
      const plainOther = await run({ latent: other, context: uncond, branch: 'uncond' });
      records.length = 0;
      const before = b.liveStorages;
      expect(await run({ branch: 'cond', prefix: 'store' })).toEqual(plainCond);
      expect(await run({ context: uncond, branch: 'uncond', prefix: 'reuse' })).toEqual(plainUncond);
      expect(b.liveStorages).toBe(before); // the stored stage was taken and freed
      expect(records.filter((r) => r.shared).map((r) => [r.layer, r.branch])).toEqual([[0, 'uncond']]);
      // a stored stage and a forward of another latent: computed, and the stored one freed
      records.length = 0;
      await run({ branch: 'cond', prefix: 'store' });
      expect(await run({ latent: other, context: uncond, branch: 'uncond', prefix: 'reuse' })).toEqual(plainOther);
      expect(records.some((r) => r.shared)).toBe(false);
      expect(b.liveStorages).toBe(before);
      for (const t of [cond, uncond, latent, other]) t.dispose();
    },
    SLOW,
  );
});

describe('input checks', () => {
  it('rejects wrong text, latent and conditioning shapes with WanInputError', async () => {
    const model = new WanModel(cpuBackend(), weights);
    const r = new Rng(9);
    expect(() => model.embedText(r.normals(5 * 31), 5)).toThrow(WanInputError);
    expect(() => model.embedText(r.normals(17 * 32), 17)).toThrow(/1 <= L <= 16/);
    await expect(model.embedImage(r.normals(24), 1)).rejects.toThrow(/text-to-video/);
    const ctx = model.embedText(new Rng(1).normals(2 * 32), 2);
    await expect(model.forward({ latent: r.normals(10), shape: SHAPE, timestep: 999, context: ctx })).rejects.toThrow(/latent: expected \[16, 4, 16, 16\]/);
    await expect(model.forward({ latent: r.normals(16 * 4 * 15 * 16), shape: { ...SHAPE, height: 15 }, timestep: 999, context: ctx })).rejects.toThrow(/not divisible by the patch/);
    await expect(model.forward({ latent: r.normals(16 * 4 * 16 * 16), shape: SHAPE, timestep: 999, context: ctx, condition: r.normals(3) })).rejects.toThrow(/no conditioning/);
    const half = cpuBackend().upload(r.normals(16 * 4 * 16 * 16), [16, 4, 16, 16], 'f32');
    await expect(model.forwardTensor({ latent: cpuBackend().cast(half, 'bf16'), shape: SHAPE, timestep: 999, context: ctx })).rejects.toThrow(/got bf16 \[16, 4, 16, 16\]/);
    await expect(model.forwardTensor({ latent: half.reshape([16, 4, 256]), shape: SHAPE, timestep: 999, context: ctx })).rejects.toThrow(/expected \[16, 4, 16, 16\] \(f32/);
    half.dispose();
    ctx.dispose();
  });

  it('needs context_null for guidance', async () => {
    const model = new WanModel(cpuBackend(), weights);
    await expect(wanVelocity(model, { context: inputs.context, contextRows: 7 }, SHAPE)).rejects.toThrow(/context_null/);
  });
});
