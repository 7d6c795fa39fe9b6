import { describe, expect, it } from 'vitest';
import { Rng, ShapeError } from '@mod-dit/tensor';
import { BlockLayout, InvalidMapError, InvalidOptionError, NormalFactor, fitFeatures, gramStructure, normalMatrix, projectMap } from '../src/index.js';
import { bruteGram, bruteProject, designMatrix, denseSolve, maxRelError } from './brute-force.js';

// (videoTokens, tokensPerFrame, blockSize): aligned frames, frames straddling blocks with a
// ragged last block, Wan-480p-like rows (1560 tokens per frame), a single block, a single frame.
const GEOMETRIES: [number, number, number][] = [
  [6 * 256, 256, 64],
  [7 * 300, 300, 128],
  [5 * 1560, 1560, 128],
  [3 * 40, 40, 128],
  [1 * 700, 700, 64],
  [11 * 97, 97, 64],
];

describe('M^T M', () => {
  for (const [v, p, b] of GEOMETRIES)
    it(`closed form equals the brute-force product (tokens ${v}, frame ${p}, block ${b})`, () => {
      const layout = new BlockLayout({ videoTokens: v, tokensPerFrame: p, blockSize: b });
      const d = designMatrix(v, p, b);
      expect(layout.n).toBe(d.n);
      const brute = bruteGram(d, 0.75);
      const closed = normalMatrix(layout, 0.75);
      expect(Array.from(closed)).toEqual(Array.from(brute));
    });

  it('matches the spec closed form when frames align to blocks', () => {
    const f = 5;
    const frames = 7;
    const layout = new BlockLayout({ videoTokens: frames * f * 64, tokensPerFrame: f * 64, blockSize: 64 });
    const g = gramStructure(layout);
    const n = frames * f;
    for (let kk = 0; kk < 2 * n - 1; kk++) {
      const k = Math.abs(kk - (n - 1));
      expect(g.tileDiagonal[kk]).toBe(k < f ? (n / f) * (f - k) : 0);
    }
    for (let j = 0; j < n; j++) expect(g.tileColumn[j]).toBe(f);
    expect(g.tileTotal).toBe((n / f) * f * f);
  });
});

describe('fit', () => {
  for (const [v, p, b] of GEOMETRIES)
    it(`structured solve equals a dense float64 Cholesky to 1e-9 (tokens ${v}, frame ${p}, block ${b})`, () => {
      const layout = new BlockLayout({ videoTokens: v, tokensPerFrame: p, blockSize: b });
      const rng = new Rng(v + p);
      const heads = 3;
      const size = 3 * layout.n;
      const rhs = new Float64Array(heads * size);
      for (let i = 0; i < rhs.length; i++) rhs[i] = rng.normal() * 10;
      for (const lambda of [1, 1e-3]) {
        const x = new NormalFactor(layout, lambda).solve(rhs, heads);
        const ref = denseSolve(normalMatrix(layout, lambda), size, rhs, heads);
        expect(maxRelError(x, ref)).toBeLessThan(1e-9);
      }
    });
});

/** A random map in [0, 1] with a few dense lines, so fits are not degenerate. */
function randomMap(rng: Rng, heads: number, n: number): Float32Array {
  const map = rng.uniforms(heads * n * n, 0.6, 1);
  for (let h = 0; h < heads; h++) {
    const k = rng.int(-n + 1, n);
    const c = rng.int(0, n);
    for (let i = 0; i < n; i++) {
      if (i + k >= 0 && i + k < n) map[(h * n + i) * n + i + k] = rng.uniform() * 0.2;
      map[(h * n + i) * n + c] = rng.uniform() * 0.3;
    }
  }
  return map;
}

describe('M^T s and the fit', () => {
  // n = 17: two row groups of 8 plus one leftover row; n = 8: exactly one group; n = 5: none
  const shapes: [number, number, number][] = [[17 * 64 - 30, (17 * 64 - 30) / 2, 64], [8 * 128, 256, 128], [5 * 64 - 1, (5 * 64 - 1), 64], ...GEOMETRIES];
  for (const [v, p, b] of shapes)
    it(`projection and fit equal the explicit M (tokens ${v}, frame ${p}, block ${b})`, () => {
      const layout = new BlockLayout({ videoTokens: v, tokensPerFrame: p, blockSize: b });
      const d = designMatrix(v, p, b);
      const heads = 3;
      const map = randomMap(new Rng(v * 7 + b), heads, layout.n);
      const mts = bruteProject(d, map, heads);
      expect(maxRelError(projectMap(map, heads, layout), mts)).toBeLessThan(1e-12);
      const ref = denseSolve(bruteGram(d, 1), d.cols, mts, heads);
      for (const columnScale of [0.5, 1]) {
        const f = fitFeatures(map, heads, layout, { columnScale });
        const nd = 2 * layout.n - 1;
        for (let h = 0; h < heads; h++) {
          const x = ref.subarray(h * d.cols, (h + 1) * d.cols);
          expect(maxRelError(f.diagonals.subarray(h * nd, (h + 1) * nd), x.subarray(0, nd))).toBeLessThan(1e-9);
          expect(maxRelError(f.columns.subarray(h * layout.n, (h + 1) * layout.n), Array.from(x.subarray(nd, nd + layout.n), (c) => c * columnScale))).toBeLessThan(1e-9);
          expect(Math.abs(f.tiles[h] - x[d.cols - 1])).toBeLessThan(1e-9);
        }
      }
    });

  it('recovers planted line weights up to the basis null space (all diagonals +a, all columns -a)', () => {
    const [v, p, b] = [6 * 300, 300, 64]; // 6 frames straddling blocks, n = 29 (ragged)
    const layout = new BlockLayout({ videoTokens: v, tokensPerFrame: p, blockSize: b });
    const d = designMatrix(v, p, b);
    const n = layout.n;
    const nd = 2 * n - 1;
    const rng = new Rng(11);
    const xTrue = new Float64Array(d.cols);
    // diagonal and column weights around 0.3, tile weight 0.1: the planted map stays inside [0, 1]
    for (let i = 0; i < d.cols; i++) xTrue[i] = 0.3 + 0.05 * rng.normal();
    xTrue[d.cols - 1] = 0.1;
    const s = new Float32Array(d.rows);
    for (let r = 0; r < d.rows; r++) {
      let v2 = 0;
      for (let c = 0; c < d.cols; c++) v2 += d.m[r * d.cols + c] * xTrue[c];
      s[r] = v2 + 1e-5 * rng.normal();
    }
    const f = fitFeatures(s, 1, layout, { lambda: 1e-7, columnScale: 1 });
    // identifiable: differences within each family, the diagonal+column sum, and the tile weight
    for (let kk = 1; kk < nd; kk++) expect(f.diagonals[kk] - f.diagonals[0]).toBeCloseTo(xTrue[kk] - xTrue[0], 3);
    for (let j = 1; j < n; j++) expect(f.columns[j] - f.columns[0]).toBeCloseTo(xTrue[nd + j] - xTrue[nd], 3);
    expect(f.diagonals[0] + f.columns[0]).toBeCloseTo(xTrue[0] + xTrue[nd], 3);
    expect(f.tiles[0]).toBeCloseTo(xTrue[d.cols - 1], 3);
  });

  it('names the map and the expected shape on bad input', () => {
    const layout = new BlockLayout({ videoTokens: 3 * 200, tokensPerFrame: 200, blockSize: 64 });
    expect(() => fitFeatures(new Float32Array(2 * 10 * 10 - 1), 2, layout)).toThrow(ShapeError);
    expect(() => fitFeatures(new Float32Array(2 * 10 * 10 - 1), 2, layout)).toThrow(/expected \[2, 10, 10\] = 200 entries.*got 199/);
    const bad = new Rng(3).uniforms(2 * 100);
    bad[100 + 3 * 10 + 7] = NaN;
    expect(() => fitFeatures(bad, 2, layout)).toThrow(InvalidMapError);
    expect(() => fitFeatures(bad, 2, layout)).toThrow(/head 1, block \(3, 7\) is NaN/);
    const percent = new Rng(4).uniforms(2 * 100, 0, 100); // a map in percent
    expect(() => fitFeatures(percent, 2, layout)).toThrow(InvalidMapError);
    expect(() => fitFeatures(new Float32Array(2 * 100).fill(-0.5), 2, layout)).toThrow(/head 0, block \(0, 0\) is -0.5/);
    expect(() => new BlockLayout({ videoTokens: 601, tokensPerFrame: 200 })).toThrow(InvalidOptionError);
    expect(() => new BlockLayout({ videoTokens: 600, tokensPerFrame: 200, blockSize: 96 })).toThrow(InvalidOptionError);
  });
});
