import { ShapeError } from '@mod-dit/tensor';
import type { BlockLayout } from './block-layout.js';
import { InvalidMapError, InvalidOptionError } from './errors.js';
import { NormalFactor } from './normal-factor.js';
import { projectMapScalar } from './projection-scalar.js';
import { allocateMapSimd, projectMapSimd } from './projection-simd.js';

/**
 * The fitted weight of every structural line, per head. Values are in sparsity units
 * (the map's: 1 = negligible), so SMALLER means denser / more important.
 */
export interface Features {
  heads: number;
  /** Blocks per side of the map the features were fitted on. */
  n: number;
  /** [heads, 2n-1]: weight of block diagonal k = col - row at index k + n - 1. */
  diagonals: Float64Array;
  /** [heads, n]: weight of block column j, multiplied by `columnScale`. */
  columns: Float64Array;
  /** [heads]: weight b_d of the frame-tile indicator. */
  tiles: Float64Array;
  /** Factor applied to the fitted column weights: 0.5 reproduces the reference (which stores c / 2), 1 is the plain fit. */
  columnScale: number;
}

/** Options of {@link fitFeatures}. */
export interface FitOptions {
  /** Ridge lambda. Default 1 (what the reference passes). */
  lambda?: number;
  /**
   * Scale of the stored column weights. Default 0.5: the reference halves them, which
   * favours columns over diagonals when both are ranked together. 1: the least-squares value.
   */
  columnScale?: number;
}

/**
 * M^T s for every head in one pass over the map: sums along each block diagonal, each
 * block column, and over the frame tiles. `map` is [heads, n, n] row-major (query block,
 * key block). Returns [heads, 3n] in the unknowns' order (diagonals, columns, tile).
 */
export function projectMap(map: Float32Array, heads: number, layout: BlockLayout): Float64Array {
  return projectInto(map, heads, layout, new Float64Array(heads * layout.unknowns));
}

/** {@link projectMap} into `out` (heads * 3n entries, all overwritten). */
function projectInto(map: Float32Array, heads: number, layout: BlockLayout, out: Float64Array): Float64Array {
  const n = layout.n;
  checkMap(map, heads, layout);
  if (!projectMapSimd(map, heads, n, layout.tileStart, layout.tileEnd, out)) {
    out.fill(0);
    projectMapScalar(map, heads, n, layout.tileStart, layout.tileEnd, out);
  }
  // Entries are not range-checked one by one (that would be a second pass): a NaN or Inf
  // poisons its column sum, and a column sum outside [0, n] means entries outside [0, 1]
  // (a map in percent, logits, ...). Only then is the head scanned for the culprit.
  const colOffset = 2 * n - 1;
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < n; j++) {
      const c = out[h * 3 * n + colOffset + j];
      if (!(c >= 0 && c <= n)) reportBadEntry(map, h, n);
    }
  return out;
}

/**
 * A zeroed sparsity-map array [heads, n, n] that {@link projectMap} (and so {@link fitFeatures})
 * reduces where it lies, skipping the copy of the map through the kernels' cache-sized buffer
 * (about 4 of the ~8 ms of the pass at Wan-14B 720p on a 2-core x86 host). For maps that are
 * written anyway: read a device's map back into it, or have the map kernel write it. A plain
 * Float32Array where WebAssembly SIMD is missing. Each call allocates its own memory: keep one
 * per (layer, branch) map, not one per step.
 */
export function allocateMap(heads: number, layout: BlockLayout): Float32Array {
  if (!Number.isInteger(heads) || heads < 1) throw new InvalidOptionError(`heads must be a positive integer, got ${heads}`);
  const length = layout.mapLength(heads);
  return allocateMapSimd(layout.n, length) ?? new Float32Array(length);
}

/**
 * The ridge least-squares fit (M^T M + lambda I) x = M^T s of every head of a block
 * sparsity map [heads, n, n] (values in [0, 1], 1 = negligible). The factor of
 * M^T M + lambda I is built once per (geometry, lambda) and reused.
 */
export function fitFeatures(map: Float32Array, heads: number, layout: BlockLayout, options: FitOptions = {}): Features {
  projectionScratch = grown(projectionScratch, heads * layout.unknowns);
  return fitProjections(projectInto(map, heads, layout, projectionScratch), heads, layout, options);
}

// M^T s and the solutions are intermediates of a fit: reusing their ~0.5 MB buffers (Wan-14B
// 720p) instead of allocating them per call saves ~1 ms of page faults and GC per layer.
let projectionScratch: Float64Array = new Float64Array(0);
let solutionScratch: Float64Array = new Float64Array(0);

/** `buffer` when it has exactly `length` entries, else a new one (contents not kept). */
function grown(buffer: Float64Array, length: number): Float64Array {
  return buffer.length === length ? buffer : new Float64Array(length);
}

/**
 * The same fit from precomputed projections M^T s [heads, 3n] (diagonal sums, column sums,
 * tile sum; the layout of {@link projectMap}). For runtimes whose map kernel also reduces
 * the map on the device: the host then never touches the heads x n x n map.
 */
export function fitProjections(projections: Float64Array, heads: number, layout: BlockLayout, options: FitOptions = {}): Features {
  const lambda = options.lambda ?? 1;
  const columnScale = options.columnScale ?? 0.5;
  if (!(columnScale > 0) || !Number.isFinite(columnScale)) throw new InvalidOptionError(`columnScale must be a positive finite number, got ${columnScale}`);
  if (projections.length !== heads * layout.unknowns)
    throw new ShapeError(`projections: expected [${heads}, ${layout.unknowns}] = ${heads * layout.unknowns} entries, got ${projections.length}`);
  solutionScratch = grown(solutionScratch, heads * layout.unknowns);
  const x = NormalFactor.cached(layout, lambda).solve(projections, heads, solutionScratch);
  return splitUnknowns(x, heads, layout.n, columnScale);
}

/** Splits solutions [heads, 3n] into a {@link Features}, scaling the columns. */
function splitUnknowns(x: Float64Array, heads: number, n: number, columnScale: number): Features {
  const nd = 2 * n - 1;
  const size = 3 * n;
  const diagonals = new Float64Array(heads * nd);
  const columns = new Float64Array(heads * n);
  const tiles = new Float64Array(heads);
  for (let h = 0; h < heads; h++) {
    diagonals.set(x.subarray(h * size, h * size + nd), h * nd);
    for (let j = 0; j < n; j++) columns[h * n + j] = x[h * size + nd + j] * columnScale;
    tiles[h] = x[h * size + size - 1];
  }
  return { heads, n, diagonals, columns, tiles, columnScale };
}

/** Throws unless `map` is a Float32Array of heads * n * n entries. */
export function checkMap(map: Float32Array, heads: number, layout: BlockLayout, what = 'sparsity map'): void {
  if (!Number.isInteger(heads) || heads < 1) throw new InvalidOptionError(`heads must be a positive integer, got ${heads}`);
  if (!(map instanceof Float32Array)) throw new ShapeError(`${what}: expected a Float32Array [heads, n, n], got ${Object.prototype.toString.call(map)}`);
  const expected = layout.mapLength(heads);
  if (map.length !== expected)
    throw new ShapeError(`${what}: expected [${heads}, ${layout.n}, ${layout.n}] = ${expected} entries (n = ceil(${layout.videoTokens} / ${layout.blockSize})), got ${map.length}`);
}

function reportBadEntry(map: Float32Array, h: number, n: number): never {
  for (let i = 0; i < n * n; i++) {
    const v = map[h * n * n + i];
    if (!(v >= 0 && v <= 1)) throw new InvalidMapError(`sparsity map: head ${h}, block (${Math.floor(i / n)}, ${i % n}) is ${v}; entries must be fractions in [0, 1]`);
  }
  throw new InvalidMapError(`sparsity map: head ${h} has a column sum outside [0, ${n}]`);
}
