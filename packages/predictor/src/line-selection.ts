import { ShapeError } from '@mod-dit/tensor';
import type { BlockLayout } from './block-layout.js';
import { InvalidOptionError } from './errors.js';
import { checkMap, type Features } from './features.js';

/**
 * How many lines each head switches on. Lines are ranked by predicted weight, smallest
 * (densest) first, over [columns, diagonals]; ties go to the lower line index.
 */
export type LineBudget =
  /** The reference: a fixed number of lines per head (Wan 350, HunyuanVideo 300). */
  | { kind: 'top-k'; k: number }
  /** A fixed fraction of the 3n - 1 lines, so the budget scales with the geometry. */
  | { kind: 'line-fraction'; fraction: number }
  /**
   * The fewest top-ranked lines whose union with the frame tiles covers at least this
   * fraction of the n x n video blocks (every block counts 1, the ragged last one too).
   */
  | { kind: 'density'; density: number }
  /**
   * The fewest top-ranked lines whose union with the frame tiles covers at least this
   * fraction of the weight sum(1 - s) of `map` over the video blocks, where `map` is the
   * last observed sparsity map [heads, n, n] of this layer (the scheduler passes the merged
   * map). 1 - s is the fraction of a block's probabilities >= tau: a proxy for the block's
   * attention mass that needs nothing beyond the map.
   */
  | { kind: 'recall'; recall: number; map: Float32Array };

/** Options of {@link selectLines}. */
export interface SelectOptions {
  budget: LineBudget;
  /**
   * Heads whose tile weight b_d is <= this get every intra-frame tile. Default 1, the
   * reference's value: the fitted b_d of a map in [0, 1] is practically always below it,
   * so tiles are in effect always on.
   */
  tileThreshold?: number;
  /** Per-head tile decision (nonzero = tiles on) that overrides the threshold; the scheduler freezes the warm-up decision this way. */
  tileHeads?: ArrayLike<number>;
  /**
   * Text tokens that follow the video tokens (HunyuanVideo). Their rows and columns are
   * always on; when the video ends inside a block, that block's row and column are then
   * on too, and density / recall targets count them as covered. Default 0.
   */
  textTokens?: number;
}

/** The lines each head switches on. Line index l < n is block column l; l >= n is block diagonal with offset l - n - (n - 1). */
export interface LineSelection {
  heads: number;
  n: number;
  /** Per head, the chosen lines in rank order. */
  lines: Int32Array[];
  /** Per head, 1 where all intra-frame tiles are on. */
  tileHeads: Uint8Array;
}

/** Ranks each head's lines by predicted weight and applies the budget. */
export function selectLines(predicted: Features, layout: BlockLayout, options: SelectOptions): LineSelection {
  const { heads, n } = predicted;
  if (n !== layout.n) throw new ShapeError(`selectLines: features have n = ${n}, layout has n = ${layout.n}`);
  const tileHeads = decideTiles(predicted, options);
  const budget = options.budget;
  const lineCount = 3 * n - 1;
  const lines: Int32Array[] = [];
  if (budget.kind === 'recall') checkMap(budget.map, heads, layout, 'recall map');
  const textTokens = options.textTokens ?? 0;
  if (!Number.isInteger(textTokens) || textTokens < 0) throw new InvalidOptionError(`textTokens must be a non-negative integer, got ${textTokens}`);
  // the last video block also holds text tokens: always-on row and column
  const mixedBlock = textTokens > 0 && layout.videoTokens % layout.blockSize !== 0;
  const fixed = fixedLineCount(budget, lineCount);
  for (let h = 0; h < heads; h++) {
    if (fixed !== null) {
      lines.push(rankLines(predicted, h, fixed));
      continue;
    }
    // coverage budgets walk the ranking until the target is met: rank every line
    const order = rankLines(predicted, h, lineCount);
    let k: number;
    switch (budget.kind) {
      case 'density':
        if (!(budget.density >= 0 && budget.density <= 1)) throw new InvalidOptionError(`density budget: density must be in [0, 1], got ${budget.density}`);
        k = linesToCover(order, layout, tileHeads[h] === 1, mixedBlock, null, budget.density);
        break;
      case 'recall':
        if (!(budget.recall >= 0 && budget.recall <= 1)) throw new InvalidOptionError(`recall budget: recall must be in [0, 1], got ${budget.recall}`);
        k = linesToCover(order, layout, tileHeads[h] === 1, mixedBlock, budget.map.subarray(h * n * n, (h + 1) * n * n), budget.recall);
        break;
      default:
        throw new InvalidOptionError(`unknown line budget ${JSON.stringify(budget)}`);
    }
    lines.push(order.slice(0, k));
  }
  return { heads, n, lines, tileHeads };
}

/** The line count of a fixed budget (top-k, line fraction); null for the coverage budgets. */
function fixedLineCount(budget: LineBudget, lineCount: number): number | null {
  switch (budget.kind) {
    case 'top-k':
      if (!Number.isInteger(budget.k) || budget.k < 0) throw new InvalidOptionError(`top-k budget: k must be a non-negative integer, got ${budget.k}`);
      return Math.min(budget.k, lineCount);
    case 'line-fraction':
      if (!(budget.fraction >= 0 && budget.fraction <= 1)) throw new InvalidOptionError(`line-fraction budget: fraction must be in [0, 1], got ${budget.fraction}`);
      return Math.round(budget.fraction * lineCount);
    default:
      return null;
  }
}

function decideTiles(predicted: Features, options: SelectOptions): Uint8Array {
  if (!options.tileHeads) return tileHeadsFromFeatures(predicted, options.tileThreshold ?? 1);
  if (options.tileHeads.length !== predicted.heads) throw new ShapeError(`tileHeads has ${options.tileHeads.length} entries, expected one per head (${predicted.heads})`);
  const out = new Uint8Array(predicted.heads);
  for (let h = 0; h < predicted.heads; h++) out[h] = options.tileHeads[h] ? 1 : 0;
  return out;
}

/** Per head, 1 where the tile weight b_d is <= `threshold` (the reference's rule: tiles on). */
export function tileHeadsFromFeatures(features: Features, threshold = 1): Uint8Array {
  const out = new Uint8Array(features.heads);
  for (let h = 0; h < features.heads; h++) out[h] = features.tiles[h] <= threshold ? 1 : 0;
  return out;
}

/** The first k of head h's 3n - 1 line indices in (weight, index) order. */
function rankLines(f: Features, h: number, k: number): Int32Array {
  const n = f.n;
  const count = 3 * n - 1;
  const value = new Float64Array(count);
  value.set(f.columns.subarray(h * n, (h + 1) * n), 0);
  value.set(f.diagonals.subarray(h * (2 * n - 1), (h + 1) * (2 * n - 1)), n);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  partialSort(order, value, 0, count, k);
  return order.slice(0, k);
}

/**
 * Sorts order[lo, hi) just enough that its first k - lo entries are the smallest, in
 * (value, index) order: a quicksort that skips partitions lying wholly past k, so a top-k
 * of 350 of 1772 lines costs about one partition pass instead of a full sort.
 */
function partialSort(order: Int32Array, value: Float64Array, lo: number, hi: number, k: number): void {
  const less = (a: number, b: number) => value[a] < value[b] || (value[a] === value[b] && a < b);
  const swap = (i: number, j: number) => {
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  };
  while (hi - lo > 16 && lo < k) {
    // median of three to the end as the pivot, then one Lomuto pass (keys are distinct: the index breaks ties)
    const mid = (lo + hi) >>> 1;
    if (less(order[mid], order[lo])) swap(mid, lo);
    if (less(order[hi - 1], order[lo])) swap(hi - 1, lo);
    if (less(order[mid], order[hi - 1])) swap(mid, hi - 1);
    const pivot = order[hi - 1];
    let store = lo;
    for (let i = lo; i < hi - 1; i++) if (less(order[i], pivot)) swap(i, store++);
    swap(store, hi - 1);
    partialSort(order, value, lo, store, k);
    lo = store + 1;
  }
  if (lo >= k) return;
  for (let i = lo + 1; i < hi; i++) {
    const x = order[i];
    let j = i;
    for (; j > lo && less(x, order[j - 1]); j--) order[j] = order[j - 1];
    order[j] = x;
  }
}

/**
 * The length of the shortest prefix of `order` whose union with the tiles (and the mixed
 * video/text block's row and column) covers `target`
 * of the blocks (weight 1 each) or of the weight 1 - s of `map`.
 */
function linesToCover(order: Int32Array, layout: BlockLayout, tiles: boolean, mixedBlock: boolean, map: Float32Array | null, target: number): number {
  const n = layout.n;
  const covered = new Uint8Array(n * n);
  const weight = (cell: number) => (map ? 1 - Math.min(1, Math.max(0, map[cell])) : 1);
  let total = 0;
  for (let c = 0; c < n * n; c++) total += weight(c);
  const goal = target * total;
  let got = 0;
  const cover = (cell: number) => {
    if (!covered[cell]) {
      covered[cell] = 1;
      got += weight(cell);
    }
  };
  if (tiles) for (let i = 0; i < n; i++) for (let j = layout.tileStart[i]; j < layout.tileEnd[i]; j++) cover(i * n + j);
  if (mixedBlock)
    for (let i = 0; i < n; i++) {
      cover(i * n + n - 1);
      cover((n - 1) * n + i);
    }
  let k = 0;
  while (got < goal && k < order.length) {
    const line = order[k++];
    if (line < n) for (let i = 0; i < n; i++) cover(i * n + line);
    else {
      const off = line - n - (n - 1);
      for (let i = Math.max(0, -off); i < Math.min(n, n - off); i++) cover(i * n + i + off);
    }
  }
  return k;
}
