import type { AttentionOptions, AttentionResult, Backend, SparsityMapRequest } from '../backend.js';
import { BlockMask } from '../block-mask.js';
import { BlockMaskError, ShapeError } from '../errors.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { AttentionWorkspace } from './attention-simd.js';
import { checkFloat, checkNumber, checkRank, checkSameDType, isPositiveInt } from './checks.js';
import type { MakeTensor } from './copy.js';
import { encode, gatherF32 } from './host.js';

/** Query rows per tile of the dense path (the sparse path tiles by the mask's blocks). */
const DENSE_TILE = 64;

/** Resolved geometry of a sparsity map request. */
export interface SparsityMapPlan {
  lnTau: number;
  bs: number;
  /** Query and key tokens the map covers. */
  tq: number;
  tk: number;
  nQ: number;
  nK: number;
  /** Only these blocks get values; the others read NaN. */
  within?: BlockMask;
}

function planMap(req: SparsityMapRequest, heads: number, lq: number, lk: number): SparsityMapPlan {
  const tau = checkNumber('attention', 'map.tau', req.tau, (t) => t > 0 && t <= 1, 'a probability in (0, 1]');
  const bs = checkNumber('attention', 'map.blockSize', req.blockSize, isPositiveInt, 'a positive integer');
  const cap = Math.min(lq, lk);
  const tokens = req.tokens === undefined ? undefined : checkNumber('attention', 'map.tokens', req.tokens, (t) => isPositiveInt(t) && t <= cap, `an integer in [1, min(Lq, Lk) = ${cap}]`);
  const tq = tokens ?? lq;
  const tk = tokens ?? lk;
  const plan: SparsityMapPlan = { lnTau: Math.log(tau), bs, tq, tk, nQ: Math.ceil(tq / bs), nK: Math.ceil(tk / bs) };
  if (req.within === undefined) return plan;
  const within = checkMask(req.within, heads, lq, lk, 'map.within');
  if (within.blockSize !== bs) throw new BlockMaskError(`attention: map.within has block size ${within.blockSize}, the map ${bs}`);
  return { ...plan, within };
}

function checkMask(mask: unknown, h: number, lq: number, lk: number, what = 'mask'): BlockMask {
  if (!(mask instanceof BlockMask)) throw new BlockMaskError(`attention: ${what} must be a BlockMask`);
  if (mask.heads !== h || mask.qLen !== lq || mask.kLen !== lk)
    throw new BlockMaskError(`attention: ${what} is for heads=${mask.heads}, qLen=${mask.qLen}, kLen=${mask.kLen}; q/k give heads=${h}, Lq=${lq}, Lk=${lk}`);
  return mask;
}

/** Validated attention arguments: sizes, the resolved scale, the checked mask and map plan. */
export interface AttentionGeometry {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  D: number;
  scale: number;
  mask?: BlockMask;
  map?: SparsityMapPlan;
}

/**
 * Checks attention arguments against the contract (ranks, shapes, one dtype, mask geometry,
 * map options, mask and map not combined) and resolves them. Shared by every backend.
 */
export function validateAttention(backend: Backend, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionGeometry {
  checkFloat(backend, 'attention', 'q', q);
  checkFloat(backend, 'attention', 'k', k);
  checkFloat(backend, 'attention', 'v', v);
  checkRank('attention', 'q', q, 4);
  checkRank('attention', 'k', k, 4);
  checkRank('attention', 'v', v, 4);
  checkSameDType('attention', 'k', k, q.dtype, 'q');
  checkSameDType('attention', 'v', v, q.dtype, 'q');
  const [B, H, Lq, D] = q.shape;
  const Lk = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D)
    throw new ShapeError(`attention: k ${fmtShape(k.shape)} must be [B, H, Lk, D] = [${B}, ${H}, Lk, ${D}] to match q ${fmtShape(q.shape)}`);
  if (v.shape.some((d, i) => d !== k.shape[i])) throw new ShapeError(`attention: v ${fmtShape(v.shape)} must have k's shape ${fmtShape(k.shape)}`);
  const scale = opts.scale === undefined ? 1 / Math.sqrt(D) : checkNumber('attention', 'scale', opts.scale, Number.isFinite, 'a finite number');
  if (opts.mask !== undefined && opts.map !== undefined)
    throw new BlockMaskError('attention: mask and map cannot be combined: the sparsity map needs a dense pass over all keys');
  const mask = opts.mask === undefined ? undefined : checkMask(opts.mask, H, Lq, Lk);
  const map = opts.map === undefined ? undefined : planMap(opts.map, H, Lq, Lk);
  return { B, H, Lq, Lk, D, scale, mask, map };
}

/**
 * Exact attention in float64 from the decoded inputs. Per (batch, head) it decodes q/k/v once
 * into float64 rows in wasm memory; per query tile it computes each active score once into a
 * row buffer (SIMD kernels, see attention-simd.ts), then a two-pass softmax (max, then sum
 * of exp) and P·V over the same active key spans; inactive blocks are never touched.
 * Semantics (all backends): keys in inactive mask blocks are excluded from the softmax;
 * a row with no active key outputs 0 with lse -Infinity. The map counts, over the first
 * `tokens` queries and keys, the entries with s_ij - lse_i < ln(tau) decided in float64,
 * where lse is over ALL keys, divided by the real (unpadded) entries of each block; blocks
 * outside `map.within` read NaN.
 */
export function attention(backend: Backend, make: MakeTensor, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
  const { B, H, Lq, Lk, D, scale, mask, map: plan } = validateAttention(backend, q, k, v, opts);
  const Q = gatherF32(q);
  const K = gatherF32(k);
  const V = gatherF32(v);
  const out = new Float64Array(B * H * Lq * D);
  const lse = new Float32Array(B * H * Lq).fill(-Infinity);
  const counts = plan ? new Float64Array(B * H * plan.nQ * plan.nK) : undefined;

  const tile = mask ? mask.blockSize : DENSE_TILE;
  const nTiles = Math.ceil(Lq / tile);
  // the map reads the scores after the softmax; without it exp overwrites them in place
  const ws = new AttentionWorkspace(Lq, Lk, D, tile, plan !== undefined);
  const { scores, probs, acc, ld, dp } = ws;
  const spans = new Int32Array(2 * Math.max(1, Math.ceil(Lk / tile)));
  const rowMax = new Float64Array(tile);
  const rowSum = new Float64Array(tile);

  for (let bh = 0; bh < B * H; bh++) {
    const h = bh % H;
    const qBase = bh * Lq * D;
    ws.loadHead(Q, K, V, qBase, bh * Lk * D);
    for (let t = 0; t < nTiles; t++) {
      const r0 = t * tile;
      const rows = Math.min(tile, Lq - r0);
      const nSpans = mask ? maskSpans(mask, h, t, Lk, spans) : denseSpans(Lk, spans);
      if (nSpans === 0) continue; // empty rows: out stays 0, lse -Infinity
      ws.score(r0, rows, spans, nSpans, scale);
      softmaxRows(scores, probs, ld, rows, spans, nSpans, rowMax, rowSum);
      for (let r = 0; r < rows; r++) lse[bh * Lq + r0 + r] = rowMax[r] + Math.log(rowSum[r]);
      if (plan && counts) countNegligible(plan, counts, bh, r0, rows, ld, scores, rowMax, rowSum);
      ws.accumulate(rows, spans, nSpans);
      for (let r = 0; r < rows; r++) {
        const inv = 1 / rowSum[r];
        const oo = qBase + (r0 + r) * D;
        for (let d = 0; d < D; d++) out[oo + d] = acc[r * dp + d] * inv;
      }
    }
  }
  const result: AttentionResult = {
    out: make(encode(out, q.dtype), q.shape, q.dtype),
    lse: make(lse, [B, H, Lq], 'f32'),
  };
  if (plan && counts) {
    const map = new Float32Array(counts.length);
    for (let i = 0; i < counts.length; i++) {
      const qb = Math.floor(i / plan.nK) % plan.nQ;
      const kb = i % plan.nK;
      const real = Math.min(plan.bs, plan.tq - qb * plan.bs) * Math.min(plan.bs, plan.tk - kb * plan.bs);
      map[i] = plan.within && !plan.within.isActive(Math.floor(i / (plan.nQ * plan.nK)) % H, qb, kb) ? NaN : counts[i] / real;
    }
    result.map = make(map, [B, H, plan.nQ, plan.nK], 'f32');
  }
  return result;
}

/** Per tile row over the keys of `spans`: the max score, probs = exp(score - max), and their sum (keys in order). */
function softmaxRows(scores: Float64Array, probs: Float64Array, ld: number, rows: number, spans: Int32Array, nSpans: number, rowMax: Float64Array, rowSum: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const so = r * ld;
    let m = -Infinity;
    for (let s = 0; s < nSpans; s++) for (let key = so + spans[2 * s], end = so + spans[2 * s + 1]; key < end; key++) if (scores[key] > m) m = scores[key];
    let sum = 0;
    for (let s = 0; s < nSpans; s++) for (let key = so + spans[2 * s], end = so + spans[2 * s + 1]; key < end; key++) sum += probs[key] = Math.exp(scores[key] - m);
    rowMax[r] = m;
    rowSum[r] = sum;
  }
}

/** Adds, for the tile's rows inside the map, the entries with s - lse < ln(tau) to their block counts (float64 lse). */
function countNegligible(plan: SparsityMapPlan, counts: Float64Array, bh: number, r0: number, rows: number, ld: number, scores: Float64Array, rowMax: Float64Array, rowSum: Float64Array): void {
  const base = bh * plan.nQ * plan.nK;
  for (let r = 0; r < rows && r0 + r < plan.tq; r++) {
    const rowLse = rowMax[r] + Math.log(rowSum[r]);
    const co = base + Math.floor((r0 + r) / plan.bs) * plan.nK;
    const so = r * ld;
    for (let kb = 0; kb < plan.nK; kb++) {
      let below = 0;
      for (let key = kb * plan.bs, end = Math.min(plan.tk, key + plan.bs); key < end; key++) if (scores[so + key] - rowLse < plan.lnTau) below++;
      counts[co + kb] += below;
    }
  }
}

/** The whole key range as one span; none when there are no keys. */
function denseSpans(lk: number, spans: Int32Array): number {
  spans[0] = 0;
  spans[1] = lk;
  return lk > 0 ? 1 : 0;
}

/**
 * The active key blocks of (head h, query tile t) as [start, end) token spans in the mask's
 * (ascending) block order, adjacent blocks merged so the blocked loops run longer. Returns the count.
 */
function maskSpans(mask: BlockMask, h: number, t: number, lk: number, spans: Int32Array): number {
  const bs = mask.blockSize;
  let n = 0;
  for (let i = mask.rowPtr[h * mask.nQ + t], end = mask.rowPtr[h * mask.nQ + t + 1]; i < end; i++) {
    const k0 = mask.colIdx[i] * bs;
    if (n > 0 && spans[2 * n - 1] === k0) spans[2 * n - 1] = Math.min(lk, k0 + bs);
    else {
      spans[2 * n] = k0;
      spans[2 * n + 1] = Math.min(lk, k0 + bs);
      n++;
    }
  }
  return n;
}
