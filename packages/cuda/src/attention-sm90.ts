import type { DType } from '@mod-dit/tensor';

/** A kernel of kernels/attention_sm90.cu (sm_90a cubin only) and its launch shape. */
export interface HopperAttentionKernel {
  kind: 'flash';
  module: 'attention_sm90';
  name: string;
  threads: number;
  rowsPerCta: number;
  sharedBytes: number;
}

/** Producer warpgroup + two 64-row consumer warpgroups. */
const THREADS = 384;
/** Query rows per CTA = the key tile = the only mask / map block the kernels take. */
const BLOCK = 128;
/** K/V pipeline depth (SM90_STAGES in the .cu). */
const STAGES = 2;
/** SMEM_BYTES of attention_sm90.cu: 1024 alignment slack, Q + STAGES K and V tiles of 128 x 128 x 2 bytes, 512 for the mbarriers and the map's recheck and within masks. */
const SHARED_BYTES = 1024 + (1 + 2 * STAGES) * BLOCK * 128 * 2 + 512;

/**
 * The wgmma (FlashAttention-3 style) kernels for compute capability 9.0: f16/bf16, head_dim
 * 128, dense or block-sparse with mask block 128, the sparsity map with map block 128, and a
 * positive scale (row maxima are tracked on raw scores). Undefined for anything else, which the
 * caller routes to the mma.sync kernel.
 */
export function selectHopperAttentionKernel(p: { dtype: DType; headDim: number; scale: number; maskBlock?: number; mapBlock?: number }): HopperAttentionKernel | undefined {
  if (p.dtype !== 'bf16' && p.dtype !== 'f16') return undefined;
  if (p.headDim !== 128 || !(p.scale > 0)) return undefined;
  if ((p.maskBlock ?? BLOCK) !== BLOCK || (p.mapBlock ?? BLOCK) !== BLOCK) return undefined;
  // the map is a dense-only request; the map kernel has no sparse sweep
  if (p.maskBlock !== undefined && p.mapBlock !== undefined) return undefined;
  const variant = p.mapBlock === undefined ? '' : 'map_';
  return { kind: 'flash', module: 'attention_sm90', name: `flash_sm90_${variant}${p.dtype}_d128`, threads: THREADS, rowsPerCta: BLOCK, sharedBytes: SHARED_BYTES };
}
