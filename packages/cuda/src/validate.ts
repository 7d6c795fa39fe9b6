import { type Backend, BackendMismatchError, DTypeError, ModDitError, ShapeError, Tensor, fmtShape } from '@mod-dit/tensor';

/**
 * Argument checks of the CUDA ops, run before any work is enqueued. Messages name the op,
 * the argument, what was expected and what was given, as the CPU reference's do.
 */
export function checkTensor(backend: Backend, op: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new ShapeError(`${op}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  t.assertAlive(`${op}: ${name}`);
  if (t.backend !== backend)
    throw new BackendMismatchError(`${op}: ${name} belongs to backend '${t.backend.name}', expected this '${backend.name}' backend instance`);
}

export function checkFloat(backend: Backend, op: string, name: string, t: unknown): asserts t is Tensor {
  checkTensor(backend, op, name, t);
  if (!backend.floatDTypes.includes(t.dtype)) throw new DTypeError(`${op}: ${name} has dtype ${t.dtype}, expected one of ${backend.floatDTypes.join(', ')}`);
}

export function checkRank(op: string, name: string, t: Tensor, rank: number, atLeast = false): void {
  if (atLeast ? t.rank < rank : t.rank !== rank) throw new ShapeError(`${op}: ${name} must have rank ${atLeast ? '>= ' : ''}${rank}, got ${fmtShape(t.shape)}`);
}

export function checkSameDType(op: string, name: string, t: Tensor, dtype: string, other: string): void {
  if (t.dtype !== dtype) throw new DTypeError(`${op}: ${name} has dtype ${t.dtype}, expected ${dtype} (the dtype of ${other})`);
}

/** A scalar option outside its domain: E_ARGUMENT, as the CPU reference throws. */
export function checkNumber(op: string, name: string, v: unknown, ok: (v: number) => boolean, expected: string): number {
  if (typeof v !== 'number' || !ok(v)) throw new ModDitError('E_ARGUMENT', `${op}: ${name} must be ${expected}, got ${String(v)}`);
  return v;
}

export const isPositiveInt = (v: number): boolean => Number.isInteger(v) && v > 0;
