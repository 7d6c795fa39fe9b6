import {
  type AttentionOptions, type AttentionResult, type Backend, BackendUnavailableError, BlockMask, CachingAllocator, type DeviceBlock as Block, type MemoryStats, type DType, DTYPES, DTYPE_BYTES,
  DTypeError, type HostArray, type LayerNormOptions, type MatmulOptions, type PatchOptions, type ResidualLayerNormOptions,
  type ResidualLayerNormResult, type Rope3dOptions, type Shape, ShapeError, Storage, Tensor, UnsupportedFeatureError, allocHost,
  checkEmpty, checkFloat, checkMinRank, checkTensor, checkUpload, contiguousStrides, fmtShape, numel, shapeEquals,
  validateAttention, validateBinary, validateConcat, validateLayerNorm, validateMatmul, validateNorm, validatePatchify, validateRope3d,
  normThenRope, residualThenLayerNorm, validateResidualLayerNorm, validateTernary, validateUnpatchify,
} from '@mod-dit/tensor';
import { cudaAvailability } from './availability.js';
import { attentionViewUsable, longestRowsFirst, selectAttentionKernel } from './attention-plan.js';
import { CublasLt, GEMM_WORKSPACE_BYTES } from './cublaslt.js';
import { checkCu, isCudaOutOfMemory } from './cuda-error.js';
import { CudaContext, type DeviceInfo, type DriverApi, loadDriver, readHandle } from './driver.js';
import { batchPlan, ltGemmShape } from './gemm-plan.js';
import { KernelModules } from './kernel-modules.js';
import { type KernelArg, NULL_PTR } from './launch-args.js';
import { type StridedLayout, I32_LIMIT, OPERAND_MODE, broadcastStrides, fastModes, fitsInt32, mergeLayout, widenCopy } from './strided-layout.js';

/** A device allocation (CUdeviceptr) of the caching allocator. */
type DeviceBlock = Block<bigint>;

const THREADS = 256;
const BINARY_OP = { add: 0, sub: 1, mul: 2 } as const;
const TERNARY_OP = { modulate: 0, gatedAdd: 1 } as const;
const UNARY_OP = { gelu: 0, silu: 1 } as const;
const SIMPLE_MAX_HEAD_DIM = 256;

/** Grid for a grid-stride loop over n work items: enough CTAs to fill the GPU, no more. */
function gridFor(n: number, sms: number): number {
  return Math.max(1, Math.min(Math.ceil(n / THREADS), sms * 16));
}

/** Elements per vector step of the streaming kernels (16 bytes of a 2-byte dtype). */
const VEC = 8;
/** Warps sharing one row at most: the row kernels are compiled for 512-thread CTAs. */
const MAX_ROW_WARPS = 16;

/**
 * How ops.cu's row kernels cover a row of C elements (chunks of 8): G warps per row, each lane
 * holding up to `vpt` chunks in registers (2 or 8: the compiled variants), `threads` per CTA.
 * Rows longer than 16 warps x 8 chunks x 8 are re-read from memory per pass (`resident` false).
 */
function rowPlan(C: number): { G: number; vpt: 2 | 8; threads: number; resident: boolean } {
  const chunks = Math.ceil(C / VEC);
  if (chunks <= 32 * 2) return { G: 1, vpt: 2, threads: THREADS, resident: true };
  let G = 1;
  while (G < MAX_ROW_WARPS && G * 32 * 8 < chunks) G *= 2;
  return { G, vpt: 8, threads: Math.max(THREADS, G * 32), resident: chunks <= G * 32 * 8 };
}

/** Whether every device address is 16-byte aligned (the vector kernels' requirement). */
function aligned16(ptrs: readonly bigint[]): boolean {
  return ptrs.every((p) => p % 16n === 0n);
}

/** Device copies of a BlockMask's CSR, uploaded once per mask and freed with it. */
interface DeviceCsr {
  rowPtr: DeviceBlock;
  colIdx: DeviceBlock;
}

/**
 * The CUDA backend: every op enqueues kernels (ours, from kernels/*.cu) or cuBLASLt GEMMs on
 * one stream; `read` and `sync` wait. Tensors live in device memory from a caching allocator.
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda';
  readonly floatDTypes: readonly DType[] = ['f32', 'f16', 'bf16'];
  readonly device: DeviceInfo;
  private readonly ctx: CudaContext;
  private readonly kernels: KernelModules;
  private readonly alloc: CachingAllocator<bigint>;
  private readonly gemm: CublasLt;
  private readonly workspace: DeviceBlock;
  private readonly csr = new WeakMap<BlockMask, DeviceCsr>();
  /** Events after which a storage's data is complete (see markReady), by device block. */
  private readonly readyEvents = new Map<DeviceBlock, bigint>();
  private lastAttention: string | undefined;
  /** rope3d's (cos, sin) tables by geometry, freed in destroy(). */
  private readonly ropeTables = new Map<string, DeviceBlock>();
  private readonly csrFree = new FinalizationRegistry<DeviceCsr>((c) => {
    this.alloc.release(c.rowPtr);
    this.alloc.release(c.colIdx);
  });

  /** Whether libcuda, a GPU and the compiled kernels are all here (see {@link cudaAvailability} for the reason if not). */
  static isAvailable(): boolean {
    return cudaAvailability().available;
  }

  /** Use {@link createCudaBackend}; this takes an already loaded driver. */
  constructor(api: DriverApi, ordinal = 0) {
    this.ctx = new CudaContext(api, ordinal);
    this.device = this.ctx.info;
    this.kernels = new KernelModules(this.ctx);
    this.alloc = new CachingAllocator({
      alloc: (bytes) => {
        const out = Buffer.alloc(8);
        checkCu(`cuMemAlloc(${bytes})`, api.cuMemAlloc_v2(out, bytes));
        return readHandle(out);
      },
      free: (ptr) => checkCu('cuMemFree', api.cuMemFree_v2(ptr)),
    }, { isOutOfMemory: isCudaOutOfMemory });
    this.workspace = this.alloc.allocate(GEMM_WORKSPACE_BYTES);
    this.gemm = new CublasLt(this.ctx, this.workspace.handle);
  }

  // ---- memory -------------------------------------------------------------------------

  private make(shape: Shape, dtype: DType): Tensor {
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    const block = this.alloc.allocate(bytes);
    return new Tensor(this, new Storage(block, bytes, () => this.releaseStorage(block)), dtype, shape);
  }

  private releaseStorage(block: DeviceBlock): void {
    const ready = this.readyEvents.get(block);
    if (ready !== undefined) {
      this.ctx.destroyEvent(ready);
      this.readyEvents.delete(block);
    }
    this.alloc.release(block);
  }

  /**
   * Marks `t`'s data complete at this point of the stream: a later read() waits for this
   * point only, not for the work enqueued after it. For outputs written once and read back
   * while the stream runs on (sparsity maps).
   */
  private markReady(t: Tensor): void {
    this.readyEvents.set(t.storage.handle as DeviceBlock, this.ctx.markNow());
  }

  /** Device address of element [0, ..., 0] of a view. */
  ptr(t: Tensor): bigint {
    return (t.storage.handle as DeviceBlock).handle + BigInt(t.offset * DTYPE_BYTES[t.dtype]);
  }

  private arg(t: Tensor): KernelArg {
    return { ptr: this.ptr(t) };
  }

  upload(data: HostArray, shape: Shape, dtype: DType): Tensor {
    checkUpload(data, shape, dtype);
    const t = this.make(shape, dtype);
    if (data.byteLength > 0) checkCu('cuMemcpyHtoDAsync', this.ctx.api.cuMemcpyHtoDAsync_v2(this.ptr(t), data, data.byteLength, this.ctx.stream));
    return t;
  }

  empty(shape: Shape, dtype: DType): Tensor {
    checkEmpty(shape, dtype);
    return this.make(shape, dtype);
  }

  async read(t: Tensor): Promise<HostArray> {
    checkTensor(this, 'read', 't', t);
    const src = this.contiguous(t);
    try {
      const out = allocHost(t.dtype, t.size);
      if (out.byteLength > 0) await this.ctx.readToHost(out, this.ptr(src), out.byteLength, this.readyEvents.get(src.storage.handle as DeviceBlock));
      return out;
    } finally {
      src.dispose();
    }
  }

  async sync(): Promise<void> {
    await this.ctx.drained();
  }

  syncNow(): void {
    this.ctx.synchronize();
  }

  // ---- data movement --------------------------------------------------------------------

  /** Copies the logical elements of `src` into the (possibly strided) view `dst` of equal shape. */
  private copyInto(dst: Tensor, src: Tensor, what: string): void {
    if (src.size === 0) return;
    this.copyLayout(dst, src, mergeLayout(src.shape, [dst.strides, src.strides], what));
  }

  /** Copies over a merged (dst, src) layout in the widest unit (up to 16 bytes) both sides allow. */
  private copyLayout(dst: Tensor, src: Tensor, lay: StridedLayout): void {
    const { unit, layout } = widenCopy(lay, DTYPE_BYTES[src.dtype], [this.ptr(dst), this.ptr(src)]);
    const n = numel(layout.shape);
    this.kernels.launch('ops', `copy_e${unit}`, { grid: [gridFor(n, this.device.multiprocessors)], block: THREADS }, [
      this.arg(dst), this.arg(src), { i64: n }, { i32: layout.shape.length }, { dims: layout.shape }, { dims: layout.strides[0] }, { dims: layout.strides[1] },
      { i32: fitsInt32(layout) ? 0 : 1 },
    ]);
  }

  contiguous(t: Tensor): Tensor {
    checkTensor(this, 'contiguous', 't', t);
    const whole = t.isContiguous && t.offset === 0 && t.size * DTYPE_BYTES[t.dtype] === t.storage.byteLength;
    if (whole) return new Tensor(this, t.storage, t.dtype, t.shape);
    const out = this.make(t.shape, t.dtype);
    this.copyInto(out, t, 'contiguous');
    return out;
  }

  cast(t: Tensor, dtype: DType): Tensor {
    checkTensor(this, 'cast', 't', t);
    if (!DTYPES.includes(dtype)) throw new DTypeError(`cast: unknown target dtype ${String(dtype)}, expected one of ${DTYPES.join(', ')}`);
    if (dtype === t.dtype) {
      const out = this.make(t.shape, dtype);
      this.copyInto(out, t, 'cast');
      return out;
    }
    if (!this.floatDTypes.includes(t.dtype) || !this.floatDTypes.includes(dtype))
      throw new DTypeError(`cast: ${t.dtype} -> ${dtype} is not supported by the cuda backend (float dtypes ${this.floatDTypes.join(', ')} only)`);
    const src = this.contiguous(t);
    const out = this.make(t.shape, dtype);
    if (t.size > 0)
      this.kernels.launch('ops', `cast_${t.dtype}_${dtype}`, { grid: [gridFor(Math.ceil(t.size / VEC), this.device.multiprocessors)], block: THREADS }, [
        this.arg(out), this.arg(src), { i64: t.size },
      ]);
    src.dispose();
    return out;
  }

  concat(ts: readonly Tensor[], axis: number): Tensor {
    const { axis: ax, shape } = validateConcat(this, ts, axis);
    const first = ts[0];
    const out = this.make(shape, first.dtype);
    let start = 0;
    for (const t of ts) {
      const view = out.slice(ax, start, start + t.shape[ax]);
      this.copyInto(view, t, 'concat');
      view.dispose();
      start += t.shape[ax];
    }
    return out;
  }

  patchify(x: Tensor, opts: PatchOptions): Tensor {
    const { B, C, grid: [gt, gh, gw], patch: [pt, ph, pw] } = validatePatchify(this, x, opts);
    const s = x.strides;
    // x viewed as [B, C, T', pt, H', ph, W', pw], permuted into the token-major patch order
    const split = [B, C, gt, pt, gh, ph, gw, pw];
    const splitStrides = [s[0], s[1], s[2] * pt, s[2], s[3] * ph, s[3], s[4] * pw, s[4]];
    const order = opts.channels === 'first' ? [0, 2, 4, 6, 1, 3, 5, 7] : [0, 2, 4, 6, 3, 5, 7, 1];
    const out = this.make([B, gt * gh * gw, C * pt * ph * pw], x.dtype);
    this.copyPermuted(out, order.map((i) => split[i]), contiguousStrides(order.map((i) => split[i])), order.map((i) => splitStrides[i]), x, 'patchify');
    return out;
  }

  unpatchify(x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): Tensor {
    const { B, C, grid: [gt, gh, gw], patch: [pt, ph, pw] } = validateUnpatchify(this, x, grid, opts);
    const out = this.make([B, C, gt * pt, gh * ph, gw * pw], x.dtype);
    const o = out.strides;
    const split = [B, C, gt, pt, gh, ph, gw, pw];
    const splitStrides = [o[0], o[1], o[2] * pt, o[2], o[3] * ph, o[3], o[4] * pw, o[4]];
    const order = opts.channels === 'first' ? [0, 2, 4, 6, 1, 3, 5, 7] : [0, 2, 4, 6, 3, 5, 7, 1];
    // walk x's logical order [B, T', H', W', (patch vector)] and scatter into out
    const shape = order.map((i) => split[i]);
    const src = this.contiguous(x);
    this.copyPermuted(out, shape, order.map((i) => splitStrides[i]), contiguousStrides(shape), src, 'unpatchify');
    src.dispose();
    return out;
  }

  /** Element copy over an explicit index space with explicit strides on both sides (same storage dtype). */
  private copyPermuted(dst: Tensor, shape: number[], dstStrides: number[], srcStrides: number[], src: Tensor, what: string): void {
    if (numel(shape) === 0) return;
    this.copyLayout(dst, src, mergeLayout(shape, [dstStrides, srcStrides], what));
  }

  // ---- GEMM -----------------------------------------------------------------------------

  matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
    const { m: M, k: K, n: N, transposeB: tb, activation } = validateMatmul(this, a, b, opts);
    const plan = batchPlan(a.shape.slice(0, -2), b.shape.slice(0, -2), M, N, K);
    const out = this.make([...plan.batchShape, M, N], a.dtype);
    if (out.size === 0) return out;
    // bias in the output dtype: cuBLASLt's bias epilogue reads the D type
    const bias = opts.bias === undefined ? undefined : opts.bias.dtype === a.dtype ? this.contiguous(opts.bias) : this.cast(opts.bias, a.dtype);
    if (K === 0) {
      checkCu('cuMemsetD8Async', this.ctx.api.cuMemsetD8Async(this.ptr(out), 0, out.size * DTYPE_BYTES[a.dtype], this.ctx.stream));
      let res = out;
      if (bias) {
        res = this.add(out, bias);
        bias.dispose();
        out.dispose();
      }
      if (activation === 'gelu') this.unaryInto('gelu', res, res);
      return res;
    }
    // f16/bf16 take cuBLASLt's GELU epilogue (tanh GELU in f32 before the one rounding); f32
    // keeps the plain bias epilogue and runs our GELU in place: rounding the pre-activation to
    // f32 first costs ~6e-8 relative, and our kernel matches the contract's formula exactly
    const fusedGelu = activation === 'gelu' && a.dtype !== 'f32';
    const ac = this.contiguous(a);
    const bc = this.contiguous(b);
    const el = BigInt(DTYPE_BYTES[a.dtype]);
    // a weight shared by every batch entry: one tall GEMM instead of a strided batch
    const fold = plan.count > 1 && plan.strideB === 0 && plan.strideA === M * K;
    const rows = fold ? M * plan.count : M;
    const batch = fold ? { count: 1, strideA: 0, strideB: 0, strideC: 0 } : plan;
    for (const g of plan.groups)
      this.gemm.matmul({
        dtype: a.dtype,
        shape: ltGemmShape(rows, N, K, tb),
        batch,
        A: this.ptr(ac) + BigInt(g.offsetA) * el,
        B: this.ptr(bc) + BigInt(g.offsetB) * el,
        C: this.ptr(out) + BigInt(g.offsetC) * el,
        bias: bias ? this.ptr(bias) : null,
        gelu: fusedGelu,
      });
    ac.dispose();
    bc.dispose();
    bias?.dispose();
    if (activation === 'gelu' && !fusedGelu) this.unaryInto('gelu', out, out);
    return out;
  }

  // ---- pointwise ------------------------------------------------------------------------

  /**
   * Launches binary_* / ternary_* (kind) for out = op(operands...) over out's contiguous index
   * space; operands broadcast to out's shape and keep their own dtypes (the kernels are
   * compiled per dtype combination). Wan's layouts (contiguous, per-row [.., C], scalar) take
   * the division-free fast path, 16-byte vectorised where sizes and addresses allow.
   */
  private pointwise(kind: 'binary' | 'ternary', what: string, op: number, out: Tensor, operands: readonly Tensor[]): void {
    const shape = out.shape;
    const lay = mergeLayout(shape, [contiguousStrides(shape), ...operands.map((t) => broadcastStrides(t.shape, t.strides, shape))], what);
    const dtypes = operands.map((t) => t.dtype).join('_');
    const ptrs = [out, ...operands].map((t) => this.ptr(t));
    const n = out.size;
    const fast = n < I32_LIMIT ? fastModes(lay) : null;
    const sms = this.device.multiprocessors;
    if (fast) {
      const rows = operands.some((_, k) => ((fast.modes >> (2 * k)) & 3) === OPERAND_MODE.row);
      const vec = n % VEC === 0 && (!rows || fast.C % VEC === 0) && aligned16(ptrs);
      this.kernels.launch('ops', `${kind}_${dtypes}`, { grid: [gridFor(vec ? n / VEC : n, sms)], block: THREADS }, [
        ...ptrs.map((ptr) => ({ ptr })), { u32: n }, { i32: op }, { i32: fast.modes }, { u32: fast.C }, { i32: vec ? 1 : 0 },
      ]);
      return;
    }
    this.kernels.launch('ops', `${kind}_strided_${dtypes}`, { grid: [gridFor(n, sms)], block: THREADS }, [
      ...ptrs.map((ptr) => ({ ptr })), { i64: n }, { i32: op }, { i32: lay.shape.length }, { dims: lay.shape },
      ...lay.strides.slice(1).map((dims) => ({ dims })), { i32: fitsInt32(lay) ? 0 : 1 },
    ]);
  }

  private binary(op: keyof typeof BINARY_OP, a: Tensor, b: Tensor): Tensor {
    const shape = validateBinary(this, op, a, b);
    const out = this.make(shape, a.dtype);
    if (out.size > 0) this.pointwise('binary', op, BINARY_OP[op], out, [a, b]);
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b);
  }
  sub(a: Tensor, b: Tensor): Tensor {
    return this.binary('sub', a, b);
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b);
  }

  private ternary(op: keyof typeof TERNARY_OP, names: readonly [string, string, string], x: Tensor, y: Tensor, z: Tensor): Tensor {
    validateTernary(this, op, names, x, y, z);
    const out = this.make(x.shape, x.dtype);
    if (out.size > 0) this.pointwise('ternary', op, TERNARY_OP[op], out, [x, y, z]);
    return out;
  }

  modulate(x: Tensor, scale: Tensor, shift: Tensor): Tensor {
    return this.ternary('modulate', ['x', 'scale', 'shift'], x, scale, shift);
  }
  gatedAdd(x: Tensor, y: Tensor, gate: Tensor): Tensor {
    return this.ternary('gatedAdd', ['x', 'y', 'gate'], x, y, gate);
  }

  private unary(op: keyof typeof UNARY_OP, x: Tensor): Tensor {
    checkFloat(this, op, 'x', x);
    const src = this.contiguous(x);
    const out = this.make(x.shape, x.dtype);
    this.unaryInto(op, out, src);
    src.dispose();
    return out;
  }

  /** out = op(src) over contiguous tensors of equal shape; out may be src (each element is read before it is written). */
  private unaryInto(op: keyof typeof UNARY_OP, out: Tensor, src: Tensor): void {
    if (src.size > 0)
      this.kernels.launch('ops', `unary_${src.dtype}`, { grid: [gridFor(Math.ceil(src.size / VEC), this.device.multiprocessors)], block: THREADS }, [
        this.arg(out), this.arg(src), { i64: src.size }, { i32: UNARY_OP[op] },
      ]);
  }

  gelu(x: Tensor): Tensor {
    return this.unary('gelu', x);
  }
  silu(x: Tensor): Tensor {
    return this.unary('silu', x);
  }

  // ---- row-wise -------------------------------------------------------------------------

  /** A per-channel parameter [C] as contiguous f32 (the kernels read f32 parameters). */
  private param(op: string, name: string, t: Tensor, c: number): Tensor {
    checkFloat(this, op, name, t);
    if (!shapeEquals(t.shape, [c])) throw new ShapeError(`${op}: ${name} must have shape [${c}], got ${fmtShape(t.shape)}`);
    return t.dtype === 'f32' ? this.contiguous(t) : this.cast(t, 'f32');
  }

  /**
   * Launches a row kernel of ops.cu over the last dim of x (made contiguous), the variant and
   * geometry from {@link rowPlan}. Arguments: (out, x, ...pre, rows, C, ...post, G, vec); `vec`
   * (16-byte chunks) needs C % 8 == 0, aligned rows and `vecOk` from the caller's operands.
   * `perVpt`: the kernel comes in _r2 / _r8 register-tile variants (false: one kernel that
   * streams its row).
   */
  private rows(name: string, x: Tensor, dtype: DType, pre: KernelArg[], post: KernelArg[], vecOk: boolean, perVpt = true): Tensor {
    const src = this.contiguous(x);
    const out = this.make(x.shape, dtype);
    const C = x.shape[x.rank - 1];
    const rows = C === 0 ? 0 : x.size / C;
    if (rows > 0) {
      const { G, vpt, threads } = rowPlan(C);
      const vec = vecOk && C % VEC === 0 && aligned16([this.ptr(src), this.ptr(out)]);
      this.kernels.launch('ops', perVpt ? `${name}_r${vpt}` : name, { grid: [Math.ceil(rows / (threads / 32 / G))], block: threads }, [
        this.arg(out), this.arg(src), ...pre, { i64: rows }, { i32: C }, ...post, { i32: G }, { i32: vec ? 1 : 0 },
      ]);
    }
    src.dispose();
    return out;
  }

  /** A broadcast operand as f32 (the row kernels' parameter type): a view of t if already f32, else a cast copy. */
  private f32View(t: Tensor): Tensor {
    return t.dtype === 'f32' ? new Tensor(this, t.storage, t.dtype, t.shape, t.strides, t.offset) : this.cast(t, 'f32');
  }

  /**
   * The parameters of the layerNorm kernels as launch arguments: `affine` (weight, bias),
   * `broadcast` (one pointer per tensor of `rowParams`: residualLayerNorm's gate, adaLN's scale
   * and shift) and `layout` (the leading-dims layout that picks each one's row for an x row, then
   * their column strides). `vecOk`: 16-byte chunks can read them. The caller disposes `owned`
   * after the launch.
   */
  private normArgs(x: Tensor, opts: LayerNormOptions, C: number, rowParams: readonly (Tensor | undefined)[]) {
    const w = opts.weight === undefined ? undefined : this.param('layerNorm', 'weight', opts.weight, C);
    const b = opts.bias === undefined ? undefined : this.param('layerNorm', 'bias', opts.bias, C);
    const rowsF32 = rowParams.map((t) => t && this.f32View(t));
    const full = rowsF32.map((t) => (t ? broadcastStrides(t.shape, t.strides, x.shape) : x.shape.map(() => 0)));
    const lead = mergeLayout(x.shape.slice(0, -1), full.map((st) => st.slice(0, -1)), 'layerNorm');
    const cols = full.map((st) => st[st.length - 1]);
    const owned = [w, b, ...rowsF32].filter((t): t is Tensor => t !== undefined);
    const vecOk = aligned16(owned.map((t) => this.ptr(t))) && rowsF32.every((t, i) => !t || (cols[i] === 1 && lead.strides[i].every((v) => v % 4 === 0)));
    const ptr = (t: Tensor | undefined): KernelArg => (t ? this.arg(t) : NULL_PTR);
    const layout: KernelArg[] = [{ i32: lead.shape.length }, { dims: lead.shape }, ...lead.strides.map((st) => ({ dims: st })), ...cols.map((c) => ({ i64: c }))];
    return { affine: [ptr(w), ptr(b)], broadcast: rowsF32.map(ptr), layout, vecOk, owned };
  }

  layerNorm(x: Tensor, opts: LayerNormOptions): Tensor {
    const { c: C, dtype, modulation } = validateLayerNorm(this, x, opts);
    const p = this.normArgs(x, opts, C, [modulation?.scale, modulation?.shift]);
    const out = this.rows(`layernorm_${x.dtype}_${dtype}`, x, dtype, [...p.affine, ...p.broadcast, ...p.layout], [{ f32: opts.eps }], p.vecOk);
    for (const t of p.owned) t.dispose();
    return out;
  }

  /**
   * One pass (residual_layernorm_f32_*) for an f32 residual stream x and a y of x's shape whose
   * row fits the kernel's register tile; other cases compose gatedAdd / add and layerNorm.
   */
  residualLayerNorm(x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): ResidualLayerNormResult {
    const { c: C, dtype, modulation } = validateResidualLayerNorm(this, x, y, opts);
    if (x.dtype !== 'f32' || !shapeEquals(y.shape, x.shape) || !rowPlan(C).resident) return residualThenLayerNorm(this, x, y, opts);
    const sum = this.make(x.shape, 'f32');
    const yc = this.contiguous(y);
    const p = this.normArgs(x, opts, C, [opts.gate, modulation?.scale, modulation?.shift]);
    const [gate, scale, shift] = p.broadcast;
    const norm = this.rows(
      `residual_layernorm_f32_${y.dtype}_${dtype}`, x, dtype, [this.arg(sum), this.arg(yc), gate, ...p.affine, scale, shift, ...p.layout],
      [{ f32: opts.eps }], p.vecOk && aligned16([this.ptr(sum), this.ptr(yc)]), false,
    );
    for (const t of [...p.owned, yc]) t.dispose();
    return { sum, norm };
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const C = validateNorm(this, 'rmsNorm', x, eps, { weight });
    const w = this.param('rmsNorm', 'weight', weight, C);
    const out = this.rows(`rmsnorm_${x.dtype}`, x, x.dtype, [this.arg(w)], [{ f32: eps }], aligned16([this.ptr(w)]));
    w.dispose();
    return out;
  }

  softmax(x: Tensor): Tensor {
    checkFloat(this, 'softmax', 'x', x);
    checkMinRank('softmax', 'x', x, 1);
    return this.rows(`softmax_${x.dtype}`, x, x.dtype, [], [], true);
  }

  rope3d(x: Tensor, opts: Rope3dOptions): Tensor {
    validateRope3d(this, x, opts);
    const [, L, H, D] = x.shape;
    const { grid, split } = opts;
    const geom: KernelArg[] = [{ i32: L }, { i32: H }, { i32: D }, { i32: grid[0] }, { i32: grid[1] }, { i32: grid[2] }, { i32: split[0] / 2 }, { i32: split[1] / 2 }];
    if (opts.norm) {
      // one row kernel per token (H * D channels): RMSNorm, then the rotation of each head's
      // pairs; its 8-value chunks must not straddle heads
      if (D % VEC !== 0) return normThenRope(this, x, opts);
      const w = this.param('rope3d', 'norm.weight', opts.norm.weight, H * D);
      const xc = this.contiguous(x);
      const rowsOfTokens = xc.reshape([x.size / (H * D), H * D]);
      const out = this.rows(`rmsnorm_rope_${x.dtype}`, rowsOfTokens, x.dtype, [this.arg(w), { ptr: this.ropeTable(opts).handle }], [{ f32: opts.norm.eps }, ...geom], aligned16([this.ptr(w)]), false);
      xc.dispose();
      w.dispose();
      return out.reshape(x.shape);
    }
    const src = this.contiguous(x);
    const out = this.make(x.shape, x.dtype);
    const n = x.size;
    if (n > 0) {
      const vec = D % VEC === 0 && aligned16([this.ptr(src), this.ptr(out)]);
      this.kernels.launch('ops', `rope3d_${x.dtype}`, { grid: [gridFor(vec ? n / VEC : n / 2, this.device.multiprocessors)], block: THREADS }, [
        this.arg(out), this.arg(src), { ptr: this.ropeTable(opts).handle }, { i64: n }, ...geom, { i32: vec ? 1 : 0 }, { i32: n < I32_LIMIT ? 0 : 1 },
      ]);
    }
    src.dispose();
    return out;
  }

  /**
   * The (cos, sin) table of a RoPE geometry (see ops.cu): computed once on the device in double
   * and kept until {@link destroy}, so each rope3d call is a pure streaming pass.
   */
  private ropeTable(opts: Rope3dOptions): DeviceBlock {
    const { grid: [gt, gh, gw], split: [s0, s1, s2], theta } = opts;
    const key = `${gt},${gh},${gw}|${s0},${s1},${s2}|${theta}`;
    let table = this.ropeTables.get(key);
    if (!table) {
      const entries = (gt * s0 + gh * s1 + gw * s2) / 2;
      table = this.alloc.allocate(Math.max(8, entries * 8));
      this.kernels.launch('ops', 'rope_table', { grid: [gridFor(entries, this.device.multiprocessors)], block: THREADS }, [
        { ptr: table.handle }, { i32: gt }, { i32: gh }, { i32: gw }, { i32: s0 }, { i32: s1 }, { i32: s2 }, { f64: theta },
      ]);
      this.ropeTables.set(key, table);
    }
    return table;
  }

  // ---- attention ------------------------------------------------------------------------

  /** `module:name` of the kernel that ran the last attention() call (benchmarks record it); undefined before any. */
  get lastAttentionKernel(): string | undefined {
    return this.lastAttention;
  }

  /** The mask's CSR on the device; rowPtr is followed by the longest-rows-first CTA order (see attention.cu). */
  private deviceCsr(mask: BlockMask): DeviceCsr {
    let c = this.csr.get(mask);
    if (!c) {
      const up = (a: Int32Array): DeviceBlock => {
        const block = this.alloc.allocate(Math.max(4, a.byteLength));
        if (a.byteLength > 0) checkCu('cuMemcpyHtoDAsync(csr)', this.ctx.api.cuMemcpyHtoDAsync_v2(block.handle, a, a.byteLength, this.ctx.stream));
        return block;
      };
      const order = longestRowsFirst(mask.rowPtr, mask.nQ);
      const rowPtrAndOrder = new Int32Array(mask.rowPtr.length + order.length);
      rowPtrAndOrder.set(mask.rowPtr);
      rowPtrAndOrder.set(order, mask.rowPtr.length);
      c = { rowPtr: up(rowPtrAndOrder), colIdx: up(mask.colIdx) };
      this.csr.set(mask, c);
      this.csrFree.register(mask, c);
    }
    return c;
  }

  /**
   * q/k/v are read in place when the kernel can address them (head_dim contiguous; 16-byte
   * rows for the tensor-core kernels), else from a contiguous copy. `out` is written into
   * [B, Lq, H, D] storage and returned as its [B, H, Lq, D] view, so merging heads is free.
   */
  attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    const { B, H, Lq, Lk, D, scale, mask, map } = validateAttention(this, q, k, v, opts);
    const outStorage = this.make([B, Lq, H, D], q.dtype);
    const out = outStorage.permute([0, 2, 1, 3]);
    outStorage.dispose();
    const lse = this.make([B, H, Lq], 'f32');
    const mapOut = map ? this.make([B, H, map.nQ, map.nK], 'f32') : undefined;
    const result: AttentionResult = mapOut ? { out, lse, map: mapOut } : { out, lse };
    if (B * H * Lq === 0) return result;
    if (Lk === 0) throw new ShapeError(`attention: k has no keys (Lk = 0), ${fmtShape(k.shape)}`);
    const kernel = selectAttentionKernel(
      { dtype: q.dtype, headDim: D, scale, maskBlock: mask?.blockSize, mapBlock: map?.bs, mapKeyBlocks: map?.nK },
      this.kernels.has('attention_sm90'),
    );
    if (kernel.kind === 'simple' && D > SIMPLE_MAX_HEAD_DIM)
      throw new UnsupportedFeatureError(`attention: head_dim ${D} with dtype ${q.dtype} needs the simple kernel, which handles head_dim <= ${SIMPLE_MAX_HEAD_DIM}`);
    const rows16 = kernel.kind === 'flash';
    this.lastAttention = kernel.kind === 'flash' ? `${kernel.module}:${kernel.name}` : `attention_simple:${kernel.name}`;
    const operand = (t: Tensor): Tensor => (attentionViewUsable(t.shape, t.strides, this.ptr(t), DTYPE_BYTES[t.dtype], rows16) ? t : this.contiguous(t));
    const [qc, kc, vc] = [operand(q), operand(k), operand(v)];
    // element strides of batch, head and token of q, k, v, out: the kernels' last 12 arguments
    const strides: KernelArg[] = [qc, kc, vc, out].flatMap((t) => t.strides.slice(0, 3).map((s) => ({ i64: s })));
    // the sm90 map kernel takes map.within as its CSR and skips the blocks outside it; the other
    // map kernels count every block and a post-pass writes NaN there
    const within = map?.within;
    const withinNative = within !== undefined && kernel.kind === 'flash' && kernel.module === 'attention_sm90';
    const csrMask = mask ?? (withinNative ? within : undefined);
    const csr = csrMask ? this.deviceCsr(csrMask) : undefined;
    const maskArgs: KernelArg[] = csr
      ? [{ ptr: csr.rowPtr.handle }, { ptr: csr.colIdx.handle }, { i32: csrMask!.blockSize }, { i32: csrMask!.nQ }]
      : [NULL_PTR, NULL_PTR, { i32: 128 }, { i32: 0 }];
    const mapGeom: KernelArg[] = [{ i32: map?.bs ?? 128 }, { i32: map?.tq ?? 0 }, { i32: map?.tk ?? 0 }];
    if (kernel.kind === 'flash') {
      this.kernels.launch(kernel.module, kernel.name, { grid: [Math.ceil(Lq / kernel.rowsPerCta), B * H], block: kernel.threads, sharedBytes: kernel.sharedBytes }, [
        this.arg(qc), this.arg(kc), this.arg(vc), this.arg(out), this.arg(lse), { i32: H }, { i32: Lq }, { i32: Lk },
        { f32: scale * Math.LOG2E }, ...maskArgs, mapOut ? this.arg(mapOut) : NULL_PTR, { f32: map ? map.lnTau * Math.LOG2E : 0 }, ...mapGeom, ...strides,
      ]);
    } else {
      const counts = map ? this.make([B, H, map.nQ, map.nK], 'i32') : undefined;
      if (counts) checkCu('cuMemsetD8Async', this.ctx.api.cuMemsetD8Async(this.ptr(counts), 0, counts.size * 4, this.ctx.stream));
      this.kernels.launch('attention_simple', kernel.name, { grid: [Math.ceil((B * H * Lq) / 128)], block: 128 }, [
        this.arg(qc), this.arg(kc), this.arg(vc), this.arg(out), this.arg(lse), { i32: B * H }, { i32: H }, { i32: Lq }, { i32: Lk }, { i32: D },
        { f32: scale }, ...maskArgs, counts ? this.arg(counts) : NULL_PTR, { f32: map?.lnTau ?? 0 }, ...mapGeom, ...strides,
      ]);
      if (counts && mapOut && map) {
        this.kernels.launch('attention_simple', 'map_counts_to_fraction', { grid: [Math.ceil(mapOut.size / THREADS)], block: THREADS }, [
          this.arg(counts), this.arg(mapOut), { i64: mapOut.size }, { i32: map.nQ }, { i32: map.nK }, { i32: map.bs }, { i32: map.tq }, { i32: map.tk },
        ]);
        counts.dispose();
      }
    }
    if (within && mapOut && map && !withinNative) {
      const w = this.deviceCsr(within);
      this.kernels.launch('attention_simple', 'map_outside_nan', { grid: [Math.ceil(mapOut.size / THREADS)], block: THREADS }, [
        this.arg(mapOut), { i64: mapOut.size }, { i32: H }, { i32: map.nQ }, { i32: map.nK }, { ptr: w.rowPtr.handle }, { ptr: w.colIdx.handle }, { i32: within.nQ },
      ]);
    }
    for (const [c, t] of [[qc, q], [kc, k], [vc, v]]) if (c !== t) c.dispose();
    if (mapOut) this.markReady(mapOut);
    return result;
  }

  // ---- lifetime -------------------------------------------------------------------------

  /** Device memory held by live tensors and by the allocator's cache, with their peaks, in bytes. */
  get memoryStats(): MemoryStats {
    return this.alloc.stats;
  }

  /** Restarts the peak memory counters at the current usage. */
  resetPeakMemory(): void {
    this.alloc.resetPeak();
  }

  destroy(): void {
    this.ctx.synchronize();
    this.gemm.destroy();
    for (const t of this.ropeTables.values()) this.alloc.release(t);
    this.ropeTables.clear();
    for (const e of this.readyEvents.values()) this.ctx.destroyEvent(e);
    this.readyEvents.clear();
    this.alloc.release(this.workspace);
    this.alloc.emptyCache();
    this.kernels.destroy();
    this.ctx.destroy();
  }
}

/** Starts the CUDA backend on GPU `ordinal`; throws BackendUnavailableError (with the reason) where it cannot. */
export function createCudaBackend(opts: { ordinal?: number } = {}): CudaBackend {
  const a = cudaAvailability();
  if (!a.available) throw new BackendUnavailableError('cuda', a.reason);
  return new CudaBackend(loadDriver(), opts.ordinal ?? 0);
}

