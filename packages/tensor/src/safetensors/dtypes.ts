import type { DType } from '../dtype.js';

/**
 * Every dtype string the safetensors format defines, with its width in bits, in the order of
 * the reference implementation's `Dtype` enum (its writer sorts tensors by that order). The
 * sub-byte float formats pack several elements per byte, so sizes are computed in bits.
 */
export const SAFETENSORS_DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

/** A dtype string of the safetensors format (`F32`, `BF16`, `F8_E4M3`, ...). */
export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BITS;

const FROM_FILE: Partial<Record<SafetensorsDType, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', I32: 'i32', U8: 'u8' };

/** Our tensor dtype -> the safetensors dtype string written for it. */
export const SAFETENSORS_DTYPE_OF: Readonly<Record<DType, SafetensorsDType>> = {
  f32: 'F32',
  f16: 'F16',
  bf16: 'BF16',
  i32: 'I32',
  u8: 'U8',
};

/** True for a dtype string the safetensors format defines (case-sensitive, as in files). */
/** Position in the reference enum order. */
export const SAFETENSORS_DTYPE_RANK: Readonly<Record<SafetensorsDType, number>> = Object.fromEntries(
  Object.keys(SAFETENSORS_DTYPE_BITS).map((d, i) => [d, i]),
) as Record<SafetensorsDType, number>;

export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BITS, s);
}

/** The Tensor dtype a file dtype reads into, or undefined when `read()` cannot load it. */
export function dtypeFromSafetensors(d: SafetensorsDType): DType | undefined {
  return FROM_FILE[d];
}
