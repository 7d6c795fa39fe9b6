/** Element types a Tensor can hold. f16 and bf16 are stored as their raw u16 bits. */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'u8';

/** Every dtype, in declaration order. */
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'u8'];

/** Host array type that holds a dtype's raw elements. */
export type HostArray = Float32Array | Uint16Array | Int32Array | Uint8Array;

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, bf16: 2, i32: 4, u8: 1 };

/** Whether a dtype is a floating-point one (f32, f16, bf16). */
export function isFloat(d: DType): boolean {
  return d === 'f32' || d === 'f16' || d === 'bf16';
}

/** Allocates a zeroed host array for `n` elements of `dtype`. */
export function allocHost(dtype: DType, n: number): HostArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'f16':
    case 'bf16':
      return new Uint16Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'u8':
      return new Uint8Array(n);
  }
}

/** Views raw bytes (little-endian, as in safetensors) as the host array of `dtype`, copying only when unaligned. */
export function hostFromBytes(dtype: DType, bytes: Uint8Array): HostArray {
  const size = DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = aligned.byteLength / size;
  switch (dtype) {
    case 'f32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, n);
    case 'f16':
    case 'bf16':
      return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    case 'i32':
      return new Int32Array(aligned.buffer, aligned.byteOffset, n);
    case 'u8':
      return new Uint8Array(aligned.buffer, aligned.byteOffset, n);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bf16 bits -> number. */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0];
}

/** number -> bf16 bits, round-to-nearest-even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  const rounded = u + 0x7fff + ((u >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** f16 bits -> number (exact, subnormals included). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> f16 bits, round-to-nearest-even from the f32 value; overflow gives ±Inf. */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal f16 (or zero): shift the implicit-1 mantissa into place, RNE on the dropped bits
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let out = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1))) out++; // a carry into the exponent is correct RNE
  return sign | out;
}

/** Decodes any host array of `dtype` to f32 values. */
export function toFloat32(data: HostArray, dtype: DType): Float32Array {
  if (dtype === 'f32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'bf16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < data.length; i++) u32[i] = data[i] << 16;
  } else if (dtype === 'f16') {
    for (let i = 0; i < data.length; i++) out[i] = f16ToF32(data[i]);
  } else {
    for (let i = 0; i < data.length; i++) out[i] = data[i];
  }
  return out;
}

/** Encodes numbers into a host array of `dtype` (RNE for f16/bf16, truncation toward zero for ints). */
export function fromNumbers(values: ArrayLike<number>, dtype: DType): HostArray {
  const n = values.length;
  const out = allocHost(dtype, n);
  if (dtype === 'bf16') for (let i = 0; i < n; i++) out[i] = f32ToBf16(values[i]);
  else if (dtype === 'f16') for (let i = 0; i < n; i++) out[i] = f32ToF16(values[i]);
  else for (let i = 0; i < n; i++) out[i] = values[i];
  return out;
}
