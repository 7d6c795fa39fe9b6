import {
  type AttentionOptions, type AttentionResult, type Backend, BackendUnavailableError, BlockMask, type DType, DTYPES, DTYPE_BYTES,
  DTypeError, type HostArray, type LayerNormOptions, type MatmulOptions, type PatchOptions,
  type Rope3dOptions, type Shape, ShapeError, Storage, Tensor, UnsupportedFeatureError, allocHost,
  checkEmpty, checkFloat, checkMinRank, checkTensor, checkUpload, contiguousStrides, fmtShape, numel, shapeEquals,
  validateAttention, validateBinary, validateConcat, validateMatmul, validateNorm, validatePatchify, validateRope3d,
  validateTernary, validateUnpatchify,
} from '@mod-dit/tensor';
import { type DeviceBlock, CachingAllocator } from './allocator.js';
import { cudaAvailability } from './availability.js';
import { selectAttentionKernel } from './attention-plan.js';
import { CublasLt, GEMM_WORKSPACE_BYTES } from './cublaslt.js';
import { checkCu } from './cuda-error.js';
import { CudaContext, type DeviceInfo, type DriverApi, loadDriver, readHandle } from './driver.js';
import { batchPlan, ltGemmShape } from './gemm-plan.js';
import { KernelModules } from './kernel-modules.js';
import { type KernelArg, NULL_PTR } from './launch-args.js';
import { broadcastStrides, mergeLayout } from './strided-layout.js';

const THREADS = 256;
const BINARY_OP = { add: 0, sub: 1, mul: 2 } as const;
const TERNARY_OP = { modulate: 0, gatedAdd: 1 } as const;
const UNARY_OP = { gelu: 0, silu: 1 } as const;
const SIMPLE_MAX_HEAD_DIM = 256;

/** Grid for a grid-stride loop over n elements: enough CTAs to fill the GPU, no more. */
function gridFor(n: number, sms: number): number {
  return Math.max(1, Math.min(Math.ceil(n / THREADS), sms * 16));
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
  private readonly alloc: CachingAllocator;
  private readonly gemm: CublasLt;
  private readonly workspace: DeviceBlock;
  private readonly csr = new WeakMap<BlockMask, DeviceCsr>();
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
    });
    this.workspace = this.alloc.allocate(GEMM_WORKSPACE_BYTES);
    this.gemm = new CublasLt(this.ctx, this.workspace.ptr);
  }

  // ---- memory -------------------------------------------------------------------------

  private make(shape: Shape, dtype: DType): Tensor {
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    const block = this.alloc.allocate(bytes);
    return new Tensor(this, new Storage(block, bytes, () => this.alloc.release(block)), dtype, shape);
  }

  /** Device address of element [0, ..., 0] of a view. */
  ptr(t: Tensor): bigint {
    return (t.storage.handle as DeviceBlock).ptr + BigInt(t.offset * DTYPE_BYTES[t.dtype]);
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
      if (out.byteLength > 0) checkCu('cuMemcpyDtoHAsync', this.ctx.api.cuMemcpyDtoHAsync_v2(out, this.ptr(src), out.byteLength, this.ctx.stream));
      this.ctx.synchronize();
      return out;
    } finally {
      src.dispose();
    }
  }

  async sync(): Promise<void> {
    this.ctx.synchronize();
  }

  syncNow(): void {
    this.ctx.synchronize();
  }

  // ---- data movement --------------------------------------------------------------------

  /** Copies the logical elements of `src` into the (possibly strided) view `dst` of equal shape. */
  private copyInto(dst: Tensor, src: Tensor, what: string): void {
    if (src.size === 0) return;
    const lay = mergeLayout(src.shape, [dst.strides, src.strides], what);
    const bytes = DTYPE_BYTES[src.dtype];
    this.kernels.launch('ops', `copy_e${bytes}`, { grid: [gridFor(src.size, this.device.multiprocessors)], block: THREADS }, [
      this.arg(dst), this.arg(src), { i64: src.size }, { i32: lay.shape.length }, { dims: lay.shape }, { dims: lay.strides[0] }, { dims: lay.strides[1] },
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
      this.kernels.launch('ops', `cast_${t.dtype}_${dtype}`, { grid: [gridFor(t.size, this.device.multiprocessors)], block: THREADS }, [
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
    const n = numel(shape);
    if (n === 0) return;
    const lay = mergeLayout(shape, [dstStrides, srcStrides], what);
    this.kernels.launch('ops', `copy_e${DTYPE_BYTES[src.dtype]}`, { grid: [gridFor(n, this.device.multiprocessors)], block: THREADS }, [
      this.arg(dst), this.arg(src), { i64: n }, { i32: lay.shape.length }, { dims: lay.shape }, { dims: lay.strides[0] }, { dims: lay.strides[1] },
    ]);
  }

  // ---- GEMM -----------------------------------------------------------------------------

  matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
    const { m: M, k: K, n: N, transposeB: tb } = validateMatmul(this, a, b, opts);
    const plan = batchPlan(a.shape.slice(0, -2), b.shape.slice(0, -2), M, N, K);
    const out = this.make([...plan.batchShape, M, N], a.dtype);
    if (out.size === 0) return out;
    // bias in the output dtype: cuBLASLt's bias epilogue reads the D type
    const bias = opts.bias === undefined ? undefined : opts.bias.dtype === a.dtype ? this.contiguous(opts.bias) : this.cast(opts.bias, a.dtype);
    if (K === 0) {
      checkCu('cuMemsetD8Async', this.ctx.api.cuMemsetD8Async(this.ptr(out), 0, out.size * DTYPE_BYTES[a.dtype], this.ctx.stream));
      if (bias) {
        const withBias = this.add(out, bias);
        bias.dispose();
        out.dispose();
        return withBias;
      }
      return out;
    }
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
      });
    ac.dispose();
    bc.dispose();
    bias?.dispose();
    return out;
  }

  // ---- pointwise ------------------------------------------------------------------------

  /** `t` in a dtype the mixed kernels accept next to `like`: its own dtype if equal, else f32 (exact widening). */
  private operand(t: Tensor, like: DType): Tensor {
    return t.dtype === like || t.dtype === 'f32' ? new Tensor(this, t.storage, t.dtype, t.shape, t.strides, t.offset) : this.cast(t, 'f32');
  }

  private binary(op: keyof typeof BINARY_OP, a: Tensor, b: Tensor): Tensor {
    const shape = validateBinary(this, op, a, b);
    const out = this.make(shape, a.dtype);
    if (out.size === 0) return out;
    const bo = this.operand(b, a.dtype);
    const lay = mergeLayout(shape, [contiguousStrides(shape), broadcastStrides(a.shape, a.strides, shape), broadcastStrides(bo.shape, bo.strides, shape)], op);
    this.kernels.launch('ops', `binary_${a.dtype}_${bo.dtype}`, { grid: [gridFor(out.size, this.device.multiprocessors)], block: THREADS }, [
      this.arg(out), this.arg(a), this.arg(bo), { i64: out.size }, { i32: BINARY_OP[op] }, { i32: lay.shape.length },
      { dims: lay.shape }, { dims: lay.strides[1] }, { dims: lay.strides[2] },
    ]);
    bo.dispose();
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
    if (out.size === 0) return out;
    // both side operands share one kernel dtype: x's if both already have it, else f32
    const side: DType = y.dtype === x.dtype && z.dtype === x.dtype ? x.dtype : 'f32';
    const yo = this.operand(y, side);
    const zo = this.operand(z, side);
    const shape = x.shape;
    const lay = mergeLayout(shape, [contiguousStrides(shape), x.strides, broadcastStrides(yo.shape, yo.strides, shape), broadcastStrides(zo.shape, zo.strides, shape)], op);
    this.kernels.launch('ops', `ternary_${x.dtype}_${side}`, { grid: [gridFor(out.size, this.device.multiprocessors)], block: THREADS }, [
      this.arg(out), this.arg(x), this.arg(yo), this.arg(zo), { i64: out.size }, { i32: TERNARY_OP[op] }, { i32: lay.shape.length },
      { dims: lay.shape }, { dims: lay.strides[1] }, { dims: lay.strides[2] }, { dims: lay.strides[3] },
    ]);
    yo.dispose();
    zo.dispose();
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
    if (x.size > 0)
      this.kernels.launch('ops', `unary_${x.dtype}`, { grid: [gridFor(x.size, this.device.multiprocessors)], block: THREADS }, [
        this.arg(out), this.arg(src), { i64: x.size }, { i32: UNARY_OP[op] },
      ]);
    src.dispose();
    return out;
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

  /** Launches a one-CTA-per-row kernel over the last dim of x. */
  private rows(kernel: string, x: Tensor, extra: (out: Tensor) => KernelArg[]): Tensor {
    const src = this.contiguous(x);
    const out = this.make(x.shape, x.dtype);
    const C = x.shape[x.rank - 1];
    const rows = C === 0 ? 0 : x.size / C;
    if (rows > 0) this.kernels.launch('ops', kernel, { grid: [rows], block: THREADS }, [this.arg(out), this.arg(src), ...extra(out)]);
    src.dispose();
    return out;
  }

  layerNorm(x: Tensor, opts: LayerNormOptions): Tensor {
    const C = validateNorm(this, 'layerNorm', x, opts?.eps, { weight: opts?.weight, bias: opts?.bias });
    const eps = opts.eps;
    const w = opts.weight === undefined ? undefined : this.param('layerNorm', 'weight', opts.weight, C);
    const b = opts.bias === undefined ? undefined : this.param('layerNorm', 'bias', opts.bias, C);
    const out = this.rows(`layernorm_${x.dtype}`, x, () => [w ? this.arg(w) : NULL_PTR, b ? this.arg(b) : NULL_PTR, { i32: C }, { f32: eps }]);
    w?.dispose();
    b?.dispose();
    return out;
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const C = validateNorm(this, 'rmsNorm', x, eps, { weight });
    const w = this.param('rmsNorm', 'weight', weight, C);
    const out = this.rows(`rmsnorm_${x.dtype}`, x, () => [this.arg(w), { i32: C }, { f32: eps }]);
    w.dispose();
    return out;
  }

  softmax(x: Tensor): Tensor {
    checkFloat(this, 'softmax', 'x', x);
    checkMinRank('softmax', 'x', x, 1);
    return this.rows(`softmax_${x.dtype}`, x, () => [{ i32: x.shape[x.rank - 1] }]);
  }

  rope3d(x: Tensor, opts: Rope3dOptions): Tensor {
    validateRope3d(this, x, opts);
    const [B, L, H, D] = x.shape;
    const { grid, split, theta } = opts;
    const src = this.contiguous(x);
    const out = this.make(x.shape, x.dtype);
    const pairs = (B * L * H * D) / 2;
    if (pairs > 0)
      this.kernels.launch('ops', `rope3d_${x.dtype}`, { grid: [gridFor(pairs, this.device.multiprocessors)], block: THREADS }, [
        this.arg(out), this.arg(src), { i64: pairs }, { i32: L }, { i32: H }, { i32: D },
        { i32: grid[0] }, { i32: grid[1] }, { i32: grid[2] }, { i32: split[0] }, { i32: split[1] }, { i32: split[2] }, { f64: theta },
      ]);
    src.dispose();
    return out;
  }

  // ---- attention ------------------------------------------------------------------------

  private deviceCsr(mask: BlockMask): DeviceCsr {
    let c = this.csr.get(mask);
    if (!c) {
      const up = (a: Int32Array): DeviceBlock => {
        const block = this.alloc.allocate(Math.max(4, a.byteLength));
        if (a.byteLength > 0) checkCu('cuMemcpyHtoDAsync(csr)', this.ctx.api.cuMemcpyHtoDAsync_v2(block.ptr, a, a.byteLength, this.ctx.stream));
        return block;
      };
      c = { rowPtr: up(mask.rowPtr), colIdx: up(mask.colIdx) };
      this.csr.set(mask, c);
      this.csrFree.register(mask, c);
    }
    return c;
  }

  attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    const { B, H, Lq, Lk, D, scale, mask, map } = validateAttention(this, q, k, v, opts);
    const out = this.make(q.shape, q.dtype);
    const lse = this.make([B, H, Lq], 'f32');
    const mapOut = map ? this.make([B, H, map.nQ, map.nK], 'f32') : undefined;
    const result: AttentionResult = mapOut ? { out, lse, map: mapOut } : { out, lse };
    if (B * H * Lq === 0) return result;
    if (Lk === 0) throw new ShapeError(`attention: k has no keys (Lk = 0), ${fmtShape(k.shape)}`);
    const kernel = selectAttentionKernel({ dtype: q.dtype, headDim: D, scale, maskBlock: mask?.blockSize, mapBlock: map?.bs });
    if (kernel.kind === 'simple' && D > SIMPLE_MAX_HEAD_DIM)
      throw new UnsupportedFeatureError(`attention: head_dim ${D} with dtype ${q.dtype} needs the simple kernel, which handles head_dim <= ${SIMPLE_MAX_HEAD_DIM}`);
    const [qc, kc, vc] = [this.contiguous(q), this.contiguous(k), this.contiguous(v)];
    const csr = mask ? this.deviceCsr(mask) : undefined;
    const maskArgs: KernelArg[] = csr
      ? [{ ptr: csr.rowPtr.ptr }, { ptr: csr.colIdx.ptr }, { i32: mask!.blockSize }, { i32: mask!.nQ }]
      : [NULL_PTR, NULL_PTR, { i32: 128 }, { i32: 0 }];
    const mapGeom: KernelArg[] = [{ i32: map?.bs ?? 128 }, { i32: map?.tq ?? 0 }, { i32: map?.tk ?? 0 }];
    if (kernel.kind === 'flash') {
      this.kernels.launch('attention', kernel.name, { grid: [Math.ceil(Lq / kernel.rowsPerCta), B * H], block: kernel.threads, sharedBytes: kernel.sharedBytes }, [
        this.arg(qc), this.arg(kc), this.arg(vc), this.arg(out), this.arg(lse), { i32: H }, { i32: Lq }, { i32: Lk },
        { f32: scale * Math.LOG2E }, ...maskArgs, mapOut ? this.arg(mapOut) : NULL_PTR, { f32: map ? map.lnTau * Math.LOG2E : 0 }, ...mapGeom,
      ]);
    } else {
      const counts = map ? this.make([B, H, map.nQ, map.nK], 'i32') : undefined;
      if (counts) checkCu('cuMemsetD8Async', this.ctx.api.cuMemsetD8Async(this.ptr(counts), 0, counts.size * 4, this.ctx.stream));
      this.kernels.launch('attention_simple', kernel.name, { grid: [Math.ceil((B * H * Lq) / 128)], block: 128 }, [
        this.arg(qc), this.arg(kc), this.arg(vc), this.arg(out), this.arg(lse), { i32: B * H }, { i32: H }, { i32: Lq }, { i32: Lk }, { i32: D },
        { f32: scale }, ...maskArgs, counts ? this.arg(counts) : NULL_PTR, { f32: map?.lnTau ?? 0 }, ...mapGeom,
      ]);
      if (counts && mapOut && map) {
        this.kernels.launch('attention_simple', 'map_counts_to_fraction', { grid: [Math.ceil(mapOut.size / THREADS)], block: THREADS }, [
          this.arg(counts), this.arg(mapOut), { i64: mapOut.size }, { i32: map.nQ }, { i32: map.nK }, { i32: map.bs }, { i32: map.tq }, { i32: map.tk },
        ]);
        counts.dispose();
      }
    }
    qc.dispose();
    kc.dispose();
    vc.dispose();
    return result;
  }

  // ---- lifetime -------------------------------------------------------------------------

  /** Device memory held by live tensors and by the allocator's cache, with their peaks, in bytes. */
  get memoryStats(): { liveBytes: number; cachedBytes: number; peakLiveBytes: number; peakReservedBytes: number } {
    return this.alloc.stats;
  }

  /** Restarts the peak memory counters at the current usage. */
  resetPeakMemory(): void {
    this.alloc.resetPeak();
  }

  destroy(): void {
    this.ctx.synchronize();
    this.gemm.destroy();
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

