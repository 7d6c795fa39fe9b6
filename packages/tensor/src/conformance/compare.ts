import type { DType } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { fmtShape, type Shape } from '../shape.js';
import { ConformanceError } from './conformance-error.js';

/** Norm-wise relative error bound, and max-abs error bound scaled by the reference's largest magnitude. */
export interface Tolerance {
  rel: number;
  abs: number;
  /**
   * Differences up to this absolute size count as zero: f16's subnormal spacing (2^-24) makes
   * any correctly rounded result near 1e-7 tens of percent "off", whatever the backend.
   */
  floor: number;
}

/** max |actual - expected| / max |expected|: the largest error relative to the reference's scale. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new ShapeError(`maxRelativeError: lengths ${actual.length} and ${expected.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return num / den;
}

/** f32 ~1e-5; f16/bf16 ~1e-2 (their own rounding is 2^-11 / 2^-8 per element). */
export const TOLERANCE: Readonly<Record<'f32' | 'f16' | 'bf16', Tolerance>> = {
  f32: { rel: 1e-5, abs: 1e-4, floor: 0 },
  f16: { rel: 1e-2, abs: 2e-2, floor: 2 ** -23 },
  bf16: { rel: 1e-2, abs: 3e-2, floor: 0 },
};

export function toleranceFor(dtype: DType): Tolerance {
  return TOLERANCE[dtype as keyof typeof TOLERANCE] ?? TOLERANCE.f32;
}

function unravel(i: number, shape: Shape): string {
  const idx = new Array<number>(shape.length);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    idx[ax] = i % shape[ax];
    i = Math.floor(i / shape[ax]);
  }
  return `[${idx.join(', ')}]`;
}

/** The worst few elementwise differences, for error messages. */
function worst(actual: ArrayLike<number>, expected: ArrayLike<number>, shape: Shape, count = 5): string {
  const order = Array.from({ length: expected.length }, (_, i) => i)
    .filter((i) => !Object.is(actual[i], expected[i]))
    .sort((a, b) => Math.abs(actual[b] - expected[b]) - Math.abs(actual[a] - expected[a]) || a - b)
    .slice(0, count);
  return order.map((i) => `  at ${unravel(i, shape)}: got ${actual[i]}, expected ${expected[i]}`).join('\n');
}

function checkLength(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, shape: Shape): void {
  if (actual.length !== expected.length)
    throw new ConformanceError(`${what}: got ${actual.length} elements, expected ${expected.length} (shape ${fmtShape(shape)})`);
}

/** Bit-for-bit equality of raw elements (data movement and casts are exact). */
export function assertExact(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, shape: Shape): void {
  checkLength(what, actual, expected, shape);
  let bad = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) bad++;
  if (bad > 0) throw new ConformanceError(`${what} ${fmtShape(shape)}: ${bad} of ${expected.length} elements differ (exact op)\n${worst(actual, expected, shape)}`);
}

/**
 * Closeness of float results: non-finite reference entries (-Infinity lse of empty rows)
 * must be matched exactly; the finite rest must pass the norm-wise relative bound and the
 * max-abs bound scaled to the data.
 */
export function assertClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, shape: Shape, tol: Tolerance): void {
  checkLength(what, actual, expected, shape);
  let diff2 = 0;
  let ref2 = 0;
  let maxDiff = 0;
  let maxRef = 0;
  let nonFinite = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (!Object.is(a, e)) nonFinite++;
      continue;
    }
    const d = Math.max(0, Math.abs(a - e) - tol.floor);
    diff2 += d * d;
    ref2 += e * e;
    if (d > maxDiff) maxDiff = d;
    if (Math.abs(e) > maxRef) maxRef = Math.abs(e);
  }
  const rel = Math.sqrt(diff2) / Math.max(Math.sqrt(ref2), Number.MIN_VALUE);
  const absBound = tol.abs * Math.max(maxRef, Number.MIN_VALUE);
  const relOk = diff2 === 0 || rel <= tol.rel;
  if (nonFinite === 0 && relOk && maxDiff <= absBound) return;
  const problems = [
    nonFinite > 0 ? `${nonFinite} non-finite entries differ` : '',
    relOk ? '' : `norm-wise relative error ${rel.toExponential(3)} > ${tol.rel}`,
    maxDiff <= absBound ? '' : `max |diff| ${maxDiff.toExponential(3)} > ${tol.abs} * max|ref| = ${absBound.toExponential(3)}`,
  ].filter(Boolean);
  throw new ConformanceError(`${what} ${fmtShape(shape)}: ${problems.join('; ')}\n${worst(actual, expected, shape)}`);
}

/** Geometry of a sparsity map check. */
export interface MapGeometry {
  shape: Shape;
  blockSize: number;
  tq: number;
  tk: number;
}

/**
 * Compares block sparsity maps as entry counts per block. Each block may differ from the
 * reference by at most `allowed[block]` entries: those whose p_ij lies within rounding of tau.
 */
export function assertMap(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, g: MapGeometry, allowed: ArrayLike<number>): void {
  checkLength(what, actual, expected, g.shape);
  const [, , nQ, nK] = g.shape;
  const lines: string[] = [];
  let bad = 0;
  for (let i = 0; i < expected.length; i++) {
    const I = Math.floor(i / nK) % nQ;
    const J = i % nK;
    const real = Math.min(g.blockSize, g.tq - I * g.blockSize) * Math.min(g.blockSize, g.tk - J * g.blockSize);
    // NaN marks a block outside map.within: it must be NaN on both sides
    const skipped = Number.isNaN(expected[i]);
    const off = skipped ? (Number.isNaN(actual[i]) ? 0 : Infinity) : Math.abs(Math.round(actual[i] * real) - Math.round(expected[i] * real));
    if (!(off <= allowed[i]) || (!skipped && !Number.isFinite(actual[i]))) {
      bad++;
      if (lines.length < 5)
        lines.push(`  block ${unravel(i, g.shape)}: got ${actual[i]}, expected ${expected[i]} (${off} of ${real} entries differ, ${allowed[i]} lie within rounding of tau)`);
    }
  }
  if (bad > 0) throw new ConformanceError(`${what} ${fmtShape(g.shape)}: ${bad} of ${expected.length} blocks differ beyond the entries near tau\n${lines.join('\n')}`);
}
