import type { Backend, PatchOptions } from '../backend.js';
import { ShapeError } from '../errors.js';
import { allocHost } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { checkRank, checkTensor, isPositiveInt } from './checks.js';
import type { MakeTensor } from './copy.js';
import { gatherRaw } from './host.js';

/** Video geometry of a patch layout: x [B, C, T, H, W] <-> tokens [B, L, C*pt*ph*pw]. */
export interface PatchGeometry {
  B: number;
  C: number;
  grid: readonly [number, number, number];
  patch: readonly [number, number, number];
  channelsFirst: boolean;
}

function checkPatchOptions(op: string, opts: PatchOptions): void {
  const p = opts?.patch;
  if (!Array.isArray(p) || p.length !== 3 || !p.every(isPositiveInt))
    throw new ShapeError(`${op}: patch must be three positive integers [pt, ph, pw], got ${JSON.stringify(p)}`);
  if (opts.channels !== 'first' && opts.channels !== 'last') throw new ShapeError(`${op}: channels must be 'first' or 'last', got ${String(opts.channels)}`);
}

/**
 * Calls visit(videoIndex, tokenIndex) for every element: the one place that defines how a
 * video element lands in the token tensor, so patchify and unpatchify are exact inverses.
 */
function forEachPatchElement(g: PatchGeometry, visit: (video: number, token: number) => void): void {
  const [gt, gh, gw] = g.grid;
  const [pt, ph, pw] = g.patch;
  const [T, H, W] = [gt * pt, gh * ph, gw * pw];
  const P = pt * ph * pw;
  const L = gt * gh * gw;
  let v = 0;
  for (let b = 0; b < g.B; b++)
    for (let c = 0; c < g.C; c++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++, v++) {
            const tok = ((Math.floor(t / pt) * gh + Math.floor(h / ph)) * gw + Math.floor(w / pw));
            const inPatch = ((t % pt) * ph + (h % ph)) * pw + (w % pw);
            const vec = g.channelsFirst ? c * P + inPatch : inPatch * g.C + c;
            visit(v, (b * L + tok) * g.C * P + vec);
          }
}

/** Checks patchify arguments (x [B, C, T, H, W] divisible by the patch); returns the geometry. Shared by every backend. */
export function validatePatchify(backend: Backend, x: Tensor, opts: PatchOptions): PatchGeometry {
  checkTensor(backend, 'patchify', 'x', x);
  checkRank('patchify', 'x', x, 5);
  checkPatchOptions('patchify', opts);
  const [B, C, T, H, W] = x.shape;
  const [pt, ph, pw] = opts.patch;
  if (T % pt || H % ph || W % pw) throw new ShapeError(`patchify: x [T, H, W] = [${T}, ${H}, ${W}] is not divisible by patch [${pt}, ${ph}, ${pw}]`);
  return { B, C, grid: [T / pt, H / ph, W / pw], patch: opts.patch, channelsFirst: opts.channels === 'first' };
}

/** Checks unpatchify arguments (x [B, L, C*pt*ph*pw], L = grid volume); returns the geometry. Shared by every backend. */
export function validateUnpatchify(backend: Backend, x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): PatchGeometry {
  checkTensor(backend, 'unpatchify', 'x', x);
  checkRank('unpatchify', 'x', x, 3);
  checkPatchOptions('unpatchify', opts);
  if (!Array.isArray(grid) || grid.length !== 3 || !grid.every(isPositiveInt))
    throw new ShapeError(`unpatchify: grid must be three positive integers [t, h, w], got ${JSON.stringify(grid)}`);
  const [B, L, V] = x.shape;
  const P = opts.patch[0] * opts.patch[1] * opts.patch[2];
  if (L !== grid[0] * grid[1] * grid[2]) throw new ShapeError(`unpatchify: x has L = ${L} tokens, grid [${grid.join(', ')}] needs ${grid[0] * grid[1] * grid[2]}`);
  if (V % P !== 0) throw new ShapeError(`unpatchify: x's last dim ${V} is not a multiple of the patch volume ${P}`);
  return { B, C: V / P, grid, patch: opts.patch, channelsFirst: opts.channels === 'first' };
}

/** [B, C, T, H, W] -> [B, L, C*pt*ph*pw]; pure data movement, any dtype. */
export function patchify(backend: Backend, make: MakeTensor, x: Tensor, opts: PatchOptions): Tensor {
  const g = validatePatchify(backend, x, opts);
  const src = gatherRaw(x);
  const out = allocHost(x.dtype, src.length);
  forEachPatchElement(g, (v, tok) => {
    out[tok] = src[v];
  });
  const [pt, ph, pw] = opts.patch;
  return make(out, [g.B, g.grid[0] * g.grid[1] * g.grid[2], g.C * pt * ph * pw], x.dtype);
}

/** [B, L, C*pt*ph*pw] -> [B, C, T, H, W]; L must equal the grid's token count. */
export function unpatchify(backend: Backend, make: MakeTensor, x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): Tensor {
  const g = validateUnpatchify(backend, x, grid, opts);
  const src = gatherRaw(x);
  const out = allocHost(x.dtype, src.length);
  forEachPatchElement(g, (v, tok) => {
    out[v] = src[tok];
  });
  const [pt, ph, pw] = opts.patch;
  return make(out, [g.B, g.C, grid[0] * pt, grid[1] * ph, grid[2] * pw], x.dtype);
}
