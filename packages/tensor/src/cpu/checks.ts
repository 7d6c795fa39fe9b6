import type { Backend } from '../backend.js';
import type { DType } from '../dtype.js';
import { BackendMismatchError, DTypeError, ModDitError, ShapeError } from '../errors.js';
import { type Shape, fmtShape, shapeEquals } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * Argument checks shared by the op families: every message names the op, the argument,
 * what was expected and what was given. Backend-independent, so GPU backends can reuse them.
 */
export function checkTensor(backend: Backend, op: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new ShapeError(`${op}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  t.assertAlive(`${op}: ${name}`);
  if (t.backend !== backend)
    throw new BackendMismatchError(`${op}: ${name} belongs to backend '${t.backend.name}', expected this '${backend.name}' backend instance`);
}

/** Checks liveness, ownership and that the dtype is one of the backend's float dtypes. */
export function checkFloat(backend: Backend, op: string, name: string, t: unknown): asserts t is Tensor {
  checkTensor(backend, op, name, t);
  if (!backend.floatDTypes.includes(t.dtype))
    throw new DTypeError(`${op}: ${name} has dtype ${t.dtype}, expected one of ${backend.floatDTypes.join(', ')}`);
}

/** Throws a ShapeError unless `t` has exactly `rank` dimensions. */
export function checkRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.rank !== rank) throw new ShapeError(`${op}: ${name} must have rank ${rank}, got ${fmtShape(t.shape)}`);
}

/** Throws a ShapeError unless `t` has at least `rank` dimensions. */
export function checkMinRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.rank < rank) throw new ShapeError(`${op}: ${name} must have rank >= ${rank}, got ${fmtShape(t.shape)}`);
}

/** Throws a ShapeError unless `t` has exactly the `expected` shape. */
export function checkShape(op: string, name: string, t: Tensor, expected: Shape): void {
  if (!shapeEquals(t.shape, expected)) throw new ShapeError(`${op}: ${name} must have shape ${fmtShape(expected)}, got ${fmtShape(t.shape)}`);
}

/** Throws a DTypeError unless `t` has `dtype`, the dtype of the operand named `other`. */
export function checkSameDType(op: string, name: string, t: Tensor, dtype: DType, other: string): void {
  if (t.dtype !== dtype) throw new DTypeError(`${op}: ${name} has dtype ${t.dtype}, expected ${dtype} (the dtype of ${other})`);
}

/** A scalar option (eps, scale, theta, tau) outside its domain: a ModDitError with code E_ARGUMENT. */
export function checkNumber(op: string, name: string, v: unknown, ok: (v: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new ModDitError('E_ARGUMENT', `${op}: ${name} must be ${expected}, got ${String(v)}`);
  return v;
}

/** Domain check for {@link checkNumber}: an integer > 0. */
export const isPositiveInt = (v: number): boolean => Number.isInteger(v) && v > 0;
/** A norm's epsilon: finite and >= 0. */
export const isEps = (v: number): boolean => Number.isFinite(v) && v >= 0;
