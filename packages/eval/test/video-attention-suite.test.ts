import { ModDitError } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { EvalConfigError, type HeadKind, VideoAttentionSuite } from '../src/index.js';
import { denseProbabilities } from './brute-force.js';

const KINDS: HeadKind[] = ['spatial', 'temporal', 'mixed', 'sink'];

/** Mean over sampled query rows of the dense mass that satisfies `pick(query, key)`. */
function massShare(suite: VideoAttentionSuite, step: number, head: number, pick: (i: number, j: number) => boolean, layer = 0): number {
  const { q, k } = suite.sample({ step, layer, branch: 0 });
  const g = suite.grid;
  let total = 0;
  let rows = 0;
  for (let i = 3; i < g.videoTokens; i += 7) {
    const p = denseProbabilities(q, k, head, g.tokens, suite.headDim, i);
    for (let j = 0; j < g.tokens; j++) if (pick(i, j)) total += p[j];
    rows++;
  }
  return total / rows;
}

describe('VideoAttentionSuite', () => {
  const opts = { grid: [5, 9, 11] as const, heads: 4, headDim: 30, steps: 50, seed: 7, textTokens: 0, kinds: KINDS };

  it('is deterministic per seed and differs across seeds, layers and branches', () => {
    const a = new VideoAttentionSuite({ ...opts, layers: 2, branches: 2 }).sample({ step: 17, layer: 1, branch: 1 });
    const b = new VideoAttentionSuite({ ...opts, layers: 2, branches: 2 }).sample({ step: 17, layer: 1, branch: 1 });
    expect(Buffer.from(a.q.buffer).equals(Buffer.from(b.q.buffer))).toBe(true);
    expect(Buffer.from(a.k.buffer).equals(Buffer.from(b.k.buffer))).toBe(true);
    expect(Buffer.from(a.v.buffer).equals(Buffer.from(b.v.buffer))).toBe(true);
    const other = new VideoAttentionSuite({ ...opts, seed: 8, layers: 2, branches: 2 }).sample({ step: 17, layer: 1, branch: 1 });
    expect(Buffer.from(a.q.buffer).equals(Buffer.from(other.q.buffer))).toBe(false);
    const branch0 = new VideoAttentionSuite({ ...opts, layers: 2, branches: 2 }).sample({ step: 17, layer: 1, branch: 0 });
    expect(Buffer.from(a.k.buffer).equals(Buffer.from(branch0.k.buffer))).toBe(false);
    expect(a.shape).toEqual([1, 4, 5 * 9 * 11, 30]);
    expect(a.q.every(Number.isFinite)).toBe(true);
  });

  it('spatial heads keep their mass inside the query frame', () => {
    const suite = new VideoAttentionSuite(opts);
    const F = suite.grid.frameTokens;
    const share = massShare(suite, 40, 0, (i, j) => Math.floor(i / F) === Math.floor(j / F));
    // the query's frame is 1/5 of the keys; a spatial head puts most of its mass there
    expect(share).toBeGreaterThan(0.8);
  });

  it('temporal heads attend the same place in other frames, decaying with frame distance', () => {
    const suite = new VideoAttentionSuite(opts);
    const g = suite.grid;
    const same = (i: number, j: number, dt: number) => {
      const [ti, hi, wi] = g.coord(i);
      const [tj, hj, wj] = g.coord(j);
      return hi === hj && wi === wj && Math.abs(ti - tj) === dt;
    };
    const at1 = massShare(suite, 40, 1, (i, j) => same(i, j, 1));
    const at3 = massShare(suite, 40, 1, (i, j) => same(i, j, 3));
    const anyOther = massShare(suite, 40, 1, (i, j) => same(i, j, 1) || same(i, j, 2) || same(i, j, 3) || same(i, j, 4));
    // those keys are <= 4 of 495; a spatial head gives them far less
    expect(anyOther).toBeGreaterThan(0.2);
    expect(at1).toBeGreaterThan(at3);
    const spatialHead = massShare(suite, 40, 0, (i, j) => same(i, j, 1) || same(i, j, 2) || same(i, j, 3) || same(i, j, 4));
    expect(anyOther).toBeGreaterThan(5 * spatialHead);
  });

  it('sink heads put a large share of mass on the few sink keys, for every query', () => {
    const suite = new VideoAttentionSuite(opts);
    const sinks = new Set(suite.sinkTokens(0));
    expect(sinks.size).toBe(3);
    const share = massShare(suite, 40, 3, (_, j) => sinks.has(j));
    expect(share).toBeGreaterThan(0.3);
    expect(massShare(suite, 40, 0, (_, j) => sinks.has(j))).toBeLessThan(share / 3);
  });

  it('sharpens as the step advances and drifts smoothly between steps', () => {
    const suite = new VideoAttentionSuite(opts);
    const F = suite.grid.frameTokens;
    const intra = (step: number) => massShare(suite, step, 0, (i, j) => Math.floor(i / F) === Math.floor(j / F));
    expect(intra(49)).toBeGreaterThan(intra(0));
    const a = suite.sample({ step: 20, layer: 0, branch: 0 }).q;
    const b = suite.sample({ step: 21, layer: 0, branch: 0 }).q;
    const far = suite.sample({ step: 45, layer: 0, branch: 0 }).q;
    const dist = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0));
    expect(dist(a, b)).toBeLessThan(dist(a, far) / 5);
    expect(dist(a, b)).toBeGreaterThan(0);
  });

  it('appends text keys that video queries attend according to each head', () => {
    const suite = new VideoAttentionSuite({ ...opts, grid: [3, 4, 7], textTokens: 13 });
    const g = suite.grid;
    expect(g.tokens).toBe(84 + 13);
    const shares = suite.headStates(30, 0).map((_, h) => massShare(suite, 30, h, (_i, j) => j >= g.videoTokens));
    // text keys draw more than their uniform share (13 of 97 keys) from the weakly positional sink head
    expect(shares[3]).toBeGreaterThan(13 / 97);
    // and some mass from every head
    for (const s of shares) expect(s).toBeGreaterThan(1e-3);
  });

  it('rejects bad options and sites with a typed error', () => {
    expect(() => new VideoAttentionSuite({ ...opts, grid: [0, 4, 4] })).toThrow(EvalConfigError);
    expect(() => new VideoAttentionSuite({ ...opts, headDim: 7 })).toThrow(/headDim must be an integer >= 8, got 7/);
    expect(() => new VideoAttentionSuite({ ...opts, kinds: ['diagonal' as HeadKind] })).toThrow(EvalConfigError);
    const suite = new VideoAttentionSuite(opts);
    expect(() => suite.sample({ step: 50, layer: 0, branch: 0 })).toThrow(/step 50 out of range \[0, 50\)/);
    try {
      suite.sample({ step: 0, layer: 1, branch: 0 });
    } catch (e) {
      expect(e).toBeInstanceOf(ModDitError);
    }
  });
});
