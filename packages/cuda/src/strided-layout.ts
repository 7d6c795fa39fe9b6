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

