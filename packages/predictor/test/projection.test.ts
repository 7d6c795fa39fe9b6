import { describe, expect, it } from 'vitest';
import { Rng } from '@mod-dit/tensor';
import { ShapeError } from '@mod-dit/tensor';
import { BlockLayout, NormalFactor, allocateMap, fitFeatures, projectMap } from '../src/index.js';
import { projectMapScalar } from '../src/projection-scalar.js';
import { projectMapSimd } from '../src/projection-simd.js';

// (videoTokens, tokensPerFrame, blockSize) -> n: 1 block; 7 and 33 (ragged last block, frames
// straddling blocks); exactly one group of 8 rows; 9 (one group + one row, one frame); 75 and
// 130 (several 64-row chunks, the last with a group and leftover rows / only leftover rows).
const GEOMETRIES: [number, number, number, number][] = [
  [50, 50, 64, 1],
  [3 * 140, 140, 64, 7],
  [3 * 700, 700, 64, 33],
  [8 * 64, 128, 64, 8],
  [1100, 1100, 128, 9],
  [5 * 1900, 1900, 128, 75],
  [13 * 1280, 1280, 128, 130],
];

/** A map in [0, 1] whose entries span many magnitudes, so float64 sums of them round. */
function randomMap(rng: Rng, length: number): Float32Array {
  const map = new Float32Array(length);
  for (let i = 0; i < length; i++) map[i] = rng.uniform() ** (1 + 20 * rng.uniform());
  return map;
}

/** Block-token frame ranges: the frames block b's tokens touch, from the token grid itself (not the layout's tile table). */
function framesOf(b: number, v: number, p: number, block: number): [number, number] {
  return [Math.floor((b * block) / p), Math.floor((Math.min((b + 1) * block, v) - 1) / p)];
}

/** Naive float64 M^T s: every entry added to its diagonal, its column and, where blocks share a frame, the tile sum. */
function naiveProject(map: Float32Array, heads: number, n: number, v: number, p: number, block: number): Float64Array {
  const out = new Float64Array(heads * 3 * n);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const s = map[(h * n + i) * n + j];
        out[h * 3 * n + (j - i + n - 1)] += s;
        out[h * 3 * n + 2 * n - 1 + j] += s;
        const [fi0, fi1] = framesOf(i, v, p, block);
        const [fj0, fj1] = framesOf(j, v, p, block);
        if (fi0 <= fj1 && fj0 <= fi1) out[h * 3 * n + 3 * n - 1] += s;
      }
  return out;
}

function maxRelative(a: Float64Array, b: Float64Array): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return e;
}

describe('M^T s passes', () => {
  for (const [v, p, block, n] of GEOMETRIES)
    it(`SIMD, scalar and projectMap equal a naive float64 loop (n = ${n}, tokens ${v}, frame ${p}, block ${block})`, () => {
      const layout = new BlockLayout({ videoTokens: v, tokensPerFrame: p, blockSize: block });
      expect(layout.n).toBe(n);
      const heads = 3;
      const map = randomMap(new Rng(v + n), heads * n * n);
      const ref = naiveProject(map, heads, n, v, p, block);
      const simd = new Float64Array(ref.length);
      // Node has WebAssembly SIMD: the fast path must run, not fall back
      expect(projectMapSimd(map, heads, n, layout.tileStart, layout.tileEnd, simd)).toBe(true);
      expect(maxRelative(simd, ref)).toBeLessThan(1e-12);
      const scalar = new Float64Array(ref.length);
      projectMapScalar(map, heads, n, layout.tileStart, layout.tileEnd, scalar);
      expect(maxRelative(scalar, ref)).toBeLessThan(1e-12);
      expect(maxRelative(projectMap(map, heads, layout), ref)).toBeLessThan(1e-12);
      // a map in the kernels' own memory is reduced in place, also through a view that starts at head 1
      const resident = allocateMap(heads, layout);
      resident.set(map);
      expect(maxRelative(projectMap(resident, heads, layout), ref)).toBeLessThan(1e-12);
      const tail = resident.subarray(n * n);
      expect(maxRelative(projectMap(tail, heads - 1, layout), ref.subarray(3 * n))).toBeLessThan(1e-12);
    });

  it('keeps no state between calls of different geometries and head counts', () => {
    const small = new BlockLayout({ videoTokens: 3 * 700, tokensPerFrame: 700, blockSize: 64 });
    const other = new BlockLayout({ videoTokens: 5 * 1900, tokensPerFrame: 1900, blockSize: 128 });
    const rng = new Rng(5);
    const a = randomMap(rng, 2 * small.n * small.n);
    const b = randomMap(rng, 4 * other.n * other.n);
    const first = projectMap(a, 2, small);
    projectMap(b, 4, other);
    expect(Array.from(projectMap(a, 2, small))).toEqual(Array.from(first));
    expect(maxRelative(projectMap(a.subarray(0, small.n * small.n), 1, small), first.subarray(0, 3 * small.n))).toBeLessThan(1e-12);
    // fits reuse their intermediate buffers: a fit in between must not leak into the next
    const fit = fitFeatures(a, 2, small);
    const between = fitFeatures(b, 4, other);
    const again = fitFeatures(a, 2, small);
    expect(Array.from(again.diagonals)).toEqual(Array.from(fit.diagonals));
    expect(Array.from(again.columns)).toEqual(Array.from(fit.columns));
    expect(Array.from(again.tiles)).toEqual(Array.from(fit.tiles));
    expect(between.diagonals.length).toBe(4 * (2 * other.n - 1));
  });

  it('NormalFactor.solve writes into a given array, and rejects a wrong-sized or aliased one', () => {
    const layout = new BlockLayout({ videoTokens: 3 * 700, tokensPerFrame: 700, blockSize: 64 });
    const factor = new NormalFactor(layout, 1);
    const rhs = projectMap(randomMap(new Rng(9), 2 * layout.n * layout.n), 2, layout);
    const out = new Float64Array(rhs.length).fill(Number.NaN);
    expect(factor.solve(rhs, 2, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(factor.solve(rhs, 2)));
    expect(() => factor.solve(rhs, 2, new Float64Array(rhs.length - 1))).toThrow(ShapeError);
    expect(() => factor.solve(rhs, 2, rhs)).toThrow(/right-hand sides/);
  });
});
