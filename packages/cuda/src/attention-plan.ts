import type { DType } from '@mod-dit/tensor';
import { selectHopperAttentionKernel } from './attention-sm90.js';
import { I32_LIMIT } from './strided-layout.js';

/** Which attention kernel runs a call, from which module, and its launch shape. */
export type AttentionKernel =
  | { kind: 'flash'; module: 'attention' | 'attention_sm90'; name: string; threads: number; rowsPerCta: number; sharedBytes: number }
  | { kind: 'simple'; name: string };

/** What picks the kernel: the call's geometry. */
export interface AttentionKernelQuery {
  dtype: DType;
  headDim: number;
  scale: number;
  maskBlock?: number;
  mapBlock?: number;
  /** Key blocks of the requested map (its nK): the mma.sync map kernel keeps 8 bytes of shared memory per block. */
  mapKeyBlocks?: number;
}

const FLASH_HEAD_DIMS = [64, 128];
const FLASH_BLOCKS = [64, 128];
const KEY_TILE = 64;
const WARPS = 4;

/**
 * The tensor-core kernels cover f16/bf16, head_dim 64/128, mask/map blocks of 64/128 (a CTA
 * owns exactly one mask or map query block) and a positive scale (they track row maxima on raw
 * scores); everything else takes the simple kernel. With `hopper` (compute capability 9.0 and
 * the attention_sm90 cubin loaded) the wgmma kernels go first where they cover the call.
 */
export function selectAttentionKernel(p: AttentionKernelQuery, hopper = false): AttentionKernel {
  const sm90 = hopper ? selectHopperAttentionKernel(p) : undefined;
  if (sm90) return sm90;
  const block = p.maskBlock ?? p.mapBlock ?? 128;
  if ((p.dtype === 'bf16' || p.dtype === 'f16') && FLASH_HEAD_DIMS.includes(p.headDim) && FLASH_BLOCKS.includes(block) && p.scale > 0) {
    // Q tile + two stages of K and V tiles, 2-byte elements; the map adds X_J and the recheck list per key block
    const mapBytes = p.mapBlock === undefined ? 0 : 8 * (p.mapKeyBlocks ?? 0);
    const sharedBytes = (block + 4 * KEY_TILE) * p.headDim * 2 + mapBytes;
    const variant = p.mapBlock === undefined ? '' : 'map_';
    return { kind: 'flash', module: 'attention', name: `flash_${variant}${p.dtype}_d${p.headDim}_r${block}`, threads: WARPS * 32, rowsPerCta: block, sharedBytes };
  }
  return { kind: 'simple', name: `attn_simple_${p.dtype}` };
}

/**
 * Whether an attention operand [B, H, L, D] can be read in place (no contiguous copy): head_dim
 * contiguous and, for the tensor-core kernels (`rows16`), every token row 16-byte aligned (its
 * base address and the batch/head/token strides of non-trivial axes) with a token stride that
 * fits 32 bits. `address` is the byte address of element [0, 0, 0, 0].
 */
export function attentionViewUsable(shape: readonly number[], strides: readonly number[], address: bigint, elemBytes: number, rows16: boolean): boolean {
  if (shape[3] > 1 && strides[3] !== 1) return false;
  if (!rows16) return true;
  if (address % 16n !== 0n || Math.abs(strides[2]) >= I32_LIMIT) return false;
  return [0, 1, 2].every((a) => shape[a] === 1 || (strides[a] * elemBytes) % 16 === 0);
}

/** Power-of-two length class of a CSR row (-1 for an empty row): rows within 2x share a class. */
function lengthClass(n: number): number {
  return n > 0 ? Math.floor(Math.log2(n)) : -1;
}

/**
 * The CTA order appended to a sparse launch's CSR (rows r = head * nQ + query block): by
 * decreasing length class, within a class by head, then by decreasing length. Long rows (text
 * rows, say) start in the first waves and the last wave holds short ones, instead of one long
 * row finishing alone; keeping a class head-major keeps the CTAs that run at the same time on
 * few heads, whose K/V then stay in L2 (a plain longest-first sort spreads them over all heads).
 */
export function longestRowsFirst(rowPtr: Int32Array, nQ: number): Int32Array {
  const rows = rowPtr.length - 1;
  const len = (r: number) => rowPtr[r + 1] - rowPtr[r];
  const order = Array.from({ length: rows }, (_, r) => r);
  order.sort((a, b) => lengthClass(len(b)) - lengthClass(len(a)) || Math.floor(a / nQ) - Math.floor(b / nQ) || len(b) - len(a) || a - b);
  return Int32Array.from(order);
}
