import type { BlockAttention } from './block-attention.js';
import { fillToDensity } from './density-fill.js';

/**
 * The upper bound at a given density: one head's blocks ranked by their true dense
 * attention mass over the evaluated rows (it needs the dense attention it is meant to
 * avoid, so no real method can do better on recall at the same block count).
 */
export function oracleMask(attn: BlockAttention, head: number, density: number): Uint8Array {
  const mass = attn.blockMass(head);
  const cost = Float64Array.from(mass, (m) => -m);
  return fillToDensity(attn.grid, cost, density, attn.queryBlocks);
}
