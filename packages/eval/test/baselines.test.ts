import { Rng } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { BlockAttention, TokenGrid, VideoAttentionSuite, blockDistances, fillToDensity, oracleMask, svgMask, windowMask } from '../src/index.js';

describe('fillToDensity', () => {
  it('takes blocks in cost order and lands within one block of the target density', () => {
    const grid = new TokenGrid([3, 7, 9], { blockSize: 64 }); // 189 tokens: blocks 64, 64, 61
    const n = grid.blocks;
    const rng = new Rng(4);
    const cost = Float64Array.from({ length: n * n }, () => rng.uniform());
    const all = Int32Array.from({ length: n }, (_, i) => i);
    for (const target of [0.1, 0.37, 0.5, 0.93]) {
      const mask = fillToDensity(grid, cost, target, all);
      let pairs = 0;
      for (let c = 0; c < n * n; c++) if (mask[c]) pairs += grid.blockTokens(Math.floor(c / n)) * grid.blockTokens(c % n);
      expect(Math.abs(pairs / (grid.videoTokens * grid.videoTokens) - target)).toBeLessThanOrEqual((64 * 64) / (2 * 189 * 189) + 1e-12);
      // every chosen block is cheaper than every skipped one
      const chosen = [...cost].filter((_, c) => mask[c]);
      const skipped = [...cost].filter((_, c) => !mask[c]);
      if (chosen.length && skipped.length) expect(Math.max(...chosen)).toBeLessThan(Math.min(...skipped));
    }
    expect(() => fillToDensity(grid, cost, 1.5, all)).toThrow(/density must be in \[0, 1\], got 1.5/);
  });
});

describe('baselines on the suite', () => {
  // 4 x 8 x 16 = 512 tokens = 8 full blocks of 64 (2 per frame): equal block counts mean equal density exactly
  const suite = new VideoAttentionSuite({ grid: [4, 8, 16], heads: 4, headDim: 24, blockSize: 64, seed: 3, kinds: ['spatial', 'temporal', 'mixed', 'sink'] });
  const grid = suite.grid;
  const n = grid.blocks;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const dist = blockDistances(grid);

  it('the oracle recalls at least as much mass as any other mask of the same density', () => {
    const rng = new Rng(21);
    for (const step of [14, 37]) {
      const s = suite.sample({ step, layer: 0, branch: 0 });
      const attn = BlockAttention.compute({ ...s, heads: 4, headDim: 24, grid });
      const rows = Int32Array.from({ length: 16 }, () => rng.int(0, attn.rows.length));
      for (let h = 0; h < 4; h++)
        for (const d of [0.125, 0.25, 0.5]) {
          const random = Uint8Array.from({ length: n * n }, () => 0);
          const cells = [...Array(n * n).keys()].sort(() => rng.uniform() - 0.5).slice(0, Math.round(d * n * n));
          for (const c of cells) random[c] = 1;
          const others = [windowMask(grid, dist, d, all), svgMask(attn, h, dist, d, rows).mask, random];
          const oracle = attn.quality(h, oracleMask(attn, h, d));
          for (const m of others) {
            const q = attn.quality(h, m);
            expect(q.density).toBeCloseTo(oracle.density, 12);
            expect(oracle.recall).toBeGreaterThanOrEqual(q.recall - 1e-12);
          }
        }
    }
  });

  it('the SVG-like profiler labels a spatial head spatial and a temporal head temporal', () => {
    const s = suite.sample({ step: 40, layer: 0, branch: 0 });
    const attn = BlockAttention.compute({ ...s, heads: 4, headDim: 24, grid });
    const rows = Int32Array.from({ length: 32 }, (_, i) => i * 16);
    expect(svgMask(attn, 0, dist, 0.25, rows).pattern).toBe('spatial');
    expect(svgMask(attn, 1, dist, 0.25, rows).pattern).toBe('temporal');
  });

  it('the static window starts on the diagonal and grows by distance', () => {
    const small = windowMask(grid, dist, 1 / n, all);
    for (let i = 0; i < n; i++) expect(small[i * n + i]).toBe(1);
    const big = windowMask(grid, dist, 0.5, all);
    for (let c = 0; c < n * n; c++) if (small[c]) expect(big[c]).toBe(1);
  });
});
