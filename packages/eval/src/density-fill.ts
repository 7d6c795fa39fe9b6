import { EvalConfigError } from './eval-error.js';
import type { TokenGrid } from './token-grid.js';

/**
 * Switches on blocks of one head in increasing `cost` order (ties: lower index first) until
 * the active video x video token pairs of the query blocks `queryBlocks` are as close as
 * one block allows to `density` of their total. This is how every baseline is brought to
 * the density of the MOD mask it is compared with. Returns a 0/1 grid [blocks, blocks].
 */
export function fillToDensity(grid: TokenGrid, cost: Float64Array, density: number, queryBlocks: Int32Array): Uint8Array {
  const n = grid.blocks;
  if (cost.length !== n * n) throw new EvalConfigError(`cost grid has ${cost.length} cells, expected blocks^2 = ${n * n}`);
  if (!(density >= 0 && density <= 1)) throw new EvalConfigError(`density must be in [0, 1], got ${density}`);
  const cells: number[] = [];
  let rowTokens = 0;
  for (const I of queryBlocks) {
    rowTokens += grid.blockTokens(I);
    for (let J = 0; J < n; J++) cells.push(I * n + J);
  }
  cells.sort((a, b) => cost[a] - cost[b] || a - b);
  const target = density * rowTokens * grid.videoTokens;
  const out = new Uint8Array(n * n);
  let pairs = 0;
  for (const cell of cells) {
    if (pairs >= target) break;
    const w = grid.blockTokens(Math.floor(cell / n)) * grid.blockTokens(cell % n);
    // Take the block unless stopping short lands closer to the target.
    if (pairs + w - target > target - pairs) break;
    out[cell] = 1;
    pairs += w;
  }
  return out;
}
