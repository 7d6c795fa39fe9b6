import type { Backend } from '../backend.js';
import { type DType, type HostArray, DTYPES, allocHost, fromNumbers, toFloat32 } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { type Shape, assertShape, fmtShape, numel } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkTensor } from './checks.js';
import { gatherRaw } from './host.js';

/** Builds a new contiguous tensor around `data` (taken over, not copied). */
export type MakeTensor = (data: HostArray, shape: Shape, dtype: DType) => Tensor;

const HOST_CTOR: Record<DType, Function> = { f32: Float32Array, f16: Uint16Array, bf16: Uint16Array, i32: Int32Array, u8: Uint8Array };

/** Validates host data for `upload`: the array type must match the dtype and its length the shape. */
export function checkUpload(data: unknown, shape: Shape, dtype: DType): HostArray {
  if (!DTYPES.includes(dtype)) throw new DTypeError(`upload: unknown dtype ${String(dtype)}, expected one of ${DTYPES.join(', ')}`);
  assertShape(shape, 'upload: shape');
  const ctor = HOST_CTOR[dtype];
  if (!(data instanceof ctor))
    throw new DTypeError(`upload: data for dtype ${dtype} must be a ${ctor.name}, got ${(data as object)?.constructor?.name ?? typeof data}`);
  const arr = data as HostArray;
  if (arr.length !== numel(shape)) throw new ShapeError(`upload: data has ${arr.length} elements, shape ${fmtShape(shape)} needs ${numel(shape)}`);
  return arr;
}

/** Checks `empty` arguments: a known dtype and a valid shape. Shared by every backend. */
export function checkEmpty(shape: Shape, dtype: DType): void {
  if (!DTYPES.includes(dtype)) throw new DTypeError(`empty: unknown dtype ${String(dtype)}, expected one of ${DTYPES.join(', ')}`);
  assertShape(shape, 'empty: shape');
}

export function contiguous(backend: Backend, make: MakeTensor, t: Tensor): Tensor {
  checkTensor(backend, 'contiguous', 't', t);
  return make(gatherRaw(t), t.shape, t.dtype);
}

/** Checks cast arguments: a live tensor of this backend and a known target dtype. Shared by every backend. */
export function validateCast(backend: Backend, t: Tensor, dtype: DType): void {
  checkTensor(backend, 'cast', 't', t);
  if (!DTYPES.includes(dtype)) throw new DTypeError(`cast: unknown target dtype ${String(dtype)}, expected one of ${DTYPES.join(', ')}`);
}

/** Float targets round RNE; integer targets truncate toward zero (u8 wraps modulo 256, as typed arrays do). */
export function cast(backend: Backend, make: MakeTensor, t: Tensor, dtype: DType): Tensor {
  validateCast(backend, t, dtype);
  const raw = gatherRaw(t);
  if (dtype === t.dtype) return make(raw, t.shape, dtype);
  return make(fromNumbers(toFloat32Exact(raw, t.dtype), dtype), t.shape, dtype);
}

/** i32 values do not all fit in f32: keep them as plain numbers. */
function toFloat32Exact(raw: HostArray, dtype: DType): ArrayLike<number> {
  return dtype === 'i32' || dtype === 'u8' ? raw : toFloat32(raw, dtype);
}

/** Checks concat arguments (one dtype, equal extents off the axis); returns the normalised axis and output shape. Shared by every backend. */
export function validateConcat(backend: Backend, ts: readonly Tensor[], axis: number): { axis: number; shape: number[] } {
  if (!ts || ts.length === 0) throw new ShapeError('concat: needs at least one tensor');
  ts.forEach((t, i) => checkTensor(backend, 'concat', `ts[${i}]`, t));
  const first = ts[0];
  const ax = axis < 0 ? axis + first.rank : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= first.rank) throw new ShapeError(`concat: axis ${axis} out of range for rank ${first.rank}`);
  ts.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new DTypeError(`concat: ts[${i}] has dtype ${t.dtype}, expected ${first.dtype} (the dtype of ts[0])`);
    if (t.rank !== first.rank || t.shape.some((d, j) => j !== ax && d !== first.shape[j]))
      throw new ShapeError(`concat: ts[${i}] ${fmtShape(t.shape)} does not match ts[0] ${fmtShape(first.shape)} outside axis ${ax}`);
  });
  const shape = [...first.shape];
  shape[ax] = ts.reduce((s, t) => s + t.shape[ax], 0);
  return { axis: ax, shape };
}

export function concat(backend: Backend, make: MakeTensor, ts: readonly Tensor[], axis: number): Tensor {
  const { axis: ax, shape } = validateConcat(backend, ts, axis);
  const first = ts[0];
  const outer = numel(first.shape.slice(0, ax));
  const inner = numel(first.shape.slice(ax + 1));
  const out = allocHost(first.dtype, numel(shape));
  const rowLen = shape[ax] * inner;
  let col = 0;
  for (const t of ts) {
    const src = gatherRaw(t);
    const len = t.shape[ax] * inner;
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * len, (o + 1) * len) as never, o * rowLen + col);
    col += len;
  }
  return make(out, shape, first.dtype);
}
