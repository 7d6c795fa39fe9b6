import { describe, expect, it } from 'vitest';
import { Rng } from '../src/index.js';

describe('Rng', () => {
  it('uniforms(n) is the sequence of n uniform() draws, and the stream continues from it', () => {
    for (const seed of [0, 7, 0xdeadbeef]) {
      const bulk = new Rng(seed);
      const single = new Rng(seed);
      const [lo, hi] = [-0.37, 1.9];
      const got = bulk.uniforms(1001, lo, hi);
      const want = Float32Array.from({ length: 1001 }, () => lo + (hi - lo) * single.uniform());
      expect(got).toEqual(want);
      // the state after the bulk call is the state after as many single draws
      expect(bulk.nextU32()).toBe(single.nextU32());
      expect(bulk.normals(5)).toEqual(single.normals(5));
    }
  });

  it('uniforms stay inside [lo, hi) and are not constant', () => {
    const u = new Rng(3).uniforms(4096, 2, 5);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(5);
    expect(new Set(u).size).toBeGreaterThan(4000);
  });
});
