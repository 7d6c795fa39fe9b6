import { EvalConfigError } from './eval-error.js';
import { scoreRow } from './score-row.js';
import type { TokenGrid } from './token-grid.js';

/**
 * The MOD-DiT block sparsity map [heads, blocks, blocks] of q, k ([1, heads, tokens, dim]):
 * per video block pair, the fraction of softmax probabilities (over ALL keys, text
 * included) below tau, decided as s_ij - lse_i < ln(tau) in float64, ragged blocks counting
 * their real entries. The same contract as the Backend's dense attention with `map`, but
 * without the P.V product: the harness uses it for geometries where the reference backend
 * would take too long (a test checks both give the same map).
 */
export function exactSparsityMap(q: Float32Array, k: Float32Array, heads: number, dim: number, grid: TokenGrid, tau: number, scale = 1 / Math.sqrt(dim)): Float32Array {
  const L = grid.tokens;
  if (q.length !== heads * L * dim || k.length !== q.length)
    throw new EvalConfigError(`q/k have ${q.length}/${k.length} elements, expected [1, ${heads}, ${L}, ${dim}] = ${heads * L * dim}`);
  if (!(tau > 0 && tau < 1)) throw new EvalConfigError(`tau must be in (0, 1), got ${tau}`);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new EvalConfigError(`scale must be a positive finite number, got ${scale}`);
  const n = grid.blocks;
  const bs = grid.blockSize;
  const Lv = grid.videoTokens;
  const lnTau = Math.log(tau);
  const counts = new Float64Array(heads * n * n);
  const scores = new Float64Array(L);
  const qRow = new Float64Array(dim);
  for (let h = 0; h < heads; h++) {
    const base = h * L * dim;
    const kh = Float64Array.from(k.subarray(base, base + L * dim));
    for (let i = 0; i < Lv; i++) {
      for (let d = 0; d < dim; d++) qRow[d] = q[base + i * dim + d];
      const max = scoreRow(qRow, kh, L, dim, scores);
      let z = 0;
      for (let j = 0; j < L; j++) z += Math.exp((scores[j] - max) * scale);
      // s - lse < ln(tau), in scaled units: (raw - max) * scale < ln(tau) + ln(z)
      const cut = (lnTau + Math.log(z)) / scale + max;
      const row = (h * n + Math.floor(i / bs)) * n;
      for (let j = 0; j < Lv; j++) if (scores[j] < cut) counts[row + Math.floor(j / bs)]++;
    }
  }
  const map = new Float32Array(counts.length);
  for (let c = 0; c < counts.length; c++) {
    const I = Math.floor(c / n) % n;
    map[c] = counts[c] / (grid.blockTokens(I) * grid.blockTokens(c % n));
  }
  return map;
}
