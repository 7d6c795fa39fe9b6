import { expect } from 'vitest';
import { CpuBackend, type DType, Rng, type Tensor, contiguousStrides, fromNumbers, toFloat32 } from '../../src/index.js';

/** A random tensor uploaded to `b` and its exact (dtype-quantized) values as float64. */
export function randomTensor(b: CpuBackend, rng: Rng, shape: readonly number[], dtype: DType = 'f32', std = 1, mean = 0): { t: Tensor; x: Float64Array } {
  const n = shape.reduce((a, c) => a * c, 1);
  const bits = fromNumbers(rng.normals(n, std, mean), dtype);
  return { t: b.upload(bits, shape, dtype), x: Float64Array.from(toFloat32(bits, dtype)) };
}

/** Output rounding of one dtype: the relative half-ulp bound of a correctly rounded result. */
export const UNIT_ROUNDOFF: Record<string, number> = { f32: 2 ** -24, f16: 2 ** -11, bf16: 2 ** -8 };
/** Spacing of the smallest subnormals, where relative rounding no longer applies. */
const SUBNORMAL_STEP: Record<string, number> = { f32: 2 ** -149, f16: 2 ** -24, bf16: 2 ** -133 };

/**
 * The CPU backend rounds float64 results once: each element must sit within one output
 * ulp of the float64 reference (one, not half: the reference sums in another order and
 * may land on the other side of a rounding boundary), plus `abs` for cancellation and one
 * subnormal step.
 */
export function expectRounded(actual: ArrayLike<number>, expected: ArrayLike<number>, dtype: DType, abs = 1e-12, what = 'value'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const u = 2 * UNIT_ROUNDOFF[dtype];
  abs += SUBNORMAL_STEP[dtype];
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!Number.isFinite(e)) {
      expect(a, `${what}[${i}]`).toBe(e);
      continue;
    }
    const err = Math.abs(a - e);
    if (!(err <= u * Math.abs(e) + abs)) expect.fail(`${what}[${i}]: got ${a}, expected ${e} (|diff| ${err} > ${u * Math.abs(e) + abs})`);
  }
}

/** Reads a tensor and decodes it to numbers. */
export async function values(t: Tensor): Promise<Float32Array> {
  return toFloat32(await t.read(), t.dtype);
}

/** Row-major strides of a shape. */
export const stridesOf = contiguousStrides;

/** Multi-index of flat row-major index `i`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let ax = shape.length - 1; ax >= 0; ax--) {
    idx[ax] = i % shape[ax];
    i = Math.floor(i / shape[ax]);
  }
  return idx;
}

export const FLOATS: readonly DType[] = ['f32', 'f16', 'bf16'];
export { CpuBackend, Rng };
