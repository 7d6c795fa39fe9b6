import { describe, expect, it } from 'vitest';
import { Rng } from '@mod-dit/tensor';
import { BlockLayout, buildMask, type Features, type LineBudget } from '../src/index.js';
import { tileIndicator } from './brute-force.js';

// buildMask (partial top-k selection, bitset rows straight into CSR) against a plain
// reference: full (value, index) ranking by counting, prefix budgets by recounting a dense
// [heads, nB, nB] grid per prefix, CSR read off the grid cell by cell.

/** Heads alternate between continuous values and values from a 3-value set (many ties). */
function features(rng: Rng, heads: number, n: number): Features {
  const pick = (h: number) => () => (h % 2 ? rng.int(0, 3) / 2 - 0.4 : rng.uniform() * 1.4 - 0.2);
  const diagonals = new Float64Array(heads * (2 * n - 1));
  const columns = new Float64Array(heads * n);
  for (let h = 0; h < heads; h++) {
    diagonals.subarray(h * (2 * n - 1), (h + 1) * (2 * n - 1)).forEach((_, i, a) => (a[i] = pick(h)()));
    columns.subarray(h * n, (h + 1) * n).forEach((_, i, a) => (a[i] = pick(h)()));
  }
  return { heads, n, diagonals, columns, tiles: Float64Array.from({ length: heads }, () => rng.uniform() * 2 - 0.5), columnScale: 0.5 };
}

/** Head h's lines in rank order: line l's rank is the number of lines with a smaller value, or an equal value and a lower index. */
function ranking(f: Features, h: number): number[] {
  const n = f.n;
  const value = (l: number) => (l < n ? f.columns[h * n + l] : f.diagonals[h * (2 * n - 1) + l - n]);
  const order = new Array<number>(3 * n - 1);
  for (let l = 0; l < 3 * n - 1; l++) {
    let rank = 0;
    for (let o = 0; o < 3 * n - 1; o++) if (value(o) < value(l) || (value(o) === value(l) && o < l)) rank++;
    order[rank] = l;
  }
  return order;
}

/** One head's dense nB x nB grid of a set of lines, cell by cell. */
function headGrid(layout: BlockLayout, lines: number[], tiles: boolean, textTokens: number): Uint8Array {
  const n = layout.n;
  const bs = layout.blockSize;
  const nB = Math.ceil((layout.videoTokens + textTokens) / bs);
  const e = tileIndicator(layout.videoTokens, layout.tokensPerFrame, bs);
  const chosen = new Set(lines);
  const hasText = (b: number) => textTokens > 0 && (b + 1) * bs > layout.videoTokens;
  const grid = new Uint8Array(nB * nB);
  for (let i = 0; i < nB; i++)
    for (let j = 0; j < nB; j++) {
      const video = i < n && j < n && (chosen.has(j) || chosen.has(2 * n - 1 + j - i) || (tiles && e[i * n + j] === 1));
      grid[i * nB + j] = video || hasText(i) || hasText(j) ? 1 : 0;
    }
  return grid;
}

/** Covered share of the n x n video blocks, each weighted 1 or 1 - clamp(map). */
function coverage(grid: Uint8Array, nB: number, n: number, map?: Float32Array): number {
  let on = 0;
  let all = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const w = map ? 1 - Math.min(1, Math.max(0, map[i * n + j])) : 1;
      all += w;
      if (grid[i * nB + j]) on += w;
    }
  return on / all;
}

function referenceMask(f: Features, layout: BlockLayout, budget: LineBudget, tileThreshold: number, textTokens: number) {
  const n = layout.n;
  const nB = Math.ceil((layout.videoTokens + textTokens) / layout.blockSize);
  const rowPtr = [0];
  const colIdx: number[] = [];
  for (let h = 0; h < f.heads; h++) {
    const order = ranking(f, h);
    const tiles = f.tiles[h] <= tileThreshold;
    let k = 0;
    if (budget.kind === 'top-k') k = Math.min(budget.k, order.length);
    else if (budget.kind === 'line-fraction') k = Math.round(budget.fraction * order.length);
    else {
      const target = budget.kind === 'density' ? budget.density : budget.recall;
      const map = budget.kind === 'recall' ? budget.map.subarray(h * n * n, (h + 1) * n * n) : undefined;
      // coverage ratios, not sums: allow float slack at the boundary
      while (k < order.length && coverage(headGrid(layout, order.slice(0, k), tiles, textTokens), nB, n, map) < target - 1e-12) k++;
    }
    const grid = headGrid(layout, order.slice(0, k), tiles, textTokens);
    for (let i = 0; i < nB; i++) {
      for (let j = 0; j < nB; j++) if (grid[i * nB + j]) colIdx.push(j);
      rowPtr.push(colIdx.length);
    }
  }
  return { rowPtr, colIdx };
}

const GEOMETRIES = [
  { videoTokens: 50, tokensPerFrame: 50, blockSize: 64, textTokens: 0 }, // n = 1
  { videoTokens: 50, tokensPerFrame: 25, blockSize: 64, textTokens: 30 }, // n = 1, video and text share the block
  { videoTokens: 7 * 60, tokensPerFrame: 60, blockSize: 64, textTokens: 0 }, // n = 7, frames straddle blocks
  { videoTokens: 7 * 60, tokensPerFrame: 60, blockSize: 64, textTokens: 200 },
  { videoTokens: 7 * 300, tokensPerFrame: 300, blockSize: 64, textTokens: 0 }, // n = 33, ragged last block
  { videoTokens: 11 * 300, tokensPerFrame: 300, blockSize: 128, textTokens: 77 }, // n = 26, text inside the last video block
  { videoTokens: 4 * 1024, tokensPerFrame: 1024, blockSize: 128, textTokens: 128 }, // n = 32: whole words, text exactly one block
];

describe('buildMask equals a dense-grid reference', () => {
  for (const g of GEOMETRIES) {
    const layout = new BlockLayout(g);
    const n = layout.n;
    it(`n ${n}, block ${g.blockSize}, ${g.tokensPerFrame}-token frames, text ${g.textTokens}`, () => {
      const rng = new Rng(n * 1000 + g.textTokens);
      const heads = 4;
      const f = features(rng, heads, n);
      const map = rng.uniforms(heads * n * n, -0.1, 1.1);
      const budgets: LineBudget[] = [
        { kind: 'top-k', k: 0 },
        { kind: 'top-k', k: 1 },
        { kind: 'top-k', k: rng.int(2, 3 * n + 1) },
        { kind: 'top-k', k: 3 * n + 4 },
        { kind: 'line-fraction', fraction: 0.37 },
        { kind: 'density', density: 0.45 },
        { kind: 'recall', recall: 0.7, map },
      ];
      for (const budget of budgets) {
        const mask = buildMask(f, layout, { budget, tileThreshold: 0.5, textTokens: g.textTokens });
        const ref = referenceMask(f, layout, budget, 0.5, g.textTokens);
        expect(Array.from(mask.rowPtr), budget.kind).toEqual(ref.rowPtr);
        expect(Array.from(mask.colIdx), budget.kind).toEqual(ref.colIdx);
      }
    });
  }
});
