import { type Shape, ShapeError, fmtShape } from '@mod-dit/tensor';
import { MAX_DIMS } from './launch-args.js';

/** A loop nest shared by several operands: one shape, one element-stride list per operand. */
export interface StridedLayout {
  shape: number[];
  strides: number[][];
}

/** Strides of `own` (a shape broadcasting to `out`) walked over `out`'s index space: 0 on broadcast axes. */
export function broadcastStrides(own: Shape, ownStrides: readonly number[], out: Shape): number[] {
  const lead = out.length - own.length;
  return out.map((_, i) => (i < lead || own[i - lead] === 1 ? 0 : ownStrides[i - lead]));
}

/**
 * Drops extent-1 axes and merges neighbouring axes that every operand walks contiguously
 * (stride[i] == stride[i+1] * shape[i+1]), so kernels index with as few divisions as possible.
 * Throws if more than the kernels' 8 axes remain.
 */
export function mergeLayout(shape: Shape, strides: readonly (readonly number[])[], what: string): StridedLayout {
  const axes = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const ax of axes) {
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, o) => outStrides[o][last] === s[ax] * shape[ax]);
    if (mergeable) {
      outShape[last] *= shape[ax];
      strides.forEach((s, o) => (outStrides[o][last] = s[ax]));
    } else {
      outShape.push(shape[ax]);
      strides.forEach((s, o) => outStrides[o].push(s[ax]));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(0));
  }
  if (outShape.length > MAX_DIMS)
    throw new ShapeError(`${what}: ${fmtShape(shape)} needs ${outShape.length} strided axes after merging, the CUDA kernels take at most ${MAX_DIMS}`);
  return { shape: outShape, strides: outStrides };
}

/** Bound of the kernels' 32-bit (signed) index math. */
export const I32_LIMIT = 2 ** 31;

/**
 * Whether 32-bit index math covers `layout` (the kernels' `wide` = 0): the element count and
 * every operand's furthest offset (either sign) stay below 2^31.
 */
export function fitsInt32(layout: StridedLayout): boolean {
  const n = layout.shape.reduce((a, d) => a * d, 1);
  return n < I32_LIMIT && layout.strides.every((s) => s.reduce((a, st, i) => a + Math.abs(st) * (layout.shape[i] - 1), 0) < I32_LIMIT);
}

/** Fast-path addressing of one operand: element i, element i % C (a per-row [.., C] broadcast), or element 0. */
export const OPERAND_MODE = { contiguous: 0, row: 1, scalar: 2 } as const;

/**
 * The division-free elementwise path: every operand of the (merged) layout is contiguous, a
 * per-row broadcast over the last axis, or a scalar. Returns the 2-bit modes packed per
 * operand (as the kernels read them) and the row length C, or null when some operand is
 * strided otherwise. strides[0] is the contiguous output and is not encoded.
 */
export function fastModes(layout: StridedLayout): { modes: number; C: number } | null {
  const { shape, strides } = layout;
  const rank = shape.length;
  const C = shape[rank - 1];
  const contiguous = strides[0];
  let modes = 0;
  for (let k = 1; k < strides.length; k++) {
    const s = strides[k];
    let mode: number;
    if (s.every((v, i) => v === contiguous[i])) mode = OPERAND_MODE.contiguous;
    else if (s.every((v) => v === 0)) mode = OPERAND_MODE.scalar;
    else if (rank === 2 && s[0] === 0 && s[1] === 1) mode = OPERAND_MODE.row;
    else return null;
    modes |= mode << (2 * (k - 1));
  }
  return { modes, C };
}

/** The widest copy unit, in bytes, accepted by the copy kernels. */
const MAX_UNIT = 16;

/**
 * Regroups a two-operand copy layout into units of up to 16 bytes: allowed when the innermost
 * axis is contiguous on both sides, its byte length and every other stride are multiples of
 * the unit, and both base addresses are aligned to it. Returns the unit (bytes) and the layout
 * counted in units; the unit is the element itself when nothing wider fits.
 */
export function widenCopy(layout: StridedLayout, elemBytes: number, addresses: readonly bigint[]): { unit: number; layout: StridedLayout } {
  const last = layout.shape.length - 1;
  for (let unit = MAX_UNIT; unit > elemBytes; unit /= 2) {
    const k = unit / elemBytes;
    const ok =
      layout.strides.every((s) => s[last] === 1 && s.every((v, i) => i === last || v % k === 0)) &&
      layout.shape[last] % k === 0 &&
      addresses.every((a) => a % BigInt(unit) === 0n);
    if (ok)
      return {
        unit,
        layout: {
          shape: layout.shape.map((d, i) => (i === last ? d / k : d)),
          strides: layout.strides.map((s) => s.map((v, i) => (i === last ? 1 : v / k))),
        },
      };
  }
  return { unit: elemBytes, layout };
}
