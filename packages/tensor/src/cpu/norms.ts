import type { Backend, LayerNormOptions, ResidualLayerNormOptions, ResidualLayerNormResult } from '../backend.js';
import type { DType } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { broadcastMap } from './broadcast.js';
import { checkFloat, checkMinRank, checkNumber, checkShape, isEps } from './checks.js';
import type { MakeTensor } from './copy.js';
import { checkBroadcastsTo, validateTernary } from './elementwise.js';
import { encode, gatherF32 } from './host.js';

/**
 * Checks a norm's input (float, rank >= 1), eps (finite, >= 0) and affine tensors (shape
 * [C]); returns C, the normalised extent. Shared by every backend.
 */
export function validateNorm(backend: Backend, op: 'layerNorm' | 'rmsNorm', x: Tensor, eps: unknown, affine: { weight?: Tensor; bias?: Tensor }): number {
  checkFloat(backend, op, 'x', x);
  checkMinRank(op, 'x', x, 1);
  checkNumber(op, 'eps', eps, isEps, 'a finite number >= 0');
  const c = x.shape[x.rank - 1];
  for (const [name, t] of Object.entries(affine)) {
    if (t === undefined) continue;
    checkFloat(backend, op, name, t);
    checkShape(op, name, t, [c]);
  }
  return c;
}

/** What {@link validateLayerNorm} resolves: the normalised extent and the output dtype. */
export interface LayerNormGeometry {
  c: number;
  dtype: DType;
  /** scale and shift of the fused adaLN modulation, when given. */
  modulation?: { scale: Tensor; shift: Tensor };
}

/**
 * Checks layerNorm's arguments: those of {@link validateNorm}, the adaLN scale/shift (both or
 * neither, float, broadcasting to x's shape without widening it) and the output dtype (one of
 * the backend's float dtypes). Shared by every backend.
 */
export function validateLayerNorm(backend: Backend, x: Tensor, opts: LayerNormOptions): LayerNormGeometry {
  const c = validateNorm(backend, 'layerNorm', x, opts?.eps, { weight: opts?.weight, bias: opts?.bias });
  const dtype = opts.dtype ?? x.dtype;
  if (!backend.floatDTypes.includes(dtype)) throw new DTypeError(`layerNorm: output dtype ${String(dtype)} is not one of ${backend.floatDTypes.join(', ')}`);
  const { scale, shift } = opts;
  if ((scale === undefined) !== (shift === undefined)) throw new ShapeError('layerNorm: scale and shift (adaLN modulation) come together; got only one');
  if (scale === undefined || shift === undefined) return { c, dtype };
  for (const [name, t] of [['scale', scale], ['shift', shift]] as const) {
    checkFloat(backend, 'layerNorm', name, t);
    checkBroadcastsTo('layerNorm', 'x', x, name, t);
  }
  return { c, dtype, modulation: { scale, shift } };
}

/**
 * Checks residualLayerNorm's arguments: y (and the gate) broadcast to x's shape without
 * widening it, then layerNorm's on x (whose shape and dtype the sum has). Shared by every backend.
 */
export function validateResidualLayerNorm(backend: Backend, x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): LayerNormGeometry {
  if (opts?.gate !== undefined) validateTernary(backend, 'residualLayerNorm', ['x', 'y', 'gate'], x, y, opts.gate);
  else {
    checkFloat(backend, 'residualLayerNorm', 'x', x);
    checkFloat(backend, 'residualLayerNorm', 'y', y);
    checkBroadcastsTo('residualLayerNorm', 'x', x, 'y', y);
  }
  return validateLayerNorm(backend, x, opts);
}

/**
 * residualLayerNorm as two ops (gatedAdd or add, then layerNorm of the rounded sum): the CPU
 * reference's definition, and the path of backends or shapes without a fused kernel.
 */
export function residualThenLayerNorm(backend: Backend, x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): ResidualLayerNormResult {
  validateResidualLayerNorm(backend, x, y, opts);
  const { gate, ...norm } = opts;
  const sum = gate === undefined ? backend.add(x, y) : backend.gatedAdd(x, y, gate);
  try {
    return { sum, norm: backend.layerNorm(sum, norm) };
  } catch (e) {
    sum.dispose();
    throw e;
  }
}

/** LayerNorm over the last dim: two-pass mean and (biased) variance in float64, then the optional adaLN modulation; one rounding. */
export function layerNorm(backend: Backend, make: MakeTensor, x: Tensor, opts: LayerNormOptions): Tensor {
  const { c, dtype, modulation } = validateLayerNorm(backend, x, opts);
  const eps = opts.eps;
  const w = opts.weight && gatherF32(opts.weight);
  const b = opts.bias && gatherF32(opts.bias);
  const src = gatherF32(x);
  const out = new Float64Array(src.length);
  for (let r = 0; r < src.length; r += c) {
    let mean = 0;
    for (let i = 0; i < c; i++) mean += src[r + i];
    mean /= c;
    let v = 0;
    for (let i = 0; i < c; i++) v += (src[r + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / c + eps);
    for (let i = 0; i < c; i++) {
      let y = (src[r + i] - mean) * inv;
      if (w) y *= w[i];
      if (b) y += b[i];
      out[r + i] = y;
    }
  }
  if (!modulation) return make(encode(out, dtype), x.shape, dtype);
  // the normalised rows stay in float64 through the modulation: one rounding in all
  const scale = broadcastMap(x.shape, [modulation.scale], (s) => s);
  const shift = broadcastMap(x.shape, [modulation.shift], (t) => t);
  for (let i = 0; i < out.length; i++) out[i] = out[i] * (1 + scale[i]) + shift[i];
  return make(encode(out, dtype), x.shape, dtype);
}

/** RMSNorm over the last dim: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(backend: Backend, make: MakeTensor, x: Tensor, weight: Tensor, eps: number): Tensor {
  if (weight === undefined) throw new ShapeError('rmsNorm: weight [C] is required');
  const c = validateNorm(backend, 'rmsNorm', x, eps, { weight });
  return make(encode(rmsNormRows(gatherF32(x), c, gatherF32(weight), eps), x.dtype), x.shape, x.dtype);
}

/** RMSNorm of every row of c values of src, in float64 (rope3d's fused norm shares it). */
export function rmsNormRows(src: Float32Array, c: number, w: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(src.length);
  for (let r = 0; r < src.length; r += c) {
    let ss = 0;
    for (let i = 0; i < c; i++) ss += src[r + i] * src[r + i];
    const inv = 1 / Math.sqrt(ss / c + eps);
    for (let i = 0; i < c; i++) out[r + i] = src[r + i] * inv * w[i];
  }
  return out;
}
