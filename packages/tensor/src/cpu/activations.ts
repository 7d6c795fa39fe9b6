import type { Backend } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { checkFloat, checkMinRank } from './checks.js';
import type { MakeTensor } from './copy.js';
import { encode, gatherF32 } from './host.js';

const GELU_K = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (what Wan and HunyuanVideo MLPs use). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x * x * x)));

export const siluOf = (x: number): number => x / (1 + Math.exp(-x));

export function unary(backend: Backend, make: MakeTensor, op: string, x: Tensor, fn: (v: number) => number): Tensor {
  checkFloat(backend, op, 'x', x);
  const src = gatherF32(x);
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fn(src[i]);
  return make(encode(out, x.dtype), x.shape, x.dtype);
}

/** Softmax over the last dim, max-subtracted. */
export function softmax(backend: Backend, make: MakeTensor, x: Tensor): Tensor {
  checkFloat(backend, 'softmax', 'x', x);
  checkMinRank('softmax', 'x', x, 1);
  const c = x.shape[x.rank - 1];
  const src = gatherF32(x);
  const out = new Float64Array(src.length);
  for (let r = 0; r < src.length; r += c) {
    let m = -Infinity;
    for (let i = 0; i < c; i++) m = Math.max(m, src[r + i]);
    let s = 0;
    for (let i = 0; i < c; i++) s += out[r + i] = Math.exp(src[r + i] - m);
    for (let i = 0; i < c; i++) out[r + i] /= s;
  }
  return make(encode(out, x.dtype), x.shape, x.dtype);
}
