import type { BlockMask } from './block-mask.js';
import type { DType, HostArray } from './dtype.js';
import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';

/** Options of {@link Backend.matmul}. */
export interface MatmulOptions {
  /** `b` is stored [..., N, K] (checkpoint Linear weights) rather than [..., K, N]. */
  transposeB?: boolean;
  /** Added to every output row; shape [N]. */
  bias?: Tensor;
  /**
   * Applied to `a x b + bias` before the one rounding into the output dtype: 'gelu' is the
   * tanh GELU of {@link Backend.gelu}. GPU backends fuse it into the GEMM epilogue, which
   * saves a round trip of the [M, N] product through memory (a DiT MLP's widest tensor).
   */
  activation?: MatmulActivation;
}

/** Epilogue activations of {@link Backend.matmul}. */
export type MatmulActivation = 'gelu';
/** Every {@link MatmulActivation}, for validating options that arrive untyped. */
export const MATMUL_ACTIVATIONS: readonly MatmulActivation[] = ['gelu'];

/** Options of {@link Backend.layerNorm}. */
export interface LayerNormOptions {
  /** Affine weight [C]; omitted for the non-affine LayerNorm Wan uses before modulation. */
  weight?: Tensor;
  /** Affine bias [C]. */
  bias?: Tensor;
  eps: number;
  /**
   * adaLN modulation after the affine step, y * (1 + scale) + shift, as {@link Backend.modulate}
   * does; scale and shift broadcast against x (e.g. [B, 1, C]) and come together or not at all.
   */
  scale?: Tensor;
  /** adaLN shift, added after the scale; see {@link LayerNormOptions.scale}. */
  shift?: Tensor;
  /** Output dtype, one of the backend's float dtypes; default x's. The result is rounded once into it. */
  dtype?: DType;
}

/** Options of {@link Backend.residualLayerNorm}: the layerNorm's, plus the residual's gate. */
export interface ResidualLayerNormOptions extends LayerNormOptions {
  /** Gate broadcast against x: sum = x + y * gate, as {@link Backend.gatedAdd}; omitted, sum = x + y. */
  gate?: Tensor;
}

/** The two outputs of {@link Backend.residualLayerNorm}. */
export interface ResidualLayerNormResult {
  /** x + y (* gate) in x's shape and dtype: the updated residual stream. */
  sum: Tensor;
  /** layerNorm(sum, opts): the next sublayer's input. */
  norm: Tensor;
}

/** 3D rotary embedding over a frame-major (t, h, w) token grid. */
export interface Rope3dOptions {
  /** Token grid [t, h, w]; tokens past t*h*w (text) are left untouched. */
  grid: readonly [number, number, number];
  /** Channels of head_dim given to t, h, w (each even, summing to head_dim). Wan: [44, 42, 42]. */
  split: readonly [number, number, number];
  /** Base of the per-axis frequencies freq_j = theta^(-2j/dim_axis). */
  theta: number;
  /**
   * RMSNorm over each token's H * D channels (weight [H * D]) before the rotation, the result
   * rounded once: Wan's norm_q / norm_k then its RoPE, in one pass over q or k.
   */
  norm?: { weight: Tensor; eps: number };
}

/** Patch layout of {@link Backend.patchify}: which end of the patch vector holds the channels. */
export interface PatchOptions {
  /** Patch extents [pt, ph, pw]; video DiTs use [1, 2, 2]. */
  patch: readonly [number, number, number];
  /** 'first': vector order (c, pt, ph, pw) (Conv3d weights, HunyuanVideo head); 'last': (pt, ph, pw, c) (Wan head). */
  channels: 'first' | 'last';
}

/** Asks dense attention to also emit the block sparsity map of the MOD-DiT spec. */
export interface SparsityMapRequest {
  /** Probabilities below tau count as negligible. MOD-DiT: 1e-4. */
  tau: number;
  /** Block edge in tokens (128 or 64). */
  blockSize: number;
  /** The map covers the first `tokens` query and key tokens (the video part); default all. */
  tokens?: number;
  /**
   * Only the blocks active in this mask need values (MOD-DiT's refresh step merges the fresh
   * map under the active mask and discards the rest). A mask for the whole call (heads, Lq,
   * Lk) with the map's block size; map blocks it leaves inactive read NaN on every backend,
   * and backends skip their counting work.
   */
  within?: BlockMask;
}

/** Options of {@link Backend.attention}. */
export interface AttentionOptions {
  /** Softmax scale; default 1/sqrt(head_dim). */
  scale?: number;
  /** Block-sparse: keys outside the mask's active blocks are excluded from the softmax. */
  mask?: BlockMask;
  /** Dense only: emit the block sparsity map from the same pass. */
  map?: SparsityMapRequest;
}

/** Result of {@link Backend.attention}. */
export interface AttentionResult {
  /** [B, H, Lq, D] in q's dtype; rows with no active key are zero. */
  out: Tensor;
  /** Natural-log log-sum-exp of the scaled scores per row, [B, H, Lq], f32; -Infinity for empty rows. */
  lse: Tensor;
  /** Block sparsity map [B, H, nQ, nK] f32: fraction of p < tau per block (ragged blocks count their real entries). */
  map?: Tensor;
}

/**
 * The ops a video DiT and MOD-DiT need, and nothing more. Every backend implements all of
 * them and is proven by the shared conformance suite against the CPU reference backend.
 * Ops enqueue work and return new tensors synchronously; only `read` waits.
 * Shape/dtype checks throw {@link ShapeError} / {@link DTypeError} before any work starts.
 */
export interface Backend {
  /** Short name: 'cpu', 'webgpu', 'cuda'. */
  readonly name: string;
  /** Dtypes this backend accepts for float compute (always includes what `upload` stores). */
  readonly floatDTypes: readonly DType[];

  /** Copies host data (raw dtype bits, row-major) into a new tensor. */
  upload(data: HostArray, shape: Shape, dtype: DType): Tensor;
  /** A new tensor with unspecified contents. */
  empty(shape: Shape, dtype: DType): Tensor;
  /** Reads the logical elements (row-major, raw dtype bits) back to the host. */
  read(t: Tensor): Promise<HostArray>;
  /** Waits until all enqueued work is done. */
  sync(): Promise<void>;
  /**
   * Blocks the thread until all enqueued work is done, where the backend can (CUDA; the CPU
   * backend is synchronous and needs none). Profilers use it to time op categories exactly.
   */
  syncNow?(): void;

  /** A contiguous copy of any view (or `t` itself, retained, if already contiguous with offset 0). */
  contiguous(t: Tensor): Tensor;
  /** Converts between dtypes (RNE to f16/bf16). */
  cast(t: Tensor, dtype: DType): Tensor;
  /** Joins tensors of equal dtype along `axis`. */
  concat(ts: readonly Tensor[], axis: number): Tensor;

  /** Batched a[..., M, K] x b[..., K, N] (or b[..., N, K] with transposeB), leading dims broadcast; f32 accumulation; optional bias and activation epilogue. */
  matmul(a: Tensor, b: Tensor, opts?: MatmulOptions): Tensor;
  /** Elementwise with NumPy broadcasting; the result has a's dtype. */
  add(a: Tensor, b: Tensor): Tensor;
  sub(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  /** x * (1 + scale) + shift, scale/shift broadcast against x (adaLN modulation). */
  modulate(x: Tensor, scale: Tensor, shift: Tensor): Tensor;
  /** x + y * gate, gate broadcast (gated residual). */
  gatedAdd(x: Tensor, y: Tensor, gate: Tensor): Tensor;
  /** LayerNorm over the last dim, optional affine, optional fused adaLN modulation and output dtype. */
  layerNorm(x: Tensor, opts: LayerNormOptions): Tensor;
  /**
   * A pre-norm block's residual update and the next sublayer's norm in one op: sum = x + y
   * (* gate), y and gate broadcast against x, rounded into x's dtype; then layerNorm(sum, opts)
   * computed from the rounded sum, exactly as gatedAdd (or add) followed by layerNorm.
   */
  residualLayerNorm(x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): ResidualLayerNormResult;
  /** RMSNorm over the last dim: x / sqrt(mean(x^2) + eps) * weight. */
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor;
  /** GELU, tanh approximation. */
  gelu(x: Tensor): Tensor;
  silu(x: Tensor): Tensor;
  /** Softmax over the last dim. */
  softmax(x: Tensor): Tensor;
  /** 3D RoPE on x [B, L, H, D] with interleaved pairs (2i, 2i+1). */
  rope3d(x: Tensor, opts: Rope3dOptions): Tensor;
  /** [B, C, T, H, W] -> [B, L, C*pt*ph*pw] tokens in frame-major (t, h, w) order. */
  patchify(x: Tensor, opts: PatchOptions): Tensor;
  /** [B, L, C*pt*ph*pw] -> [B, C, T, H, W] for the token grid `grid` = [T/pt, H/ph, W/pw]. */
  unpatchify(x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): Tensor;
  /**
   * Attention over q [B, H, Lq, D], k and v [B, H, Lk, D] (Lq and Lk may differ).
   * Dense by default; block-sparse with `mask`; dense + sparsity map with `map`.
   */
  attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): AttentionResult;

  /** Releases device resources (pipelines, contexts). Tensors must be disposed first. */
  destroy?(): void;
}
