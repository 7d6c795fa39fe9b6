import type { DType } from '@mod-dit/tensor';

/** Which attention kernel runs a call, and its launch shape. */
export type AttentionKernel =
  | { kind: 'flash'; name: string; threads: number; rowsPerCta: number; sharedBytes: number }
  | { kind: 'simple'; name: string };

const FLASH_HEAD_DIMS = [64, 128];
const FLASH_BLOCKS = [64, 128];
const KEY_TILE = 64;
const WARPS = 4;

/**
 * The tensor-core kernel covers f16/bf16, head_dim 64/128, mask/map blocks of 64/128 (a CTA
 * owns exactly one mask or map query block) and a positive scale (it tracks row maxima on raw
 * scores); everything else takes the simple kernel.
 */
export function selectAttentionKernel(p: { dtype: DType; headDim: number; scale: number; maskBlock?: number; mapBlock?: number }): AttentionKernel {
  const block = p.maskBlock ?? p.mapBlock ?? 128;
  if ((p.dtype === 'bf16' || p.dtype === 'f16') && FLASH_HEAD_DIMS.includes(p.headDim) && FLASH_BLOCKS.includes(block) && p.scale > 0) {
    // Q tile + two stages of K and V tiles, 2-byte elements
    const sharedBytes = (block + 4 * KEY_TILE) * p.headDim * 2;
    const variant = p.mapBlock === undefined ? '' : 'map_';
    return { kind: 'flash', name: `flash_${variant}${p.dtype}_d${p.headDim}_r${block}`, threads: WARPS * 32, rowsPerCta: block, sharedBytes };
  }
  return { kind: 'simple', name: `attn_simple_${p.dtype}` };
}
