import { type BlockMask, ShapeError } from '@mod-dit/tensor';
import type { BlockLayout } from './block-layout.js';
import { InvalidMapError } from './errors.js';
import { checkMap } from './features.js';

/**
 * The historical merge of the spec, in place: map = where(mask, fresh, map) over the video
 * x video blocks, so only blocks the mask computed take the fresh value. `projections`
 * (M^T map, {@link projectMap}'s layout) are updated by the same changes, so the refit
 * after a refresh costs O(active blocks) instead of another pass over the whole map.
 * `fresh` is checked (length, and [0, 1] on the blocks it contributes) before anything is
 * written, so a bad map leaves `map` and `projections` untouched.
 */
export function mergeUnderMask(map: Float32Array, projections: Float64Array, fresh: Float32Array, mask: BlockMask, heads: number, layout: BlockLayout): void {
  const n = layout.n;
  checkMap(map, heads, layout, 'merged map');
  checkMap(fresh, heads, layout, 'fresh sparsity map');
  if (projections.length !== heads * layout.unknowns)
    throw new ShapeError(`projections: expected [${heads}, ${layout.unknowns}] = ${heads * layout.unknowns} entries, got ${projections.length}`);
  if (mask.heads !== heads || mask.blockSize !== layout.blockSize || mask.nQ < n || mask.nK < n)
    throw new ShapeError(`merge mask: expected ${heads} heads of >= ${n} x ${n} blocks of ${layout.blockSize}, got ${mask.heads} heads of ${mask.nQ} x ${mask.nK} blocks of ${mask.blockSize}`);
  // check first, then write: a bad fresh value leaves everything as it was
  const bad = firstBadValue(fresh, mask, heads, n);
  if (bad >= 0) {
    const h = Math.floor(bad / (n * n));
    const i = Math.floor(bad / n) % n;
    throw new InvalidMapError(`fresh sparsity map: head ${h}, block (${i}, ${bad % n}) is ${fresh[bad]}; entries must be fractions in [0, 1]`);
  }
  applyMerge(map, projections, fresh, mask, heads, layout);
}

/** Flat index of the first masked video block whose fresh value is outside [0, 1], or -1. */
function firstBadValue(fresh: Float32Array, mask: BlockMask, heads: number, n: number): number {
  const { rowPtr, colIdx, nQ } = mask;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < n; i++) {
      const row = (h * n + i) * n;
      for (let p = rowPtr[h * nQ + i], end = rowPtr[h * nQ + i + 1]; p < end && colIdx[p] < n; p++) {
        const v = fresh[row + colIdx[p]];
        if (!(v >= 0 && v <= 1)) return row + colIdx[p];
      }
    }
  return -1;
}

/** map = fresh on the mask's video blocks (rows sorted: text key blocks come last), with the deltas added to M^T map. */
function applyMerge(map: Float32Array, projections: Float64Array, fresh: Float32Array, mask: BlockMask, heads: number, layout: BlockLayout): void {
  const n = layout.n;
  const size = 3 * n;
  const { rowPtr, colIdx, nQ } = mask;
  const { tileStart, tileEnd } = layout;
  for (let h = 0; h < heads; h++) {
    let tile = 0;
    for (let i = 0; i < n; i++) {
      const row = (h * n + i) * n;
      const diag = h * size + n - 1 - i;
      const col = h * size + 2 * n - 1;
      const ts = tileStart[i];
      const te = tileEnd[i];
      for (let p = rowPtr[h * nQ + i], end = rowPtr[h * nQ + i + 1]; p < end && colIdx[p] < n; p++) {
        const j = colIdx[p];
        const v = fresh[row + j];
        const d = v - map[row + j];
        map[row + j] = v;
        projections[diag + j] += d;
        projections[col + j] += d;
        if (j >= ts && j < te) tile += d;
      }
    }
    projections[h * size + size - 1] += tile;
  }
}
