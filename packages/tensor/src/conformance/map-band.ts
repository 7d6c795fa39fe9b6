import type { MapCheckSpec } from './case-context.js';

/**
 * For every map block, how many entries lie within `eps` of the tau threshold in log space,
 * |s_ij - lse_i - ln tau| < eps, computed in float64 from the reference q and k (decoded f32
 * values [B, H, L, D]). A backend may legitimately decide those entries either way.
 */
export function entriesNearTau(q: Float32Array, k: Float32Array, [B, H, Lq, D]: readonly number[], lk: number, spec: MapCheckSpec): Float64Array {
  const nQ = Math.ceil(spec.tq / spec.blockSize);
  const nK = Math.ceil(spec.tk / spec.blockSize);
  const out = new Float64Array(B * H * nQ * nK);
  const lnTau = Math.log(spec.tau);
  const s = new Float64Array(lk);
  for (let bh = 0; bh < B * H; bh++)
    for (let i = 0; i < spec.tq; i++) {
      let m = -Infinity;
      for (let j = 0; j < lk; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(bh * Lq + i) * D + d] * k[(bh * lk + j) * D + d];
        s[j] = dot * spec.scale;
        if (s[j] > m) m = s[j];
      }
      let z = 0;
      for (let j = 0; j < lk; j++) z += Math.exp(s[j] - m);
      const lse = m + Math.log(z);
      const row = (bh * nQ + Math.floor(i / spec.blockSize)) * nK;
      for (let j = 0; j < spec.tk; j++) if (Math.abs(s[j] - lse - lnTau) < spec.eps) out[row + Math.floor(j / spec.blockSize)]++;
    }
  return out;
}
