import { type Shape, numel } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { gatherF32 } from './host.js';

/** Strides (in elements of a contiguous copy) of `shape` read through the broadcast `outShape`: 0 on stretched axes. */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const out = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    out[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return out;
}

const ZERO = new Float32Array(1);

/**
 * Evaluates fn(a, b, c) over `outShape` with NumPy broadcasting of up to three inputs
 * (a missing third reads as 0), in float64. Inputs may be any strided view.
 */
export function broadcastMap(outShape: Shape, inputs: readonly Tensor[], fn: (a: number, b: number, c: number) => number): Float64Array {
  const n = numel(outShape);
  const out = new Float64Array(n);
  if (n === 0) return out;
  const data = inputs.map(gatherF32);
  const strides = inputs.map((t) => broadcastStrides(t.shape, outShape));
  while (data.length < 3) {
    data.push(ZERO);
    strides.push(new Array<number>(outShape.length).fill(0));
  }
  const [a, b, c] = data;
  const rank = outShape.length;
  if (rank === 0) {
    out[0] = fn(a[0], b[0], c[0]);
    return out;
  }
  const inner = outShape[rank - 1];
  const [sa, sb, sc] = strides.map((s) => s[rank - 1]);
  const idx = new Array<number>(rank).fill(0);
  let oa = 0;
  let ob = 0;
  let oc = 0;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0; i < inner; i++) out[o + i] = fn(a[oa + i * sa], b[ob + i * sb], c[oc + i * sc]);
    for (let ax = rank - 2; ax >= 0; ax--) {
      oa += strides[0][ax];
      ob += strides[1][ax];
      oc += strides[2][ax];
      if (++idx[ax] < outShape[ax]) break;
      oa -= strides[0][ax] * outShape[ax];
      ob -= strides[1][ax] * outShape[ax];
      oc -= strides[2][ax] * outShape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}
