import { cpuBackend } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { EvalConfigError, VideoAttentionSuite, exactSparsityMap } from '../src/index.js';

describe('exactSparsityMap', () => {
  it('equals the CPU backend dense attention map, text keys in the softmax and ragged blocks included', async () => {
    // 3 x 7 x 9 = 189 video tokens (blocks 64, 64, 61) + 6 text tokens
    const suite = new VideoAttentionSuite({ grid: [3, 7, 9], textTokens: 6, blockSize: 64, heads: 3, headDim: 13, seed: 2, steps: 10 });
    const g = suite.grid;
    const s = suite.sample({ step: 6, layer: 0, branch: 0 });
    const be = cpuBackend();
    const shape = [1, 3, g.tokens, 13];
    for (const tau of [1e-4, 3e-3]) {
      const res = be.attention(be.upload(s.q, shape, 'f32'), be.upload(s.k, shape, 'f32'), be.upload(s.v, shape, 'f32'), {
        map: { tau, blockSize: 64, tokens: g.videoTokens },
      });
      const want = await res.map!.toFloat32();
      const got = exactSparsityMap(s.q, s.k, 3, 13, g, tau);
      expect(got.length).toBe(want.length);
      // the two sum in different orders: allow one flipped entry per block at the threshold
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1 / (61 * 61) + 1e-7);
      const distinct = new Set(got);
      expect(distinct.size).toBeGreaterThan(3); // not a constant map
    }
  });

  it('rejects mismatched inputs', () => {
    const suite = new VideoAttentionSuite({ grid: [2, 4, 4], heads: 1, headDim: 8, steps: 2 });
    const s = suite.sample({ step: 0, layer: 0, branch: 0 });
    expect(() => exactSparsityMap(s.q, s.k.subarray(1), 1, 8, suite.grid, 1e-4)).toThrow(EvalConfigError);
    expect(() => exactSparsityMap(s.q, s.k, 1, 8, suite.grid, 0)).toThrow(/tau must be in \(0, 1\), got 0/);
  });
});
