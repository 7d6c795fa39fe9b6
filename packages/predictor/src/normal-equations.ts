import type { BlockLayout } from './block-layout.js';

/**
 * M^T M of the diagonal / column / frame-tile basis, in compact form. Unknowns are ordered
 * [diagonals (2n-1, index k + n - 1 for offset k = col - row), columns (n), tile (1)].
 * diag.diag = n - |k| (same k, else 0); col.col = n (same column, else 0);
 * diag.col = 1 (every diagonal meets every column at most once); the tile row is counted.
 */
export interface GramStructure {
  n: number;
  /** diag.diag: cells on diagonal k, n - |k|. */
  diagonalLength: Float64Array;
  /** diag.E: tile cells on each diagonal. Aligned frames: (n/f)(f - |k|) for |k| < f. */
  tileDiagonal: Float64Array;
  /** col.E: tile cells in each column. Aligned frames: f. */
  tileColumn: Float64Array;
  /** E.E: all tile cells. Aligned frames: (n/f) f^2. */
  tileTotal: number;
}

/** Counts M^T M's entries in O(n) from the layout's per-row tile ranges (difference arrays), never forming M. */
export function gramStructure(layout: BlockLayout): GramStructure {
  const n = layout.n;
  const diagonalLength = new Float64Array(2 * n - 1);
  for (let kk = 0; kk < 2 * n - 1; kk++) diagonalLength[kk] = n - Math.abs(kk - (n - 1));
  const diagDelta = new Float64Array(2 * n);
  const colDelta = new Float64Array(n + 1);
  let tileTotal = 0;
  for (let i = 0; i < n; i++) {
    const a = layout.tileStart[i];
    const b = layout.tileEnd[i];
    // row i's tile cells sit on offsets a-i .. b-1-i and columns a .. b-1
    diagDelta[a - i + n - 1] += 1;
    diagDelta[b - i + n - 1] -= 1;
    colDelta[a] += 1;
    colDelta[b] -= 1;
    tileTotal += b - a;
  }
  const tileDiagonal = new Float64Array(2 * n - 1);
  const tileColumn = new Float64Array(n);
  let run = 0;
  for (let kk = 0; kk < 2 * n - 1; kk++) tileDiagonal[kk] = run += diagDelta[kk];
  run = 0;
  for (let j = 0; j < n; j++) tileColumn[j] = run += colDelta[j];
  return { n, diagonalLength, tileDiagonal, tileColumn, tileTotal };
}

/**
 * The dense normal matrix M^T M + lambda I [3n, 3n] (row-major, float64), assembled from
 * {@link gramStructure}. For runtimes that bring their own solver, and for checking; the
 * fit itself never forms it.
 */
export function normalMatrix(layout: BlockLayout, lambda = 1): Float64Array {
  const g = gramStructure(layout);
  const n = g.n;
  const size = 3 * n;
  const nd = 2 * n - 1;
  const t = size - 1;
  const a = new Float64Array(size * size);
  const set = (r: number, c: number, v: number) => {
    a[r * size + c] = v;
    a[c * size + r] = v;
  };
  for (let kk = 0; kk < nd; kk++) {
    set(kk, kk, g.diagonalLength[kk] + lambda);
    set(kk, t, g.tileDiagonal[kk]);
    // diagonal kk = k + n - 1 meets column j at row j - k, which exists for j in [kk - n + 1, kk]
    for (let j = Math.max(0, kk - n + 1); j <= Math.min(n - 1, kk); j++) set(kk, nd + j, 1);
  }
  for (let j = 0; j < n; j++) {
    set(nd + j, nd + j, n + lambda);
    set(nd + j, t, g.tileColumn[j]);
  }
  set(t, t, g.tileTotal + lambda);
  return a;
}
