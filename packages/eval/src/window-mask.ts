import type { BlockDistances } from './block-distance.js';
import { fillToDensity } from './density-fill.js';
import type { TokenGrid } from './token-grid.js';

/**
 * Static spatio-temporal window (Radial / STA-like): the same mask for every head, input
 * and step. A key block's cost grows with its in-frame distance times (1 + frame distance),
 * so the spatial window shrinks as frames get further apart (Radial attention's decay);
 * the same-place block of nearer frames comes first among equals. Filled to `density`.
 */
export function windowMask(grid: TokenGrid, dist: BlockDistances, density: number, queryBlocks: Int32Array): Uint8Array {
  const cost = dist.space.map((s, i) => (s + 1) * (1 + dist.frames[i]) - 1);
  return fillToDensity(grid, cost, density, queryBlocks);
}
