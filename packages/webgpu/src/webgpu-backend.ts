import {
  type AttentionOptions,
  type AttentionResult,
  type Backend,
  CachingAllocator,
  type MemoryStats,
  ModDitError,
  type DType,
  DTYPE_BYTES,
  type HostArray,
  type LayerNormOptions,
  type MatmulActivation,
  type MatmulOptions,
  type PatchOptions,
  type ResidualLayerNormOptions,
  type ResidualLayerNormResult,
  type Rope3dOptions,
  type Shape,
  ShapeError,
  Storage,
  Tensor,
  UnsupportedFeatureError,
  allocHost,
  checkFloat,
  checkMinRank,
  checkEmpty,
  checkTensor,
  checkUpload,
  fmtShape,
  numel,
  validateAttention,
  validateBinary,
  validateCast,
  validateConcat,
  normThenRope,
  residualThenLayerNorm,
  validateMatmul,
  scope,
  validateLayerNorm,
  validateNorm,
  validatePatchify,
  validateRope3d,
  validateTernary,
  validateUnpatchify,
} from '@mod-dit/tensor';
import { type Chunk, type OperandAccess, planChunks } from './binding-plan.js';
import type { DeviceCaps } from './device.js';
import { GpuQueue } from './gpu-queue.js';
import { KernelCache, type KernelSpec } from './kernel-cache.js';
import { ATTN_ROWS, flashAttentionSpec } from './kernels/attention-flash.js';
import { type SgAttentionConfig, SG_ATTENTION_DEFAULT, SG_ATTENTION_SMALL, sgAttentionRows, sgAttentionScratchPerGroup, sgAttentionSpec, sgAttentionWorkgroupBytes } from './kernels/attention-sgmat.js';
import { TILE, matmulTiledSpec } from './kernels/matmul-tiled.js';
import { type SgMatmulConfig, SG_MATMUL_DEFAULT, SG_MATMUL_SMALL, matmulSubgroupMatrixSpec, sgMatmulTile, sgMatmulWorkgroupBytes } from './kernels/matmul-sgmat.js';
import { ROPE_WORKGROUP, rope3dSpec, ropeTable } from './kernels/rope3d.js';
import { type RowOp, rowReduceSpec } from './kernels/row-reduce.js';
import { MAP_WORKGROUP, MAX_RANK, type MapOp, stridedMapSpec } from './kernels/strided-map.js';
import { sparsityMapSpec } from './kernels/sparsity-map.js';
import { sgMapBlockSize, sgMapSpec } from './kernels/map-sgmat.js';
import { UniformParams } from './uniform-params.js';

const USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const ceil4 = (n: number): number => Math.max(4, Math.ceil(n / 4) * 4);

interface RopeTable {
  buffer: GPUBuffer;
  axisBase: [number, number, number];
}

/** One bound operand of a dispatch: its buffer and how the kernel addresses it. */
interface Operand {
  buffer: GPUBuffer;
  access: OperandAccess;
}

/** Default most bytes of freed tensor buffers a WebGPU backend keeps for reuse (4 GiB). */
export const DEFAULT_CACHE_BYTES = 4 * 2 ** 30;

/** Kernel paths this backend takes; tests and benchmarks switch them to compare. */
export interface KernelPaths {
  /** f16 GEMM and attention through subgroup matrices (tensor cores). Only honoured where caps.subgroupMatrix16 (or with emulateFragments). Default on. */
  subgroupMatrix: boolean;
  /** Tiling of the subgroup-matrix GEMM; default SG_MATMUL_DEFAULT; where the device's limits are too small for it, the first fitting one of SG_MATMUL_SMALL. */
  sgMatmul?: SgMatmulConfig;
  /** Tiling of the subgroup-matrix attention; default SG_ATTENTION_DEFAULT; for a mask whose block size its query rows do not divide, the first fitting one of SG_ATTENTION_SMALL. */
  sgAttention?: SgAttentionConfig;
  /**
   * Block-sparse attention through the subgroup-matrix kernel too (default on; where it does
   * not apply, the portable kernel runs). tools/bench/webgpu-sgmat-check.mjs checks it on the device.
   */
  sgAttentionSparse?: boolean;
  /**
   * The sparsity map's second pass on subgroup matrices too where the attention runs on them
   * (kernels/map-sgmat.ts: f16, block size 64 or 128; else the portable pass). Default on:
   * 3x faster than the portable pass on the H100; tools/bench/webgpu-sgmat-check.mjs checks it
   * on the device.
   */
  sgMap?: boolean;
  /**
   * Where the device lacks subgroup matrices, run the subgroup-matrix kernels (GEMM and
   * attention) with their fragment operations emulated (kernels/fragments.ts; needs
   * shader-f16 and subgroups). Slow; it tests those kernels' logic on lavapipe. Default off.
   */
  emulateFragments?: boolean;
}

/**
 * The WebGPU Backend: every op of the contract as WGSL compute kernels over GPUBuffers.
 * f16/bf16 are carried as u16 halves of u32 words (no shader-f16 needed except for the
 * subgroup-matrix GEMM). Operands larger than one storage binding are processed in
 * chunks, each bound on the byte window it touches (binding-plan.ts).
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly floatDTypes: readonly DType[] = ['f32', 'f16', 'bf16'];
  readonly kernels: KernelCache;
  private readonly queue: GpuQueue;
  private readonly ropeTables = new Map<string, RopeTable>();
  private live = 0;
  /**
   * Tensor buffers, freed ones cached by size class for reuse: no createBuffer and no lazy
   * clear per op output. Without it, the first GEMMs timed on each new shape (fresh output
   * buffers every call) came out up to 4x slow on the H100 (docs/benchmarks.md).
   */
  private readonly memory: CachingAllocator<GPUBuffer>;
  /** Storage scratch for P of the subgroup-matrix attention (config p: 'storage'), grown on demand. */
  private pScratch: GPUBuffer | undefined;
  /** Kernel paths in use (mutable, for benchmarks); fast ones apply only where the device supports them. */
  readonly paths: KernelPaths;

  /** Whether f16 GEMMs and attention take the subgroup-matrix kernels now (native, or emulated where paths.emulateFragments). */
  get subgroupMatrixActive(): boolean {
    const canEmulate = this.caps.features.has('shader-f16') && this.caps.features.has('subgroups');
    return this.paths.subgroupMatrix && (this.caps.subgroupMatrix16 || (this.paths.emulateFragments === true && canEmulate));
  }

  /** How the subgroup-matrix kernels get their fragments here. */
  private get fragmentMode(): 'native' | 'emulated' {
    return this.caps.subgroupMatrix16 ? 'native' : 'emulated';
  }

  constructor(
    readonly device: GPUDevice,
    readonly caps: DeviceCaps,
    /** Keeps the native GPU instance (Node) alive as long as the backend. */
    private readonly owner?: unknown,
    paths: Partial<KernelPaths> = {},
    /** Most bytes of freed tensor buffers kept for reuse. */
    cacheBytes = DEFAULT_CACHE_BYTES,
  ) {
    this.kernels = new KernelCache(device);
    if (!(cacheBytes >= 0)) throw new ModDitError('E_ARGUMENT', `webgpu: cacheBytes must be a number >= 0, got ${cacheBytes}`);
    // createBuffer reports out-of-memory as a device error at the next drain, not by throwing:
    // the cache is dropped then (a failed buffer may be in it) and kept under cacheBytes
    this.queue = new GpuQueue(device, this.kernels, () => this.memory.emptyCache());
    // size classes may round past maxBufferSize: a class's buffer is then the limit, which
    // still holds every tensor of that class (none is over the limit)
    this.memory = new CachingAllocator<GPUBuffer>(
      { alloc: (size) => device.createBuffer({ size: Math.min(size, caps.maxBufferSize), usage: USAGE() }), free: (b) => b.destroy() },
      { maxCachedBytes: cacheBytes },
    );
    this.paths = { ...paths, subgroupMatrix: paths.subgroupMatrix ?? true };
  }

  /** GPU buffers allocated for tensors and not yet freed. */
  get liveStorages(): number {
    return this.live;
  }

  // ---- memory ---------------------------------------------------------------------------

  private alloc(shape: Shape, dtype: DType): Tensor {
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    if (bytes > this.caps.maxBufferSize)
      throw new UnsupportedFeatureError(`webgpu: a ${dtype} tensor ${fmtShape(shape)} needs ${bytes} bytes, over this device's maxBufferSize ${this.caps.maxBufferSize}`);
    const block = this.memory.allocate(bytes);
    this.live++;
    const storage = new Storage(block.handle, bytes, () => {
      // recorded work may still reference it: submitted first, so that whatever reuses the
      // buffer (a dispatch, or a queue.writeBuffer of an upload) is ordered after it
      this.queue.flush();
      this.memory.release(block);
      this.live--;
    });
    return new Tensor(this, storage, dtype, shape);
  }

  /** Bytes in live tensors' buffers and in the cache of freed ones, with their peaks (as the CUDA backend's). */
  get memoryStats(): MemoryStats {
    return this.memory.stats;
  }

  /** Restarts the peak memory counters at the current usage. */
  resetPeakMemory(): void {
    this.memory.resetPeak();
  }

  /** Destroys the cached buffers of freed tensors (live ones stay). */
  emptyCache(): void {
    this.queue.flush();
    this.memory.emptyCache();
  }

  private static buffer(t: Tensor): GPUBuffer {
    return t.storage.handle as GPUBuffer;
  }

  upload(data: HostArray, shape: Shape, dtype: DType): Tensor {
    checkUpload(data, shape, dtype);
    const t = this.alloc(shape, dtype);
    const buf = WebGPUBackend.buffer(t);
    this.device.queue.writeBuffer(buf, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength & ~3);
    const tail = data.byteLength & 3;
    if (tail) {
      const last = new Uint8Array(4);
      last.set(new Uint8Array(data.buffer, data.byteOffset + (data.byteLength & ~3), tail));
      this.device.queue.writeBuffer(buf, data.byteLength & ~3, last);
    }
    return t;
  }

  empty(shape: Shape, dtype: DType): Tensor {
    checkEmpty(shape, dtype);
    return this.alloc(shape, dtype);
  }

  async read(t: Tensor): Promise<HostArray> {
    checkTensor(this, 'read', 't', t);
    const es = DTYPE_BYTES[t.dtype];
    const direct = t.isContiguous && (t.offset * es) % 4 === 0;
    const src = direct ? t : this.copyOf(t);
    const bytes = t.size * es;
    const staging = this.device.createBuffer({ size: ceil4(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.queue.copy(WebGPUBackend.buffer(src), src.offset * es, staging, 0, ceil4(bytes));
    if (!direct) src.dispose();
    try {
      await this.queue.drain();
      await staging.mapAsync(GPUMapMode.READ);
      const out = allocHost(t.dtype, t.size);
      new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(), 0, bytes));
      return out;
    } finally {
      staging.destroy();
    }
  }

  async sync(): Promise<void> {
    await this.queue.drain();
  }

  /** Whether {@link timeGpu} works here (the device has 'timestamp-query'). */
  get canTimeGpu(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * GPU milliseconds of each of `iters` calls of `fn` (which records backend ops and disposes
   * their results), after one untimed warm-up call: from the start of a call's first compute
   * pass to the end of its last, by timestamp queries, so host overhead and queue gaps
   * between calls do not count. `passesPerCall` bounds the dispatches one call records.
   * Throws UnsupportedFeatureError where {@link canTimeGpu} is false.
   */
  async timeGpu(fn: () => void, iters: number, passesPerCall = 16): Promise<number[]> {
    fn();
    await this.sync();
    this.queue.startTiming(iters * passesPerCall);
    const recorded = (() => {
      try {
        for (let i = 0; i < iters; i++) {
          this.queue.mark();
          fn();
        }
        return undefined;
      } catch (e) {
        return e; // timing must still be stopped
      }
    })();
    const times = await this.queue.stopTiming();
    if (recorded !== undefined) throw recorded;
    return times;
  }

  // ---- dispatch -------------------------------------------------------------------------

  private operand(t: Tensor, strides: readonly number[], extent: number, offset = t.offset): Operand {
    return {
      buffer: WebGPUBackend.buffer(t),
      access: { offset, strides, extent, elemBytes: DTYPE_BYTES[t.dtype], bufferBytes: ceil4(t.storage.byteLength) },
    };
  }

  private static rawOperand(buffer: GPUBuffer, elems: number, rank: number): Operand {
    return { buffer, access: { offset: 0, strides: new Array(rank).fill(0), extent: elems, elemBytes: 4, bufferBytes: buffer.size } };
  }

  /**
   * Dispatches `spec` over the iteration space `shape` in as few chunks as the binding
   * limit allows. `params` gets each operand's element offset relative to its window.
   */
  private run(
    spec: KernelSpec,
    shape: readonly number[],
    ops: readonly Operand[],
    params: (chunk: Chunk, rel: number[]) => ArrayBuffer,
    groups: (chunk: Chunk) => [number, number?, number?],
    granule = 1,
  ): void {
    const chunks = planChunks(shape, ops.map((o) => o.access), { maxBindingBytes: this.caps.maxBindingBytes, offsetAlign: this.caps.offsetAlign }, granule);
    for (const chunk of chunks) {
      const rel = ops.map((o, i) => o.access.offset - chunk.windows[i].firstElement);
      const bindings = ops.map((o, i) => ({ buffer: o.buffer, offset: chunk.windows[i].byteOffset, size: chunk.windows[i].byteSize }));
      this.queue.dispatch(spec, bindings, params(chunk, rel), groups(chunk));
    }
  }

  /** Strides of `t` read through the broadcast shape `to` (0 on stretched or missing axes). */
  private static broadcastStrides(t: Tensor, to: Shape): number[] {
    return to.map((d, i) => {
      const a = i - (to.length - t.rank);
      return a < 0 || t.shape[a] !== d ? 0 : t.strides[a];
    });
  }

  /** Elementwise kernel writing `out` (any view) from `inputs` broadcast to out's shape. */
  private map(op: MapOp, out: Tensor, inputs: readonly Tensor[]): void {
    if (out.size === 0) return;
    if (out.rank > MAX_RANK) throw new ShapeError(`webgpu: tensors of rank ${out.rank} exceed the ${MAX_RANK} axes its kernels address (${fmtShape(out.shape)})`);
    const shape = out.shape;
    const ops = [out, ...inputs].map((t) => this.operand(t, WebGPUBackend.broadcastStrides(t, shape), 1));
    const spec = stridedMapSpec(op, out.dtype, inputs.map((t) => t.dtype));
    this.run(
      spec,
      shape,
      ops,
      (c, rel) => {
        const v: number[] = [c.count, c.start, shape.length, 0, ...padTo(shape, 8)];
        ops.forEach((o, i) => v.push(rel[i] >>> 0, 0, 0, 0, ...padTo(o.access.strides, 8)));
        return new UniformParams().vec4Array(v, v.length / 4).build();
      },
      (c) => [Math.ceil(c.count / MAP_WORKGROUP)],
    );
  }

  /** `t` if contiguous (any offset), else a contiguous copy the caller disposes. */
  private dense(t: Tensor): Tensor {
    return t.isContiguous ? t : this.copyOf(t);
  }

  /** A contiguous copy of `t` with its last two axes swapped. */
  private copyOf(t: Tensor): Tensor {
    const out = this.alloc(t.shape, t.dtype);
    this.map('copy', out, [t]);
    return out;
  }

  /** Runs fn on contiguous versions of `ts`, disposing the copies it made. */
  private withDense<R>(ts: readonly (Tensor | undefined)[], fn: (...d: Tensor[]) => R): R {
    const dense = ts.map((t) => (t === undefined ? undefined : this.dense(t)));
    try {
      return fn(...(dense as Tensor[]));
    } finally {
      dense.forEach((d, i) => {
        if (d !== undefined && d !== ts[i]) d.dispose();
      });
    }
  }

  // ---- copies ---------------------------------------------------------------------------

  contiguous(t: Tensor): Tensor {
    checkTensor(this, 'contiguous', 't', t);
    const whole = t.isContiguous && t.offset === 0 && t.size * DTYPE_BYTES[t.dtype] === t.storage.byteLength;
    return whole ? new Tensor(this, t.storage, t.dtype, t.shape) : this.copyOf(t);
  }

  cast(t: Tensor, dtype: DType): Tensor {
    validateCast(this, t, dtype);
    const out = this.alloc(t.shape, dtype);
    this.map(dtype === t.dtype ? 'copy' : 'cast', out, [t]);
    return out;
  }

  concat(ts: readonly Tensor[], axis: number): Tensor {
    const { axis: ax, shape } = validateConcat(this, ts, axis);
    const out = this.alloc(shape, ts[0].dtype);
    let at = 0;
    for (const t of ts) {
      const part = out.slice(ax, at, at + t.shape[ax]);
      this.map('copy', part, [t]);
      part.dispose();
      at += t.shape[ax];
    }
    return out;
  }

  patchify(x: Tensor, opts: PatchOptions): Tensor {
    const { B, C, grid, patch, channelsFirst } = validatePatchify(this, x, opts);
    const [gt, gh, gw] = grid;
    const [pt, ph, pw] = patch;
    const out = this.alloc([B, gt * gh * gw, C * pt * ph * pw], x.dtype);
    this.permuteInto(out, x, [B, C, gt, pt, gh, ph, gw, pw], channelsFirst ? [0, 2, 4, 6, 1, 3, 5, 7] : [0, 2, 4, 6, 3, 5, 7, 1]);
    return out;
  }

  unpatchify(x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): Tensor {
    const { B, C, patch, channelsFirst: first } = validateUnpatchify(this, x, grid, opts);
    const [gt, gh, gw] = grid;
    const [pt, ph, pw] = patch;
    const out = this.alloc([B, C, gt * pt, gh * ph, gw * pw], x.dtype);
    this.permuteInto(out, x, first ? [B, gt, gh, gw, C, pt, ph, pw] : [B, gt, gh, gw, pt, ph, pw, C], first ? [0, 4, 1, 5, 2, 6, 3, 7] : [0, 7, 1, 4, 2, 5, 3, 6]);
    return out;
  }

  /** Writes x, viewed as `shape` and permuted by `perm`, into out (same element count): the patchify moves. */
  private permuteInto(out: Tensor, x: Tensor, shape: readonly number[], perm: readonly number[]): void {
    this.withDense([x], (xd) => {
      const xs = xd.reshape(shape);
      const src = xs.permute(perm);
      const dst = out.reshape(src.shape);
      this.map('copy', dst, [src]);
      for (const v of [xs, src, dst]) v.dispose();
    });
  }

  // ---- elementwise ----------------------------------------------------------------------

  private binary(op: 'add' | 'sub' | 'mul', a: Tensor, b: Tensor): Tensor {
    const out = this.alloc(validateBinary(this, op, a, b), a.dtype);
    this.map(op, out, [a, b]);
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

  private ternary(op: 'modulate' | 'gatedAdd', names: readonly [string, string, string], x: Tensor, y: Tensor, z: Tensor): Tensor {
    validateTernary(this, op, names, x, y, z);
    const out = this.alloc(x.shape, x.dtype);
    this.map(op, out, [x, y, z]);
    return out;
  }

  modulate(x: Tensor, scale: Tensor, shift: Tensor): Tensor {
    return this.ternary('modulate', ['x', 'scale', 'shift'], x, scale, shift);
  }

  gatedAdd(x: Tensor, y: Tensor, gate: Tensor): Tensor {
    return this.ternary('gatedAdd', ['x', 'y', 'gate'], x, y, gate);
  }

  private unary(op: 'gelu' | 'silu', x: Tensor): Tensor {
    checkFloat(this, op, 'x', x);
    const out = this.alloc(x.shape, x.dtype);
    this.map(op, out, [x]);
    return out;
  }

  gelu(x: Tensor): Tensor {
    return this.unary('gelu', x);
  }

  silu(x: Tensor): Tensor {
    return this.unary('silu', x);
  }

  // ---- row reductions -------------------------------------------------------------------

  /** Row kernel over the last dim of `x` (inputs already validated). */
  private rows(op: RowOp, x: Tensor, eps: number, weight?: Tensor, bias?: Tensor): Tensor {
    const C = x.shape[x.rank - 1];
    const out = this.alloc(x.shape, x.dtype);
    if (out.size === 0) return out;
    const rows = x.size / C;
    this.withDense([x, weight, bias], (xd, w, b) => {
      const ops = [this.operand(xd, [C], C), ...(w ? [this.operand(w, [0], C)] : []), ...(b ? [this.operand(b, [0], C)] : []), this.operand(out, [C], C)];
      const spec = rowReduceSpec({ op, dtype: x.dtype, weight: w?.dtype, bias: b?.dtype });
      this.run(
        spec,
        [rows],
        ops,
        (c, rel) => new UniformParams().u32(c.count, c.start, C).f32(eps).u32(rel[0], rel[ops.length - 1], w ? rel[1] : 0, b ? rel[w ? 2 : 1] : 0).build(),
        (c) => [c.count],
      );
    });
    return out;
  }

  layerNorm(x: Tensor, opts: LayerNormOptions): Tensor {
    const { dtype, modulation } = validateLayerNorm(this, x, opts);
    if (!modulation && dtype === x.dtype) return this.rows('layerNorm', x, opts.eps, opts.weight, opts.bias);
    // composed from the row kernel, modulate and cast, in f32 so that the result rounds once into dtype
    return scope(() => {
      const x32 = x.dtype === 'f32' ? x : this.cast(x, 'f32');
      const normed = this.rows('layerNorm', x32, opts.eps, opts.weight, opts.bias);
      const y = modulation ? this.modulate(normed, modulation.scale, modulation.shift) : normed;
      return dtype === 'f32' ? y : this.cast(y, dtype);
    });
  }

  residualLayerNorm(x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): ResidualLayerNormResult {
    return residualThenLayerNorm(this, x, y, opts);
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    if (weight === undefined) throw new ShapeError('rmsNorm: weight [C] is required');
    validateNorm(this, 'rmsNorm', x, eps, { weight });
    return this.rows('rmsNorm', x, eps, weight);
  }

  softmax(x: Tensor): Tensor {
    checkFloat(this, 'softmax', 'x', x);
    checkMinRank('softmax', 'x', x, 1);
    return this.rows('softmax', x, 0);
  }

  rope3d(x: Tensor, opts: Rope3dOptions): Tensor {
    const { freq } = validateRope3d(this, x, opts);
    if (opts.norm) return normThenRope(this, x, opts);
    const [, L, H, D] = x.shape;
    const { grid, split } = opts;
    const video = grid[0] * grid[1] * grid[2];
    const out = this.alloc(x.shape, x.dtype);
    if (out.size === 0) return out;
    const { buffer: tab, axisBase } = this.ropeTable(opts, freq);
    this.withDense([x], (xd) => {
      const ops = [this.operand(xd, [2], 2), WebGPUBackend.rawOperand(tab, tab.size / 4, 1), this.operand(out, [2], 2)];
      const [h0, h1] = [split[0] / 2, split[1] / 2];
      this.run(
        rope3dSpec(x.dtype),
        [x.size / 2],
        ops,
        (c, rel) =>
          new UniformParams()
            .u32(c.count, c.start, L, H, D / 2, video, grid[1], grid[2], h0, h1, ...axisBase, h0, h0 + h1, rel[0], rel[2], rel[1])
            .build(),
        (c) => [Math.ceil(c.count / ROPE_WORKGROUP)],
      );
    });
    return out;
  }

  /** The cos/sin table of a RoPE geometry, uploaded once per (grid, split, theta). */
  private ropeTable(opts: Rope3dOptions, freq: Float64Array): RopeTable {
    const key = JSON.stringify([opts.grid, opts.split, opts.theta]);
    let entry = this.ropeTables.get(key);
    if (!entry) {
      const { table, axisBase } = ropeTable(opts.grid, opts.split, freq);
      const buffer = this.device.createBuffer({ size: ceil4(table.byteLength), usage: USAGE() });
      this.device.queue.writeBuffer(buffer, 0, table.buffer as ArrayBuffer, table.byteOffset, table.byteLength);
      entry = { buffer, axisBase };
      this.ropeTables.set(key, entry);
    }
    return entry;
  }


  // ---- matmul ---------------------------------------------------------------------------

  matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
    const { batch, m: M, k: K, n: N, transposeB: tb } = validateMatmul(this, a, b, opts);
    if (batch.length > 4) throw new ShapeError(`matmul: at most 4 batch axes are supported, got ${fmtShape(batch)}`);
    const out = this.alloc([...batch, M, N], a.dtype);
    if (out.size === 0) return out;
    const sg = this.subgroupMatrixActive && a.dtype === 'f16' && K % 16 === 0 && N % 2 === 0 && M >= 16 && N >= 16;
    this.withDense([a, b, opts.bias], (ad, bd, bias) => this.matmulInto(out, ad, bd, tb, bias, opts.activation, sg, batch, [M, K, N]));
    return out;
  }

  /**
   * The subgroup-matrix GEMM tiling for these contiguous operands, or undefined for the tiled
   * kernel: offsets keeping 16-byte aligned loads, N % 8 = 0 for [K, N] weights (16-byte rows);
   * the configured tiling, else the first of SG_MATMUL_SMALL, whose workgroup memory and
   * invocations are within the device's limits.
   */
  private sgMatmulConfig(a: Tensor, b: Tensor, tb: boolean, N: number): SgMatmulConfig | undefined {
    if (a.offset % 8 !== 0 || b.offset % 8 !== 0 || (!tb && N % 8 !== 0)) return undefined;
    const fits = (c: SgMatmulConfig) => sgMatmulWorkgroupBytes(c, tb) <= this.caps.maxWorkgroupStorage && 32 * c.grid[0] * c.grid[1] <= this.caps.maxInvocations;
    return [this.paths.sgMatmul ?? SG_MATMUL_DEFAULT, ...SG_MATMUL_SMALL].find(fits);
  }

  /** Records the GEMM of contiguous operands into `out`. */
  private matmulInto(out: Tensor, ad: Tensor, bd: Tensor, tb: boolean, bias: Tensor | undefined, activation: MatmulActivation | undefined, sg: boolean, batch: number[], [M, K, N]: number[]): void {
    const Z = numel(batch);
    const config = sg ? this.sgMatmulConfig(ad, bd, tb, N) : undefined;
    const [tileM, tileN] = config ? sgMatmulTile(config) : [TILE, TILE];
    const rowTiles = Math.ceil(M / tileM);
    const dims = padLeft(batch, 4, 1);
    const aStr = padLeft(matrixStrides(ad.shape.slice(0, -2)), 4, 0);
    const bStr = padLeft(matrixStrides(bd.shape.slice(0, -2)), 4, 0);
    const zStride = (t: Tensor, per: number, step: number, extent: number): [number[], number] => {
      const n = numel(t.shape.slice(0, -2));
      if (n === Z) return [[per, step], extent];
      if (n === 1) return [[0, step], extent];
      return [[0, 0], t.size]; // partial broadcast: bind the whole operand
    };
    const [as, ae] = zStride(ad, M * K, tileM * K, tileM * K);
    const [bs, be] = zStride(bd, K * N, 0, K * N);
    const ops = [
      this.operand(ad, as, ae),
      this.operand(bd, bs, be),
      ...(bias ? [this.operand(bias, [0, 0], N)] : []),
      this.operand(out, [M * N, tileM * N], tileM * N),
    ];
    const spec = config
      ? matmulSubgroupMatrixSpec({ transposeB: tb, bias: bias?.dtype, activation, config, fragments: this.fragmentMode })
      : matmulTiledSpec({ dtype: ad.dtype, transposeB: tb, bias: bias?.dtype, activation });
    this.run(
      spec,
      [Z, rowTiles],
      ops,
      (c, rel) =>
        new UniformParams()
          .u32(M, N, K, rowTiles, c.start, c.count, rel[0], rel[1], rel[ops.length - 1], bias ? rel[2] : 0, 0, 0)
          .vec4Array([...dims, ...aStr, ...bStr], 3)
          .build(),
      (c) => [c.count, 1, Math.ceil(N / tileN)],
    );
  }

  // ---- attention ------------------------------------------------------------------------

  attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    const { B, H, Lq, Lk, D, scale, mask, map } = validateAttention(this, q, k, v, opts);
    if (D * 128 + 64 > this.caps.maxWorkgroupStorage)
      throw new UnsupportedFeatureError(`attention: head_dim ${D} needs ${D * 128 + 64} bytes of workgroup memory, this device has ${this.caps.maxWorkgroupStorage}`);

    const out = this.alloc(q.shape, q.dtype);
    const lse = this.alloc([B, H, Lq], 'f32');
    const result: AttentionResult = { out, lse };
    if (out.size === 0) return result;
    this.withDense([q, k, v], (qd, kd, vd) => {
      const heads = [B * H];
      const qo = this.operand(qd, [Lq * D], Lq * D);
      const ko = this.operand(kd, [Lk * D], Lk * D);
      const vo = this.operand(vd, [Lk * D], Lk * D);
      const oo = this.operand(out, [Lq * D], Lq * D);
      const lo = this.operand(lse, [Lq], Lq);
      let csr: Operand[] = [];
      if (mask) {
        const rowPtr = this.transientInts(mask.rowPtr);
        const colIdx = this.transientInts(mask.colIdx);
        csr = [WebGPUBackend.rawOperand(rowPtr, mask.rowPtr.length, 1), WebGPUBackend.rawOperand(colIdx, Math.max(1, mask.colIdx.length), 1)];
      }
      const ro = mask ? 2 : 0;
      const sg = this.sgAttentionPath(qd, kd, vd, D, Lq, Lk, mask?.blockSize);
      const rows = sg ? sgAttentionRows(sg.config) : ATTN_ROWS;
      const scratch = sg?.config.p === 'storage' ? [this.attentionScratch(Math.ceil(Lq / rows) * B * H * sgAttentionScratchPerGroup(sg.config) * 2)] : [];
      this.run(
        sg ? sgAttentionSpec({ headDim: D, sparse: !!mask, ...sg }) : flashAttentionSpec({ dtype: q.dtype, headDim: D, sparse: !!mask }),
        heads,
        [qo, ko, vo, ...csr, oo, lo, ...scratch],
        (c, rel) =>
          new UniformParams()
            .u32(Lq, Lk, H, c.start)
            .f32(scale)
            .u32(mask?.nQ ?? 0, mask?.blockSize ?? 0, rel[0], rel[1], rel[2], rel[3 + ro], rel[4 + ro], mask ? rel[3] : 0, mask ? rel[4] : 0)
            .build(),
        (c) => [Math.ceil(Lq / rows), c.count],
      );
      if (map) {
        const m = this.alloc([B, H, map.nQ, map.nK], 'f32');
        result.map = m;
        const mo = this.operand(m, [map.nQ * map.nK], map.nQ * map.nK);
        // map.within as a bitset [H * within.nQ, words]; without it one unused word is bound
        const w = map.within;
        const bits = w ? w.toBitset() : new Uint32Array(1);
        const wo = WebGPUBackend.rawOperand(this.transientInts(new Int32Array(bits.buffer)), bits.length, 1);
        const sgMap = this.paths.sgMap !== false && sg !== undefined && sgMapBlockSize(map.bs);
        this.run(
          sgMap ? sgMapSpec({ headDim: D, blockSize: map.bs, fragments: this.fragmentMode }) : sparsityMapSpec({ dtype: q.dtype, headDim: D }),
          heads,
          [qo, ko, lo, mo, wo],
          (c, rel) =>
            new UniformParams()
              .u32(Lq, Lk, map.tq, map.tk, map.nQ, map.nK, c.start, map.bs)
              .f32(scale, map.lnTau)
              .u32(rel[0], rel[1], rel[2], rel[3], w ? 1 : 0, H, w?.nQ ?? 0, w ? Math.ceil(w.nK / 32) : 0, 0x7fc00000)
              .build(),
          (c) => [map.nQ, c.count],
        );
      }
    });
    return result;
  }

  /**
   * The subgroup-matrix attention's configuration and fragment form when it applies: f16,
   * head_dim a multiple of 16 up to 128, at least 16 queries and keys, q/k/v offsets that
   * keep fragment loads 16-byte aligned, with a mask unless paths.sgAttentionSparse is false;
   * the configured tiling, else the first of SG_ATTENTION_SMALL, whose query rows lie in one
   * mask block and whose workgroup memory and invocations are within the device's limits.
   * Otherwise undefined: the portable kernel runs.
   */
  private sgAttentionPath(q: Tensor, k: Tensor, v: Tensor, D: number, Lq: number, Lk: number, blockSize?: number): { config: SgAttentionConfig; fragments: 'native' | 'emulated' } | undefined {
    if (!this.subgroupMatrixActive || q.dtype !== 'f16' || D % 16 !== 0 || D > 128 || Lq < 16 || Lk < 16) return undefined;
    if ([q, k, v].some((t) => t.offset % 8 !== 0)) return undefined;
    if (blockSize !== undefined && this.paths.sgAttentionSparse === false) return undefined;
    const fits = (c: SgAttentionConfig) =>
      (blockSize === undefined || blockSize % sgAttentionRows(c) === 0) && sgAttentionWorkgroupBytes(c, D) <= this.caps.maxWorkgroupStorage && c.subgroups * 32 <= this.caps.maxInvocations;
    const config = [this.paths.sgAttention ?? SG_ATTENTION_DEFAULT, ...SG_ATTENTION_SMALL].find(fits);
    return config && { config, fragments: this.fragmentMode };
  }

  /** The P scratch of the subgroup-matrix attention, at least `bytes` long, bound whole. */
  private attentionScratch(bytes: number): Operand {
    if (bytes > this.caps.maxBindingBytes)
      throw new UnsupportedFeatureError(`attention: the P scratch needs ${bytes} bytes, over this device's storage binding limit ${this.caps.maxBindingBytes}; use a workgroup-memory tiling`);
    if (!this.pScratch || this.pScratch.size < bytes) {
      if (this.pScratch) this.queue.release(this.pScratch); // recorded dispatches may still use it
      this.pScratch = this.device.createBuffer({ size: ceil4(bytes), usage: GPUBufferUsage.STORAGE });
    }
    return WebGPUBackend.rawOperand(this.pScratch, this.pScratch.size / 4, 1);
  }

  /** Uploads an Int32Array for the dispatches recorded next; freed after they are submitted. */
  private transientInts(data: Int32Array): GPUBuffer {
    const buf = this.device.createBuffer({ size: ceil4(data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    if (data.byteLength) this.device.queue.writeBuffer(buf, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    this.queue.release(buf);
    return buf;
  }

  destroy(): void {
    this.queue.flush();
    this.memory.emptyCache();
    for (const t of this.ropeTables.values()) t.buffer.destroy();
    this.pScratch?.destroy();
    this.ropeTables.clear();
    this.device.destroy();
    void this.owner;
  }
}

/** Matrix strides of contiguous batch dims, 0 on size-1 (broadcast) axes. */
function matrixStrides(batch: readonly number[]): number[] {
  const out = new Array<number>(batch.length);
  let s = 1;
  for (let i = batch.length - 1; i >= 0; i--) {
    out[i] = batch[i] === 1 ? 0 : s;
    s *= batch[i];
  }
  return out;
}

function padLeft(v: readonly number[], n: number, fill: number): number[] {
  return [...new Array<number>(n - v.length).fill(fill), ...v];
}

function padTo(v: readonly number[], n: number): number[] {
  return [...v, ...new Array<number>(n - v.length).fill(0)];
}
