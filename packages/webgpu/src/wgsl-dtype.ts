import type { DType } from '@mod-dit/tensor';

/**
 * WGSL accessors for every dtype over plain `array<u32>` storage. f16/bf16 are carried as
 * u16 halves of a word and u8 as bytes, so no kernel needs the shader-f16 feature; a
 * sub-word output is written with atomic and/or on its own bits, so neighbouring
 * invocations may write the two halves of one word concurrently.
 */

/** Whether an output of this dtype shares words between elements (needs atomic stores). */
export function isSubWord(d: DType): boolean {
  return d === 'f16' || d === 'bf16' || d === 'u8';
}

/** Exact f16 bits -> f32 and round-to-nearest-even f32 -> f16/bf16 bits (pack2x16float's rounding is implementation-defined). */
export const WGSL_CONVERSIONS = /* wgsl */ `
fn f16_to_f32(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return select(1.0, -1.0, s != 0u) * f32(m) * 5.9604644775390625e-8; }
  if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}
fn f32_to_f16(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  let s = (u >> 16u) & 0x8000u;
  let ex = (u >> 23u) & 0xffu;
  var mant = u & 0x7fffffu;
  if (ex == 0xffu) { return s | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = i32(ex) - 112;
  if (e >= 31) { return s | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return s; }
    mant = mant | 0x800000u;
    let sh = u32(14 - e);
    let half = 1u << (sh - 1u);
    let rest = mant & ((1u << sh) - 1u);
    var m = mant >> sh;
    if (rest > half || (rest == half && (m & 1u) == 1u)) { m = m + 1u; }
    return s | m;
  }
  let rest = mant & 0x1fffu;
  var o = (u32(e) << 10u) | (mant >> 13u);
  if (rest > 0x1000u || (rest == 0x1000u && (o & 1u) == 1u)) { o = o + 1u; }
  return s | o;
}
fn f32_to_bf16(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu) != 0u) { return ((u >> 16u) | 0x40u) & 0xffffu; }
  return ((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) & 0xffffu;
}
// WGSL lets implementations assume finite math, so kernels start maxima at NEG_BIG and
// write a -Infinity result only as raw bits.
const NEG_BIG = -3.0e38;
const NEG_INF_BITS = 0xff800000u;
`;

/** `fn ld_<name>(i: u32) -> f32`: element i of buffer `name` decoded to f32 (integers by value). */
export function wgslLoad(name: string, d: DType): string {
  const body: Record<DType, string> = {
    f32: `return bitcast<f32>(${name}[i]);`,
    f16: `return f16_to_f32((${name}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu);`,
    bf16: `return bitcast<f32>(((${name}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u);`,
    i32: `return f32(bitcast<i32>(${name}[i]));`,
    u8: `return f32((${name}[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);`,
  };
  return `fn ld_${name}(i: u32) -> f32 { ${body[d]} }\n`;
}

/** `fn raw_<name>(i: u32) -> u32`: the raw bits of element i (zero-extended). */
export function wgslLoadRaw(name: string, d: DType): string {
  const body =
    d === 'f32' || d === 'i32'
      ? `return ${name}[i];`
      : d === 'u8'
        ? `return (${name}[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;`
        : `return (${name}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;`;
  return `fn raw_${name}(i: u32) -> u32 { ${body} }\n`;
}

/** `fn put_<name>(i: u32, bits: u32)`: writes raw bits of element i (atomic for sub-word dtypes). */
export function wgslStoreRaw(name: string, d: DType): string {
  if (!isSubWord(d)) return `fn put_${name}(i: u32, bits: u32) { ${name}[i] = bits; }\n`;
  const [shift, mask] = d === 'u8' ? ['(i & 3u) * 8u', '0xffu'] : ['(i & 1u) * 16u', '0xffffu'];
  const word = d === 'u8' ? 'i >> 2u' : 'i >> 1u';
  return `fn put_${name}(i: u32, bits: u32) {
  let sh = ${shift};
  atomicAnd(&${name}[${word}], ~(${mask} << sh));
  atomicOr(&${name}[${word}], (bits & ${mask}) << sh);
}\n`;
}

/** `fn st_<name>(i: u32, v: f32)`: encodes v (RNE for f16/bf16, truncation for integers, u8 wraps) and stores it. */
export function wgslStore(name: string, d: DType): string {
  const enc: Record<DType, string> = {
    f32: 'bitcast<u32>(v)',
    f16: 'f32_to_f16(v)',
    bf16: 'f32_to_bf16(v)',
    i32: 'bitcast<u32>(i32(v))',
    u8: 'u32(i32(v)) & 0xffu',
  };
  return `${wgslStoreRaw(name, d)}fn st_${name}(i: u32, v: f32) { put_${name}(i, ${enc[d]}); }\n`;
}

/** Storage declaration of an input (read-only words) at `binding`. */
export function wgslInput(name: string, binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;\n`;
}

/** Storage declaration of an output; atomic words when elements share words. */
export function wgslOutput(name: string, binding: number, d: DType): string {
  return `@group(0) @binding(${binding}) var<storage, read_write> ${name}: array<${isSubWord(d) ? 'atomic<u32>' : 'u32'}>;\n`;
}
