import type { Backend } from '../backend.js';
import type { CpuBackend } from '../cpu/index.js';
import { type DType, fromNumbers, toFloat32 } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { Rng } from '../random.js';
import { Tensor } from '../tensor.js';
import { type Tolerance, toleranceFor } from './compare.js';
import { ConformanceError } from './conformance-error.js';

/** The same input on both sides: `t` on the backend under test, `r` on the reference, identical bits. */
export interface Pair {
  t: Tensor;
  r: Tensor;
}

/** Parameters the sparsity-map check needs to recompute which entries sit near tau. */
export interface MapCheckSpec {
  /** Reference q and k as f32 [B, H, L, D]. */
  q: Tensor;
  k: Tensor;
  scale: number;
  tau: number;
  blockSize: number;
  tq: number;
  tk: number;
  /** Half-width of the band |s - lse - ln tau| < eps (log space) inside which a backend may decide either way. */
  eps: number;
}

/** One comparison a case asks for; evaluated after the case's ops have been enqueued. */
export type Check =
  | { kind: 'exact'; what: string; actual: Tensor; expected: Tensor }
  | { kind: 'close'; what: string; actual: Tensor; expected: Tensor; tol: Tolerance; dtype: DType }
  | { kind: 'zeroRows'; what: string; actual: Tensor; lse: Tensor }
  | ({ kind: 'map'; what: string; actual: Tensor; expected: Tensor } & MapCheckSpec);

type ErrorType = abstract new (...args: never[]) => Error;

/** What a case body gets: the backend, the reference, the case dtype and its own seeded Rng. */
export class CaseContext {
  constructor(
    readonly backend: Backend,
    readonly ref: CpuBackend,
    readonly dtype: DType,
    readonly rng: Rng,
  ) {}

  /** Fresh Gaussian data quantized to the case dtype, uploaded to both sides. */
  input(shape: Shape, std = 1, mean = 0, dtype: DType = this.dtype): Pair {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = fromNumbers(this.rng.normals(n, std, mean), dtype);
    return { t: this.backend.upload(bits, shape, dtype), r: this.ref.upload(bits, shape, dtype) };
  }

  /** The same view (permute, slice...) on both sides. */
  view(p: Pair, fn: (t: Tensor) => Tensor): Pair {
    return { t: fn(p.t), r: fn(p.r) };
  }

  /** An input stored as `stored` and viewed through `perm`: a non-contiguous tensor. */
  permuted(stored: Shape, perm: readonly number[], std = 1): Pair {
    return this.view(this.input(stored, std), (t) => t.permute(perm));
  }

  /** The reference side of a pair in f32 (exact), so reference results are rounded only to f32. */
  f32(p: Pair): Tensor {
    return this.ref.cast(p.r, 'f32');
  }

  /** `actual` must have `dtype` (default: the case dtype) and match `expected` within `tol` (default: that dtype's). */
  close(what: string, actual: Tensor, expected: Tensor, opts: { dtype?: DType; tol?: Tolerance } = {}): Check {
    const dtype = opts.dtype ?? this.dtype;
    return { kind: 'close', what, actual, expected, dtype, tol: opts.tol ?? toleranceFor(dtype) };
  }

  exact(what: string, actual: Tensor, expected: Tensor): Check {
    return { kind: 'exact', what, actual, expected };
  }

  /** Asserts `fn` throws an instance of `type` (a typed error), naming `what` on failure. */
  throws(what: string, type: ErrorType, fn: () => unknown): void {
    this.throwsAny(what, [type], fn);
  }

  /** Asserts `fn` throws an instance of one of `types`. */
  throwsAny(what: string, types: readonly ErrorType[], fn: () => unknown): void {
    let thrown: unknown;
    try {
      fn();
    } catch (e) {
      thrown = e;
    }
    if (types.some((t) => thrown instanceof t)) return;
    const got = thrown === undefined ? 'nothing was thrown' : `got ${(thrown as Error)?.name ?? typeof thrown}: ${(thrown as Error)?.message ?? String(thrown)}`;
    throw new ConformanceError(`${what}: expected ${types.map((t) => t.name).join(' or ')}, ${got}`);
  }
}

/** Every tensor a check holds, for disposal. */
export function checkTensors(checks: readonly Check[]): Tensor[] {
  return checks.flatMap((c) => Object.values(c).filter((v): v is Tensor => v instanceof Tensor));
}

/** Reads a tensor and decodes it to numbers. */
export async function readValues(t: Tensor): Promise<Float32Array> {
  return toFloat32(await t.read(), t.dtype);
}
