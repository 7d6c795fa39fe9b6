import { describe, expect, it } from 'vitest';
import { type BlockMask, Rng, ShapeError } from '@mod-dit/tensor';
import { InvalidOptionError } from '@mod-dit/predictor';
import { MaskScheduler, ScheduleOrderError, modelDefaults, type SchedulerConfig } from '../src/index.js';

// The spec's schedule for 50 steps, m = 12, T = 10, written out by hand:
// steps 0..9 dense (0..m-3); 10, 11 dense + map (m-2, m-1); refresh steps 21, 31, 41
// ((t - 12) mod 10 == 9) dense + map; every other step from 12 on sparse.
// D = dense, M = dense + map, S = sparse; index = step.
const EXPECTED =
  'DDDDDDDDDD' + // 0-9
  'MMSSSSSSSS' + // 10-19
  'SMSSSSSSSS' + // 20-29
  'SMSSSSSSSS' + // 30-39
  'SMSSSSSSSS'; // 40-49

const geometry = { videoTokens: 5 * 200, tokensPerFrame: 200, blockSize: 64 }; // n = 16, last block ragged
const heads = 3;
const n = 16;

function config(extra: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return { heads, geometry, ...modelDefaults('wan'), budget: { kind: 'top-k', k: 12 }, ...extra };
}

function map(seed: number): Float32Array {
  return new Rng(seed).uniforms(heads * n * n, 0, 1);
}

const letter = { dense: 'D', 'dense+map': 'M', sparse: 'S' } as const;

describe('step plan', () => {
  it('matches the spec for every step, per layer and branch; layer 0 of Wan is always dense', () => {
    const s = new MaskScheduler(config());
    const seen: Record<string, string> = {};
    const active: Record<string, BlockMask> = {};
    for (let step = 0; step < 50; step++)
      for (const layer of [0, 1, 2])
        for (const branch of ['cond', 'uncond']) {
          const plan = s.plan({ step, layer, branch });
          const site = `${layer}/${branch}`;
          seen[site] = (seen[site] ?? '') + letter[plan.kind];
          if (plan.kind === 'dense+map') {
            const { within, ...request } = plan;
            expect(request).toEqual({ kind: 'dense+map', tau: 1e-4, blockSize: 64, tokens: 1000 });
            // warm-up maps are whole; a refresh needs only the blocks of the mask it refreshes
            if (step < 12) expect(within).toBeUndefined();
            else expect(within).toBe(active[site]);
            s.observe({ step, layer, branch }, map(step * 100 + layer * 10 + (branch === 'cond' ? 1 : 2)));
          }
          if (plan.kind === 'sparse') {
            expect(plan.mask.heads).toBe(heads);
            active[site] = plan.mask;
          }
        }
    for (const branch of ['cond', 'uncond']) {
      expect(seen[`0/${branch}`]).toBe('D'.repeat(50));
      expect(seen[`1/${branch}`]).toBe(EXPECTED);
      expect(seen[`2/${branch}`]).toBe(EXPECTED);
    }
    expect([...EXPECTED].filter((c) => c !== 'S').length).toBe(15);
  });

  it('a refresh map that is NaN outside `within` issues the same masks as the whole map', () => {
    const whole = new MaskScheduler(config({ recordMasks: true }));
    const partial = new MaskScheduler(config({ recordMasks: true }));
    for (let step = 0; step < 50; step++) {
      const a = whole.plan({ step, layer: 1 });
      const b = partial.plan({ step, layer: 1 });
      if (a.kind !== 'dense+map' || b.kind !== 'dense+map') continue;
      const m = map(step + 7);
      const cut = m.slice();
      if (b.within) {
        const inside = b.within.toDense();
        let outside = 0;
        for (let i = 0; i < cut.length; i++) if (!inside[i]) (cut[i] = NaN), outside++;
        expect(outside).toBeGreaterThan(0);
      }
      whole.observe({ step, layer: 1 }, m);
      partial.observe({ step, layer: 1 }, cut);
    }
    expect(partial.maskLog.length).toBe(4);
    for (const [i, r] of whole.maskLog.entries()) expect(partial.maskLog[i].mask.colIdx).toEqual(r.mask.colIdx);
  });

  it('other warm-up and interval values follow the same rule', () => {
    // m = 4, T = 3, 12 steps: 0,1 dense; 2,3 map; (t-4) mod 3 == 2 -> 6, 9 map
    const s = new MaskScheduler(config({ warmup: 4, interval: 3, steps: 12, denseLayers: 0 }));
    let got = '';
    for (let step = 0; step < 12; step++) {
      const plan = s.plan({ step, layer: 0 });
      got += letter[plan.kind];
      if (plan.kind === 'dense+map') s.observe({ step, layer: 0 }, map(step));
    }
    expect(got).toBe('DDMMSSMSSMSS');
  });
});

describe('order errors', () => {
  it('observe without a dense+map plan, a wrong map size, a skipped warm-up map, going backwards', () => {
    const s = new MaskScheduler(config());
    expect(() => s.observe({ step: 10, layer: 1 }, map(1))).toThrow(ScheduleOrderError);
    s.plan({ step: 10, layer: 1 });
    expect(() => s.observe({ step: 10, layer: 1 }, new Float32Array(heads * n * n + 1))).toThrow(ShapeError);
    expect(() => s.observe({ step: 10, layer: 1 }, new Float32Array(7))).toThrow(/sparsity map of step 10, layer 1, branch 0: expected \[3, 16, 16\]/);
    expect(() => s.plan({ step: 11, layer: 1 })).toThrow(/map of step 10 was planned but never observed/);
    s.observe({ step: 10, layer: 1 }, map(2));
    expect(() => s.observe({ step: 10, layer: 1 }, map(2))).toThrow(ScheduleOrderError);
    s.plan({ step: 11, layer: 1 });
    s.plan({ step: 11, layer: 1 }); // the same step may be planned again before its observe()
    expect(() => s.observe({ step: 11, layer: 1 }, new Float32Array(heads * n * n).fill(NaN))).toThrow(/block \(0, 0\) is NaN/);
    s.observe({ step: 11, layer: 1 }, map(3)); // a failed observe() changed nothing: retry works
    expect(() => s.plan({ step: 11, layer: 1 })).toThrow(/already observed/);
    s.plan({ step: 12, layer: 1 });
    expect(() => s.plan({ step: 11, layer: 1 })).toThrow(/backwards/);
    // a layer whose warm-up maps never arrived cannot go sparse
    expect(() => s.plan({ step: 12, layer: 2 })).toThrow(/no mask yet/);
    expect(() => s.plan({ step: 11, layer: 3 })).toThrow(/warm-up map of step 10 was never observed/);
    // the dense layer never takes maps
    s.plan({ step: 10, layer: 0 });
    expect(() => s.observe({ step: 10, layer: 0 }, map(4))).toThrow(ScheduleOrderError);
    expect(() => s.plan({ step: 50, layer: 1 })).toThrow(InvalidOptionError);
    expect(() => s.plan({ step: 1, layer: 1, branch: 'a.b' })).toThrow(InvalidOptionError);
    expect(() => new MaskScheduler(config({ warmup: 1 }))).toThrow(InvalidOptionError);
  });
});
