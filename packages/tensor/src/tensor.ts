import type { Backend } from './backend.js';
import { type DType, type HostArray, toFloat32 } from './dtype.js';
import { DisposedTensorError, ShapeError } from './errors.js';
import { type Shape, contiguousStrides, fmtShape, numel } from './shape.js';

/**
 * Device memory shared by a tensor and all of its views. Freed through the owner backend
 * when the last tensor referring to it is disposed.
 */
export class Storage {
  private refs = 0;
  constructor(
    /** Backend-specific handle: a host array on CPU, a GPUBuffer, a CUdeviceptr... */
    readonly handle: unknown,
    readonly byteLength: number,
    private readonly free: (handle: unknown) => void,
  ) {}
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) this.free(this.handle);
  }
  get alive(): boolean {
    return this.refs > 0;
  }
}

type ScopeFrame = Set<Tensor>;
const scopes: ScopeFrame[] = [];

/**
 * An n-dimensional array owned by one backend. Views (`reshape`, `permute`, `slice`...)
 * share storage and cost nothing; ops accept strided views (GPU backends may copy them
 * to contiguous first). Free with `dispose()`, or create inside `scope()`.
 */
export class Tensor {
  readonly shape: Shape;
  readonly strides: readonly number[];
  private disposed = false;

  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
    readonly dtype: DType,
    shape: Shape,
    strides?: readonly number[],
    /** Offset of element [0,...,0] in storage, in elements. */
    readonly offset = 0,
  ) {
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    storage.retain();
    scopes[scopes.length - 1]?.add(this);
  }

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** Row-major with no gaps (offset may be non-zero). */
  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d === 1 || c[i] === this.strides[i]);
  }

  /** Throws if disposed; ops call this on every input. */
  assertAlive(name = 'tensor'): void {
    if (this.disposed || !this.storage.alive) throw new DisposedTensorError(`${name} ${fmtShape(this.shape)} was used after dispose()`);
  }

  private view(shape: Shape, strides: readonly number[], offset: number): Tensor {
    this.assertAlive();
    return new Tensor(this.backend, this.storage, this.dtype, shape, strides, offset);
  }

  /** Zero-copy reshape; one extent may be -1. Non-contiguous tensors need `backend.contiguous()` first. */
  reshape(shape: readonly number[]): Tensor {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const resolved = shape.map((d) => (d === -1 ? this.size / known : d));
    if (numel(resolved) !== this.size || resolved.some((d) => !Number.isInteger(d) || d < 0))
      throw new ShapeError(`reshape ${fmtShape(this.shape)} -> ${fmtShape(shape)}: element counts differ`);
    if (!this.isContiguous) throw new ShapeError(`reshape of a non-contiguous view ${fmtShape(this.shape)}: call backend.contiguous() first`);
    return this.view(resolved, contiguousStrides(resolved), this.offset);
  }

  /** Zero-copy axis permutation. */
  permute(dims: readonly number[]): Tensor {
    const sorted = [...dims].sort((a, b) => a - b);
    if (dims.length !== this.rank || sorted.some((d, i) => d !== i))
      throw new ShapeError(`permute ${fmtShape(this.shape)} by [${dims.join(', ')}]: not a permutation of ${this.rank} axes`);
    return this.view(
      dims.map((d) => this.shape[d]),
      dims.map((d) => this.strides[d]),
      this.offset,
    );
  }

  /** Zero-copy swap of two axes (negative axes count from the end). */
  transpose(a = -2, b = -1): Tensor {
    const dims = [...this.shape.keys()];
    const ia = this.axis(a);
    const ib = this.axis(b);
    [dims[ia], dims[ib]] = [dims[ib], dims[ia]];
    return this.permute(dims);
  }

  /** Zero-copy [start, end) range along one axis. */
  slice(axis: number, start: number, end: number = this.shape[this.axis(axis)]): Tensor {
    const ax = this.axis(axis);
    const d = this.shape[ax];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > d || start > end)
      throw new ShapeError(`slice [${start}, ${end}) out of range for axis ${ax} of ${fmtShape(this.shape)}`);
    const shape = [...this.shape];
    shape[ax] = end - start;
    return this.view(shape, this.strides, this.offset + start * this.strides[ax]);
  }

  /** Normalises a possibly negative axis. */
  axis(a: number): number {
    const ax = a < 0 ? a + this.rank : a;
    if (!Number.isInteger(ax) || ax < 0 || ax >= this.rank) throw new ShapeError(`axis ${a} out of range for rank ${this.rank}`);
    return ax;
  }

  /** Reads the logical (row-major) elements back to the host, raw dtype bits. */
  read(): Promise<HostArray> {
    this.assertAlive();
    return this.backend.read(this);
  }

  /** Reads back and decodes to f32. */
  async toFloat32(): Promise<Float32Array> {
    return toFloat32(await this.read(), this.dtype);
  }

  /** Releases this tensor's reference to its storage. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
    for (const s of scopes) s.delete(this);
  }
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collectTensors(v, out);
}

/**
 * Runs `fn` and disposes every tensor created inside it, except tensors found in its
 * result (a Tensor, or arrays / plain objects holding tensors), which move to the outer scope.
 */
export function scope<T>(fn: () => T): T {
  const frame: ScopeFrame = new Set();
  scopes.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of frame) t.dispose();
    throw e;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collectTensors(result, keep);
  for (const t of frame) if (!keep.has(t)) t.dispose();
  const outer = scopes[scopes.length - 1];
  if (outer) for (const t of keep) outer.add(t);
  return result;
}

/** Keeps `t` alive past the enclosing scope (the caller then owns its disposal). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}
