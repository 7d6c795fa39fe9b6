import { describe, expect, it } from 'vitest';
import { VideoAttentionSuite } from '@mod-dit/eval';
import { InvalidOptionError } from '@mod-dit/predictor';
import { MaskScheduler } from '@mod-dit/scheduler';
import { type BlockMask, cpuBackend, fromNumbers, toFloat32 } from '@mod-dit/tensor';
import { DEFAULT_CONFIG, type DemoConfig, SCHEDULE } from '../src/demo-config.js';
import { runDemo } from '../src/demo-run.js';

/** What the demo should show, from direct package calls: the scheduler driven by the CPU backend's maps, and float64 brute force. */
async function expected(c: DemoConfig) {
  const backend = cpuBackend();
  const suite = new VideoAttentionSuite({ grid: c.grid, heads: c.heads, headDim: c.headDim, blockSize: c.blockSize, steps: SCHEDULE.steps, seed: c.seed });
  const L = suite.grid.tokens;
  const scheduler = new MaskScheduler({
    heads: c.heads,
    geometry: { videoTokens: L, tokensPerFrame: c.grid[1] * c.grid[2], blockSize: c.blockSize },
    ...SCHEDULE,
    tau: c.tau,
    budget: c.budget,
  });
  const mapAt = async (step: number) => {
    const s = suite.sample({ step, layer: 0, branch: 0 });
    const [q, k, v] = [s.q, s.k, s.v].map((x) => backend.upload(fromNumbers(x, c.dtype), s.shape, c.dtype));
    return toFloat32(await backend.read(backend.attention(q, k, v, { map: { tau: c.tau, blockSize: c.blockSize } }).map!), 'f32');
  };
  const mapSteps: number[] = [];
  let mask: BlockMask | undefined;
  for (let step = 0; step <= c.step + 1 && !mask; step++) {
    const plan = scheduler.plan({ step, layer: 0, branch: 0 });
    if (plan.kind === 'sparse' && step >= c.step) mask = plan.mask;
    else if (plan.kind === 'dense+map') {
      scheduler.observe({ step, layer: 0, branch: 0 }, await mapAt(step));
      if (step <= c.step) mapSteps.push(step);
    }
  }
  const map = await mapAt(c.step);

  // float64 brute force at the shown step (f32 suite values): dense and masked softmax per row.
  const s = suite.sample({ step: c.step, layer: 0, branch: 0 });
  const D = c.headDim;
  const bs = c.blockSize;
  const heads = [];
  let errAll = 0;
  let refAll = 0;
  for (let h = 0; h < c.heads; h++) {
    let recall = 0;
    let pairs = 0;
    let err = 0;
    let ref = 0;
    for (let i = 0; i < L; i++) {
      const logits = new Float64Array(L);
      let max = -Infinity;
      for (let j = 0; j < L; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += s.q[(h * L + i) * D + d] * s.k[(h * L + j) * D + d];
        logits[j] = dot / Math.sqrt(D);
        max = Math.max(max, logits[j]);
      }
      let z = 0;
      let zIn = 0;
      const dense = new Float64Array(D);
      const sparse = new Float64Array(D);
      for (let j = 0; j < L; j++) {
        const p = Math.exp(logits[j] - max);
        const active = mask!.isActive(h, Math.floor(i / bs), Math.floor(j / bs));
        z += p;
        if (active) {
          zIn += p;
          pairs++;
        }
        for (let d = 0; d < D; d++) {
          dense[d] += p * s.v[(h * L + j) * D + d];
          if (active) sparse[d] += p * s.v[(h * L + j) * D + d];
        }
      }
      recall += zIn / z;
      for (let d = 0; d < D; d++) {
        const o = dense[d] / z;
        err += (sparse[d] / zIn - o) ** 2;
        ref += o * o;
      }
    }
    errAll += err;
    refAll += ref;
    heads.push({ density: pairs / (L * L), recall: recall / L, relError: Math.sqrt(err / ref) });
  }
  return { mask: mask!, map, mapSteps, heads, relError: Math.sqrt(errAll / refAll), kinds: s.heads.map((x) => x.kind) };
}

function check(got: Awaited<ReturnType<typeof runDemo>>, want: Awaited<ReturnType<typeof expected>>, errTol: number): void {
  const n = got.blocks;
  expect(got.mapSteps).toEqual(want.mapSteps);
  expect(got.heads.map((h) => h.kind)).toEqual(want.kinds);
  for (let h = 0; h < got.heads.length; h++) {
    const g = got.heads[h];
    for (let I = 0; I < n; I++) for (let J = 0; J < n; J++) expect(g.mask[I * n + J], `head ${h} block (${I}, ${J})`).toBe(want.mask.isActive(h, I, J) ? 1 : 0);
    expect(Array.from(g.map)).toEqual(Array.from(want.map.subarray(h * n * n, (h + 1) * n * n)));
    expect(g.density).toBeCloseTo(want.heads[h].density, 12);
    expect(g.recall).toBeCloseTo(want.heads[h].recall, 9);
    expect(Math.abs(g.relError - want.heads[h].relError)).toBeLessThan(errTol);
  }
  expect(Math.abs(got.overall.relError - want.relError)).toBeLessThan(errTol);
  // The mask is a real selection, not all-on: some mass is missed and some blocks are off.
  expect(got.overall.density).toBeLessThan(1);
  expect(got.overall.recall).toBeLessThan(1);
  for (const t of Object.values(got.timings)) expect(t).toBeGreaterThan(0);
}

describe('runDemo on the CPU backend', () => {
  // 3 x 7 x 9 = 189 tokens: blocks of 64 are ragged (64, 64, 61) and straddle frames.
  const ragged: DemoConfig = { ...DEFAULT_CONFIG, grid: [3, 7, 9], heads: 3, headDim: 12, blockSize: 64, budget: { kind: 'density', density: 0.5 }, step: 23, seed: 5, repeats: 1 };

  it('a sparse step after a refresh: mask, map, density, recall and error match direct package calls', async () => {
    const stages: string[] = [];
    const got = await runDemo(cpuBackend(), ragged, (s) => void stages.push(s));
    check(got, await expected(ragged), 1e-5);
    expect(got.stepKind).toBe('sparse');
    expect(got.maskSteps).toEqual({ fromStep: 22, toStep: 30 });
    expect(stages.length).toBe(5); // maps at 10, 11, 21, then the shown step and the reference
  });

  it('a refresh step in f16 with a top-k budget shows the mask that step builds', async () => {
    const c: DemoConfig = { ...ragged, grid: [4, 5, 13], heads: 2, headDim: 10, budget: { kind: 'top-k', k: 2 }, step: 31, seed: 9, dtype: 'f16', repeats: 2 };
    const got = await runDemo(cpuBackend(), c);
    check(got, await expected(c), 2e-2);
    expect(got.stepKind).toBe('dense+map');
    expect(got.mapSteps).toEqual([10, 11, 21, 31]);
    expect(got.maskSteps).toEqual({ fromStep: 32, toStep: 40 });
  });

  it('rejects a step without a mask and a bad grid with InvalidOptionError naming the field', async () => {
    await expect(runDemo(cpuBackend(), { ...ragged, step: SCHEDULE.warmup - 1 })).rejects.toThrow(InvalidOptionError);
    await expect(runDemo(cpuBackend(), { ...ragged, step: SCHEDULE.warmup - 1 })).rejects.toThrow(/step must be an integer in \[12, 49\].*got 11/);
    await expect(runDemo(cpuBackend(), { ...ragged, grid: [3, 0, 9] })).rejects.toThrow(/grid must be .* got \[3,0,9\]/);
    await expect(runDemo(cpuBackend(), { ...ragged, repeats: 0 })).rejects.toThrow(/repeats/);
    await expect(runDemo(cpuBackend(), { ...ragged, budget: { kind: 'top-k', k: Number.NaN } })).rejects.toThrow(/budget\.k must be a non-negative integer.*got NaN/);
    await expect(runDemo(cpuBackend(), { ...ragged, budget: { kind: 'density', density: 1.5 } })).rejects.toThrow(/budget\.density must be a fraction in \(0, 1\], got 1\.5/);
  });
});
