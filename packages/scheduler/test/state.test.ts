import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockMask, Rng } from '@mod-dit/tensor';
import { BlockLayout, buildMask, fitFeatures, predictFeatures, tileHeadsFromFeatures } from '@mod-dit/predictor';
import { MaskScheduler, type AttentionPlan, type SchedulerConfig, type SchedulerSnapshot } from '../src/index.js';
import { readMaskArchive, writeMaskArchive } from '../src/mask-archive.js';

// HunyuanVideo-like: 7 non-aligned frames of 150 tokens, 64-token blocks (n = 17, ragged), 45 text tokens after the video
const geometry = { videoTokens: 7 * 150, tokensPerFrame: 150, blockSize: 64 };
const layout = new BlockLayout(geometry);
const n = layout.n;
const heads = 2;
const textTokens = 45;
const base: SchedulerConfig = { heads, geometry, textTokens, budget: { kind: 'top-k', k: 9 }, recordMasks: true };

/** Maps that drift with the step: a per-(layer, branch) structure plus step-dependent noise. */
function mapAt(step: number, layer: number, branch: string): Float32Array {
  const rng = new Rng(step * 1000 + layer * 10 + (branch === 'cond' ? 1 : 2));
  const out = new Float32Array(heads * n * n);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, 0.5 + 0.4 * Math.sin(i * (layer + 1) * 0.37) + 0.15 * rng.normal()));
  return out;
}

/** where(mask, fresh, previous) over the video blocks, cell by cell with isActive. */
function mergeMaps(previous: Float32Array, fresh: Float32Array, mask: BlockMask): Float32Array {
  const out = previous.slice();
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) if (mask.isActive(h, i, j)) out[(h * n + i) * n + j] = fresh[(h * n + i) * n + j];
  return out;
}

/** Runs steps [from, to) for the given layers/branches, returning every plan, keyed "step/layer/branch". */
function run(s: MaskScheduler, from: number, to: number, layers = [0, 1], branches = ['cond', 'uncond']): Map<string, AttentionPlan> {
  const plans = new Map<string, AttentionPlan>();
  for (let step = from; step < to; step++)
    for (const layer of layers)
      for (const branch of branches) {
        const plan = s.plan({ step, layer, branch });
        plans.set(`${step}/${layer}/${branch}`, plan);
        if (plan.kind === 'dense+map') s.observe({ step, layer, branch }, mapAt(step, layer, branch));
      }
  return plans;
}

function expectSameMask(a: BlockMask, b: BlockMask): void {
  expect(a.rowPtr).toEqual(b.rowPtr);
  expect(a.colIdx).toEqual(b.colIdx);
}

function sparseMask(plans: Map<string, AttentionPlan>, key: string): BlockMask {
  const p = plans.get(key);
  if (p?.kind !== 'sparse') throw new Error(`${key} is ${p?.kind}, expected sparse`);
  return p.mask;
}

describe('online masking', () => {
  it('first mask = fit at m-2 and m-1, faithful prediction, top-k; refresh = merge under the mask, refit, predict', () => {
    const s = new MaskScheduler(base);
    const plans = run(s, 0, 50, [1], ['cond']);
    const fit = (m: Float32Array) => fitFeatures(m, heads, layout);
    const f10 = fit(mapAt(10, 1, 'cond'));
    const f11 = fit(mapAt(11, 1, 'cond'));
    const tileHeads = tileHeadsFromFeatures(f11, 1);
    const opts = { budget: { kind: 'top-k', k: 9 } as const, tileHeads, textTokens };
    const first = buildMask(predictFeatures(f10, f11, { interval: 10 }), layout, opts);
    for (let step = 12; step <= 20; step++) expectSameMask(sparseMask(plans, `${step}/1/cond`), first);
    // refresh at 21: where(mask, new, previous)
    const merged = mergeMaps(mapAt(11, 1, 'cond'), mapAt(21, 1, 'cond'), first);
    const f21 = fit(merged);
    const second = buildMask(predictFeatures(f11, f21, { interval: 10 }), layout, opts);
    for (let step = 22; step <= 30; step++) expectSameMask(sparseMask(plans, `${step}/1/cond`), second);
    expect(s.maskLog.map((r) => [r.fromStep, r.toStep])).toEqual([[12, 20], [22, 30], [32, 40], [42, 49]]);
    // text rows and columns are on in every issued mask
    for (const r of s.maskLog)
      for (let h = 0; h < heads; h++)
        for (let b = Math.floor(geometry.videoTokens / 64); b < r.mask.nQ; b++)
          for (let o = 0; o < r.mask.nQ; o++) expect(r.mask.isActive(h, b, o) && r.mask.isActive(h, o, b)).toBe(true);
  });

  it('keeps branches independent: a branch gets the same masks whether or not the other one runs', () => {
    const both = run(new MaskScheduler(base), 0, 50, [1], ['cond', 'uncond']);
    const alone = run(new MaskScheduler(base), 0, 50, [1], ['uncond']);
    let compared = 0;
    for (const [key, plan] of alone) {
      if (plan.kind !== 'sparse') continue;
      expectSameMask(sparseMask(both, key), plan.mask);
      compared++;
    }
    expect(compared).toBe(35);
    // and the two branches do differ (different maps)
    expect(sparseMask(both, '12/1/cond').colIdx).not.toEqual(sparseMask(both, '12/1/uncond').colIdx);
  });

  it("options: 'zeros' first features rank by the m-1 fit alone; step-distance uses distances 1 then 10", () => {
    const zeros = run(new MaskScheduler({ ...base, firstFeatures: 'zeros' }), 0, 22, [1], ['cond']);
    const f11 = fitFeatures(mapAt(11, 1, 'cond'), heads, layout);
    const opts = { budget: { kind: 'top-k', k: 9 } as const, tileHeads: tileHeadsFromFeatures(f11, 1), textTokens };
    expectSameMask(sparseMask(zeros, '12/1/cond'), buildMask(f11, layout, opts));

    const sd = run(new MaskScheduler({ ...base, prediction: 'step-distance' }), 0, 23, [1], ['cond']);
    const f10 = fitFeatures(mapAt(10, 1, 'cond'), heads, layout);
    const first = buildMask(predictFeatures(f10, f11, { interval: 10, rule: { kind: 'step-distance', distance: 1 } }), layout, opts);
    expectSameMask(sparseMask(sd, '12/1/cond'), first);
    const merged = mergeMaps(mapAt(11, 1, 'cond'), mapAt(21, 1, 'cond'), first);
    const f21 = fitFeatures(merged, heads, layout);
    expectSameMask(sparseMask(sd, '22/1/cond'), buildMask(predictFeatures(f11, f21, { interval: 10, rule: { kind: 'step-distance', distance: 10 } }), layout, opts));
  });

  it('density budget reaches its density on the video grid', () => {
    const plans = run(new MaskScheduler({ ...base, textTokens: 0, budget: { kind: 'density', density: 0.4 } }), 0, 13, [1], ['cond']);
    const mask = sparseMask(plans, '12/1/cond');
    for (let h = 0; h < heads; h++) {
      let on = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) on += mask.isActive(h, i, j) ? 1 : 0;
      expect(on / (n * n)).toBeGreaterThanOrEqual(0.4);
      expect(on / (n * n)).toBeLessThan(0.4 + n / (n * n)); // the last line added covers at most n new blocks
    }
  });
});

describe('resume and export', () => {
  for (const stop of [11, 25, 31])
    it(`a run serialized at step ${stop} and restored continues with bit-identical masks`, () => {
      const config: SchedulerConfig = { ...base, budget: { kind: 'recall', recall: 0.7 }, prediction: 'step-distance' };
      const whole = run(new MaskScheduler(config), 0, 50);
      const first = new MaskScheduler(config);
      run(first, 0, stop);
      const snapshot = JSON.parse(JSON.stringify(first.toJSON())) as SchedulerSnapshot;
      const resumed = MaskScheduler.fromJSON(snapshot);
      const rest = run(resumed, stop, 50);
      let compared = 0;
      for (const [key, plan] of rest) {
        const ref = whole.get(key) as AttentionPlan;
        expect(plan.kind).toBe(ref.kind);
        if (plan.kind === 'sparse' && ref.kind === 'sparse') {
          expectSameMask(plan.mask, ref.mask);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(0);
      expect(resumed.maskLog.length).toBe(16); // 2 layers x 2 branches x 4 intervals
    });

  it('the stored map after a refresh is where(mask, new, previous); corrupted snapshots are rejected', () => {
    const s = new MaskScheduler(base);
    run(s, 0, 22, [1], ['cond']);
    const snap = s.toJSON();
    const layer = snap.layers[0];
    const mapBytes = Buffer.from(layer.map as string, 'base64');
    const stored = new Float32Array(mapBytes.buffer, mapBytes.byteOffset, mapBytes.byteLength / 4);
    const first = s.maskLog[0].mask;
    expect(Array.from(stored)).toEqual(Array.from(mergeMaps(mapAt(11, 1, 'cond'), mapAt(21, 1, 'cond'), first)));
    expect(() => MaskScheduler.fromJSON({ ...snap, format: 'other' as never })).toThrow(/format/);
    const cut = { ...snap, layers: [{ ...layer, map: (layer.map as string).slice(0, 40) }] };
    expect(() => MaskScheduler.fromJSON(cut)).toThrow(/layers\[0\]\.map/);
  });

  it('issued masks round-trip through the safetensors archive in FlexAttention layout', async () => {
    const s = new MaskScheduler(base);
    run(s, 0, 50);
    const path = join(dir, 'masks.safetensors');
    await writeMaskArchive(path, s.maskLog);
    const back = await readMaskArchive(path);
    expect(back.length).toBe(s.maskLog.length);
    back.forEach((r, i) => {
      const o = s.maskLog[i];
      expect([r.layer, r.branch, r.fromStep, r.toStep]).toEqual([o.layer, o.branch, o.fromStep, o.toStep]);
      expectSameMask(r.mask, o.mask);
      expect(r.mask.denseQueries).toEqual([geometry.videoTokens, geometry.videoTokens + textTokens]);
    });
  });
});

let dir = '';
dir = await mkdtemp(join(tmpdir(), 'mod-dit-scheduler-'));
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
