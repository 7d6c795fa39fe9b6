import type { Backend, Rope3dOptions } from '../backend.js';
import { ShapeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkFloat, checkNumber, checkRank, checkShape, isEps, isPositiveInt } from './checks.js';
import type { MakeTensor } from './copy.js';
import { encode, gatherF32 } from './host.js';
import { rmsNormRows } from './norms.js';

/**
 * Checks rope3d arguments (x [B, L, H, D] float with even D, grid within L, even split
 * summing to D, theta > 0) and returns, per channel pair, which grid axis (0 t, 1 h, 2 w)
 * drives it and its frequency theta^(-2j/dim_axis). Shared by every backend.
 */
export function validateRope3d(backend: Backend, x: Tensor, opts: Rope3dOptions): { axis: Int32Array; freq: Float64Array } {
  checkFloat(backend, 'rope3d', 'x', x);
  checkRank('rope3d', 'x', x, 4);
  const d = x.shape[3];
  const grid = opts?.grid;
  const split = opts?.split;
  if (!Array.isArray(grid) || grid.length !== 3 || !grid.every(isPositiveInt))
    throw new ShapeError(`rope3d: grid must be three positive integers [t, h, w], got ${JSON.stringify(grid)}`);
  if (!Array.isArray(split) || split.length !== 3 || !split.every((s) => Number.isInteger(s) && s >= 0 && s % 2 === 0))
    throw new ShapeError(`rope3d: split must be three even channel counts [dt, dh, dw], got ${JSON.stringify(split)}`);
  if (d % 2 !== 0) throw new ShapeError(`rope3d: head_dim of x ${d} must be even`);
  if (split[0] + split[1] + split[2] !== d) throw new ShapeError(`rope3d: split [${split.join(', ')}] sums to ${split[0] + split[1] + split[2]}, expected head_dim ${d} of x`);
  if (grid[0] * grid[1] * grid[2] > x.shape[1])
    throw new ShapeError(`rope3d: grid [${grid.join(', ')}] has ${grid[0] * grid[1] * grid[2]} tokens, more than x's L = ${x.shape[1]}`);
  const theta = checkNumber('rope3d', 'theta', opts.theta, (v) => Number.isFinite(v) && v > 0, 'a finite number > 0');
  if (opts.norm !== undefined) {
    checkFloat(backend, 'rope3d', 'norm.weight', opts.norm.weight);
    checkShape('rope3d', 'norm.weight', opts.norm.weight, [x.shape[2] * d]);
    checkNumber('rope3d', 'norm.eps', opts.norm.eps, isEps, 'a finite number >= 0');
  }
  const axis = new Int32Array(d / 2);
  const freq = new Float64Array(d / 2);
  let p = 0;
  for (let a = 0; a < 3; a++)
    for (let j = 0; j < split[a] / 2; j++, p++) {
      axis[p] = a;
      freq[p] = theta ** ((-2 * j) / split[a]);
    }
  return { axis, freq };
}

/**
 * 3D RoPE on x [B, L, H, D], interleaved pairs; text tokens past t*h*w pass through. The
 * optional RMSNorm over each token's H * D channels runs first, in float64: one rounding.
 */
export function rope3d(backend: Backend, make: MakeTensor, x: Tensor, opts: Rope3dOptions): Tensor {
  const { axis, freq } = validateRope3d(backend, x, opts);
  const [B, L, H, D] = x.shape;
  const [, gh, gw] = opts.grid;
  const video = opts.grid[0] * gh * gw;
  // rotated in place (each pair is read before it is written); text tokens keep their values
  const out = opts.norm ? rmsNormRows(gatherF32(x), H * D, gatherF32(opts.norm.weight), opts.norm.eps) : Float64Array.from(gatherF32(x));
  const pos = [0, 0, 0];
  const cos = new Float64Array(D / 2);
  const sin = new Float64Array(D / 2);
  for (let l = 0; l < video; l++) {
    pos[0] = Math.floor(l / (gh * gw));
    pos[1] = Math.floor(l / gw) % gh;
    pos[2] = l % gw;
    for (let p = 0; p < D / 2; p++) {
      const angle = pos[axis[p]] * freq[p];
      cos[p] = Math.cos(angle);
      sin[p] = Math.sin(angle);
    }
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        const base = ((b * L + l) * H + h) * D;
        for (let p = 0; p < D / 2; p++) {
          const x0 = out[base + 2 * p];
          const x1 = out[base + 2 * p + 1];
          out[base + 2 * p] = x0 * cos[p] - x1 * sin[p];
          out[base + 2 * p + 1] = x0 * sin[p] + x1 * cos[p];
        }
      }
  }
  return make(encode(out, x.dtype), x.shape, x.dtype);
}

/**
 * rope3d's fused RMSNorm as two ops (rmsNorm over [B, L, H * D], then rope3d), for backends
 * without a fused kernel: the normalised values are rounded into x's dtype in between.
 */
export function normThenRope(backend: Backend, x: Tensor, opts: Rope3dOptions): Tensor {
  const { norm, ...rope } = opts;
  if (!norm) return backend.rope3d(x, rope);
  const [B, L, H, D] = x.shape;
  const xc = x.isContiguous ? x : backend.contiguous(x);
  const n = backend.rmsNorm(xc.reshape([B, L, H * D]), norm.weight, norm.eps);
  if (xc !== x) xc.dispose();
  try {
    return backend.rope3d(n.reshape([B, L, H, D]), rope);
  } finally {
    n.dispose();
  }
}
