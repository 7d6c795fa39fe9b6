import { UnsupportedFeatureError } from '@mod-dit/tensor';

/**
 * Bind-by-offset planning. A storage binding may cover at most `maxBindingBytes` (128 MiB
 * on many adapters, while one HunyuanVideo activation is ~730 MB), so a kernel runs over
 * its iteration space in chunks, and each operand is bound only on the byte window that
 * chunk touches. Pure arithmetic: unit-tested without a GPU.
 */

/** How one operand is addressed from the kernel's iteration space. */
export interface OperandAccess {
  /** Element offset of iteration point 0. */
  offset: number;
  /** Element stride per iteration axis (>= 0; 0 = broadcast). */
  strides: readonly number[];
  /** Elements touched from each point's address onward (1 for elementwise, a row length for row kernels). */
  extent: number;
  /** Bytes per element. */
  elemBytes: number;
  /** Bytes of the operand's buffer (windows never run past it). */
  bufferBytes: number;
}

/** The part of a buffer one chunk binds. */
export interface BindingWindow {
  /** Byte offset of the binding (a multiple of the device's storage offset alignment). */
  byteOffset: number;
  /** Byte size of the binding (a multiple of 4). */
  byteSize: number;
  /** Element index of the binding's first element: the kernel subtracts it from every address. */
  firstElement: number;
}

/** One dispatch: iteration points [start, start + count) and each operand's window. */
export interface Chunk {
  start: number;
  count: number;
  windows: BindingWindow[];
}

export interface BindingLimits {
  maxBindingBytes: number;
  /** minStorageBufferOffsetAlignment. */
  offsetAlign: number;
}

/** Element range [lo, hi) an operand touches over the linear iteration points [start, end) of `shape`. */
export function touchedRange(shape: readonly number[], op: OperandAccess, start: number, end: number): [number, number] {
  const c0 = unravel(shape, start);
  const c1 = unravel(shape, end - 1);
  // Axes before the first differing one are fixed; from it on the range may sweep anything
  // between the two corners (conservative, exact when chunks are whole sub-blocks).
  let diff = 0;
  while (diff < shape.length && c0[diff] === c1[diff]) diff++;
  let lo = op.offset;
  let hi = op.offset;
  for (let a = 0; a < shape.length; a++) {
    const s = op.strides[a];
    if (a < diff) {
      lo += c0[a] * s;
      hi += c0[a] * s;
    } else if (a === diff) {
      lo += c0[a] * s;
      hi += c1[a] * s;
    } else hi += (shape[a] - 1) * s;
  }
  return [lo, hi + op.extent];
}

function unravel(shape: readonly number[], index: number): number[] {
  const c = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    c[a] = index % shape[a];
    index = Math.floor(index / shape[a]);
  }
  return c;
}

function windowOf(range: [number, number], op: OperandAccess, lim: BindingLimits): BindingWindow {
  const b0 = range[0] * op.elemBytes;
  const start = Math.floor(b0 / lim.offsetAlign) * lim.offsetAlign;
  const end = Math.min(op.bufferBytes, Math.ceil((range[1] * op.elemBytes) / 4) * 4);
  return { byteOffset: start, byteSize: Math.max(4, end - start), firstElement: start / op.elemBytes };
}

/**
 * Splits iteration points [0, numel(shape)) into the fewest equal chunks (multiples of
 * `granule` points) whose windows all fit one binding. Throws UnsupportedFeatureError when
 * even one granule does not fit.
 */
export function planChunks(shape: readonly number[], ops: readonly OperandAccess[], lim: BindingLimits, granule = 1): Chunk[] {
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === 0) return [];
  const granules = Math.ceil(total / granule);
  for (let parts = 1; parts <= granules; parts = Math.min(granules, parts * 2)) {
    const per = Math.ceil(granules / parts) * granule;
    const chunks: Chunk[] = [];
    let fits = true;
    for (let start = 0; start < total && fits; start += per) {
      const count = Math.min(per, total - start);
      const windows = ops.map((op) => windowOf(touchedRange(shape, op, start, start + count), op, lim));
      fits = windows.every((w) => w.byteSize <= lim.maxBindingBytes);
      chunks.push({ start, count, windows });
    }
    if (fits) return chunks;
    if (parts === granules) break;
  }
  throw new UnsupportedFeatureError(
    `webgpu: one unit of ${granule} iteration point(s) over [${shape.join(', ')}] touches more than the ${lim.maxBindingBytes}-byte storage binding limit`,
  );
}
