import type { TokenGrid } from './token-grid.js';

/** Frame distance and in-frame (row, column) distance between every pair of video blocks, from their mean token coordinates. */
export interface BlockDistances {
  /** [blocks, blocks] |t_I - t_J| in frames. */
  frames: Float64Array;
  /** [blocks, blocks] Euclidean (h, w) distance in tokens. */
  space: Float64Array;
}

/** Distances between block centers; blocks straddling rows or frames get fractional coordinates. */
export function blockDistances(grid: TokenGrid): BlockDistances {
  const n = grid.blocks;
  const c = grid.blockCenters();
  const frames = new Float64Array(n * n);
  const space = new Float64Array(n * n);
  for (let I = 0; I < n; I++)
    for (let J = 0; J < n; J++) {
      frames[I * n + J] = Math.abs(c[I * 3] - c[J * 3]);
      space[I * n + J] = Math.hypot(c[I * 3 + 1] - c[J * 3 + 1], c[I * 3 + 2] - c[J * 3 + 2]);
    }
  return { frames, space };
}
