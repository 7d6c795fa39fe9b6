import { PipelineOptionError } from './errors.js';

/** How far a latent is from a reference latent (e.g. a MOD run from the dense run). */
export interface LatentFidelity {
  /** 10 log10(range^2 / MSE), range = max - min of the reference; Infinity when identical. */
  psnrDb: number;
  /** ||x - ref||_2 / ||ref||_2. */
  relativeError: number;
  maxAbsError: number;
}

/** PSNR and relative error of `x` against `ref` (same length). */
export function latentFidelity(x: ArrayLike<number>, ref: ArrayLike<number>): LatentFidelity {
  if (x.length !== ref.length || ref.length === 0) throw new PipelineOptionError(`latentFidelity: lengths ${x.length} and ${ref.length} must be equal and non-zero`);
  let lo = Infinity;
  let hi = -Infinity;
  let se = 0;
  let norm = 0;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = x[i] - ref[i];
    se += d * d;
    norm += ref[i] * ref[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    lo = Math.min(lo, ref[i]);
    hi = Math.max(hi, ref[i]);
  }
  const mse = se / ref.length;
  return { psnrDb: mse === 0 ? Infinity : 10 * Math.log10(((hi - lo) * (hi - lo)) / mse), relativeError: Math.sqrt(se / norm), maxAbsError: maxAbs };
}
