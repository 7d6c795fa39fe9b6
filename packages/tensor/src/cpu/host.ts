import { type DType, type HostArray, allocHost, fromNumbers, toFloat32 } from '../dtype.js';
import { Tensor } from '../tensor.js';

/** The host array behind a CPU tensor. */
function hostOf(t: Tensor): HostArray {
  return t.storage.handle as HostArray;
}

/**
 * The logical elements of any strided view, row-major, as raw dtype bits (a fresh copy).
 * Walks the view with an odometer over the outer axes and a tight loop over the last one.
 */
export function gatherRaw(t: Tensor): HostArray {
  const src = hostOf(t);
  const n = t.size;
  const out = allocHost(t.dtype, n);
  if (n === 0) return out;
  if (t.isContiguous) {
    out.set(src.subarray(t.offset, t.offset + n) as never);
    return out;
  }
  const rank = t.rank;
  const inner = t.shape[rank - 1];
  const innerStride = t.strides[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let base = t.offset;
  for (let o = 0; o < n; o += inner) {
    for (let i = 0, s = base; i < inner; i++, s += innerStride) out[o + i] = src[s];
    // advance the odometer over the outer axes
    for (let ax = rank - 2; ax >= 0; ax--) {
      base += t.strides[ax];
      if (++idx[ax] < t.shape[ax]) break;
      base -= t.strides[ax] * t.shape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}

/**
 * The logical elements decoded to f32 (exact for every float dtype), row-major. For a
 * contiguous f32 tensor this is a read-only window on its storage: callers never write to it.
 */
export function gatherF32(t: Tensor): Float32Array {
  if (t.dtype === 'f32' && t.isContiguous) return (hostOf(t) as Float32Array).subarray(t.offset, t.offset + t.size);
  return toFloat32(gatherRaw(t), t.dtype);
}

/** Rounds computed values once (RNE) into a host array of `dtype`. */
export function encode(values: ArrayLike<number>, dtype: DType): HostArray {
  return fromNumbers(values, dtype);
}
