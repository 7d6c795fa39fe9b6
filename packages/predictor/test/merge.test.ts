import { describe, expect, it } from 'vitest';
import { BlockMask, Rng } from '@mod-dit/tensor';
import { BlockLayout, InvalidMapError, mergeUnderMask, projectMap } from '../src/index.js';
import { maxRelError } from './brute-force.js';

describe('mergeUnderMask', () => {
  // 6 frames of 190 tokens, 64-token blocks (n = 18, ragged), 70 text tokens: the mask has text blocks the merge must skip
  const layout = new BlockLayout({ videoTokens: 6 * 190, tokensPerFrame: 190, blockSize: 64 });
  const n = layout.n;
  const heads = 3;
  const tokens = layout.videoTokens + 70;
  const nB = Math.ceil(tokens / 64);
  const rng = new Rng(17);
  const grid = new Uint8Array(heads * nB * nB).map(() => (rng.uniform() < 0.35 ? 1 : 0));
  const mask = BlockMask.fromDense({ heads, qLen: tokens, kLen: tokens, blockSize: 64 }, grid);

  it('takes fresh values exactly under the mask, keeps the rest, and keeps M^T map in step', () => {
    const previous = rng.uniforms(heads * n * n);
    const fresh = rng.uniforms(heads * n * n);
    const map = previous.slice();
    const projections = projectMap(map, heads, layout);
    mergeUnderMask(map, projections, fresh, mask, heads, layout);
    let changed = 0;
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const c = (h * n + i) * n + j;
          const on = grid[(h * nB + i) * nB + j] === 1;
          expect(map[c]).toBe(on ? fresh[c] : previous[c]);
          changed += on ? 1 : 0;
        }
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(heads * n * n);
    expect(maxRelError(projections, projectMap(map, heads, layout))).toBeLessThan(1e-12);
  });

  it('leaves map and projections untouched when the fresh map is bad', () => {
    const map = rng.uniforms(heads * n * n);
    const projections = projectMap(map, heads, layout);
    const before = [map.slice(), projections.slice()];
    const fresh = rng.uniforms(heads * n * n);
    // a NaN on the last active video block of the last head: found only after many good ones
    let last = -1;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (grid[((heads - 1) * nB + i) * nB + j]) last = ((heads - 1) * n + i) * n + j;
    fresh[last] = NaN;
    expect(() => mergeUnderMask(map, projections, fresh, mask, heads, layout)).toThrow(InvalidMapError);
    expect(map).toEqual(before[0]);
    expect(projections).toEqual(before[1]);
    expect(() => mergeUnderMask(map, projections, fresh.subarray(1), mask, heads, layout)).toThrow(/fresh sparsity map/);
  });
});
