import type { BlockAttention } from './block-attention.js';
import type { BlockDistances } from './block-distance.js';
import { fillToDensity } from './density-fill.js';

/** The two static patterns an SVG-like method chooses between per head. */
export type SvgPattern = 'spatial' | 'temporal';

/** Result of {@link svgMask}. */
export interface SvgChoice {
  pattern: SvgPattern;
  mask: Uint8Array;
}

// Lexicographic costs: the first distance decides, the second breaks ties.
const MAJOR = 1e6;

/**
 * Sparse-VideoGen-like online profiling: build a spatial mask (own frame first, nearest
 * frames next, by in-frame distance) and a temporal mask (same place in every frame first,
 * by frame distance, widening in space next), both filled to `density`; run both on a few
 * sampled query rows and keep, for this head and step, the one whose output is closer to
 * dense attention on those rows. The sampled rows are indices into `attn.rows`.
 */
export function svgMask(attn: BlockAttention, head: number, dist: BlockDistances, density: number, sampleRows: Int32Array): SvgChoice {
  const spatialCost = dist.frames.map((t, i) => t * MAJOR + dist.space[i]);
  const temporalCost = dist.space.map((s, i) => s * MAJOR + dist.frames[i]);
  const spatial = fillToDensity(attn.grid, spatialCost, density, attn.queryBlocks);
  const temporal = fillToDensity(attn.grid, temporalCost, density, attn.queryBlocks);
  const es = attn.quality(head, spatial, sampleRows).relError;
  const et = attn.quality(head, temporal, sampleRows).relError;
  return es <= et ? { pattern: 'spatial', mask: spatial } : { pattern: 'temporal', mask: temporal };
}
