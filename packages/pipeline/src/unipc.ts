import { checkStep } from './euler.js';
import { PipelineOptionError } from './errors.js';
import type { Sampler } from './sampler.js';
import type { FlowSchedule } from './schedule.js';

/** Options of {@link UniPCSampler}. */
export interface UniPCOptions {
  /** Solver order p (1 or 2). Wan: 2. */
  order?: 1 | 2;
  /** Apply the UniC corrector on every step after the first (Wan: yes, disable_corrector = []). Default true. */
  corrector?: boolean;
}

/** lambda = log(alpha / sigma) with alpha = 1 - sigma; +Infinity at sigma = 0. */
function lambda(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

/**
 * UniPC for flow matching exactly as Wan runs it (FlowUniPCMultistepScheduler): predict-x0
 * (m = x - sigma v), B(h) = expm1(-h) ("bh2"), multistep predictor of order
 * min(p, steps done + 1, steps left) (so order 1 at the first and last step), and the UniC
 * corrector of the previous step's order applied to each new sample before it is used.
 * Coefficients are computed in float64; latents are float32 like Wan's.
 */
export class UniPCSampler implements Sampler {
  readonly name = 'unipc';
  private readonly order: 1 | 2;
  private readonly corrector: boolean;
  /** x0 predictions of the last two steps, newest last. */
  private history: Float32Array[] = [];
  /** The sample the last predictor started from (the caller's latent or `corrected`), and that predictor's order. */
  private lastSample: Float32Array | null = null;
  private lastOrder = 0;
  private next = 0;
  /** Owned buffers reused across steps (a video latent is millions of values): three x0 slots, one corrected sample. */
  private readonly spare: Float32Array[] = [];
  private corrected: Float32Array | null = null;

  constructor(
    readonly schedule: FlowSchedule,
    opts: UniPCOptions = {},
  ) {
    this.order = opts.order ?? 2;
    this.corrector = opts.corrector ?? true;
    if (this.order !== 1 && this.order !== 2) throw new PipelineOptionError(`unipc: order must be 1 or 2, got ${String(this.order)}`);
  }

  /**
   * One pass over the latent: the new x0 prediction mT = x - sigma v, the corrected sample
   * (from the last sample and mT), and the predictor's output, each rounded to float32 where
   * Wan stores it. Lower-order terms are written as zero-weight differences of equal arrays.
   */
  step(i: number, xIn: Float32Array, v: Float32Array): Float32Array {
    checkStep(this, i, xIn, v, this.next);
    this.next++;
    const n = xIn.length;
    const s0 = this.schedule.sigmas[i];
    const cor = i > 0 && this.corrector ? this.correctorWeights(i) : null;
    const order = Math.min(this.order, this.schedule.steps - i, i + 1);
    const pre = this.predictorWeights(i, order);
    const mT = this.slot(n);
    // m0 / m1: the last two x0 predictions; absent ones stand in as equal arrays under zero weights
    const m0 = this.history[this.history.length - 1] ?? mT;
    const m1 = this.history[this.history.length - 2] ?? m0;
    const last = this.lastSample as Float32Array;
    const xc = cor ? this.correctedBuffer(n) : xIn;
    const out = new Float32Array(n);
    const [pa, pc0, pcD] = pre;
    // two loops so that the hot one has no branch and only scalar locals
    if (cor) {
      const [ca, cc0, ccD, ccT] = cor;
      for (let j = 0; j < n; j++) {
        const mt = Math.fround(xIn[j] - s0 * v[j]);
        mT[j] = mt;
        const b = m0[j];
        const x = Math.fround(ca * last[j] + cc0 * b + ccD * (m1[j] - b) + ccT * (mt - b));
        xc[j] = x;
        out[j] = pa * x + pc0 * mt + pcD * (b - mt);
      }
    } else {
      for (let j = 0; j < n; j++) {
        const mt = Math.fround(xIn[j] - s0 * v[j]);
        mT[j] = mt;
        out[j] = pa * xIn[j] + pc0 * mt + pcD * (m0[j] - mt);
      }
    }
    if (this.history.length === 2) this.spare.push(this.history[0]);
    this.history = [...this.history.slice(-1), mT];
    this.lastSample = xc;
    this.lastOrder = order;
    return out;
  }

  /** A free x0 slot (never one the history still holds). */
  private slot(n: number): Float32Array {
    const s = this.spare.pop();
    return s && s.length === n ? s : new Float32Array(n);
  }

  /** The owned corrected-sample buffer: the corrector reads lastSample[j] before writing [j], so it may be lastSample itself. */
  private correctedBuffer(n: number): Float32Array {
    if (!this.corrected || this.corrected.length !== n) this.corrected = new Float32Array(n);
    return this.corrected;
  }

  /** Predictor x' = a x + c0 m0 + cD (m1 - m0), m0 the new x0 prediction, as [a, c0, cD]. */
  private predictorWeights(i: number, order: number): [number, number, number] {
    const sig = this.schedule.sigmas;
    const st = sig[i + 1];
    const s0 = sig[i];
    // lambda_t = +inf: h_phi_1 = B_h = -1, sigma_t / sigma_s0 = 0, so the update is the x0 prediction.
    if (st === 0) return [0, 1, 0];
    const h = lambda(st) - lambda(s0);
    const hPhi1 = Math.expm1(-h);
    const bh = hPhi1;
    const a = st / s0;
    const c0 = -(1 - st) * hPhi1;
    if (order === 1) return [a, c0, 0];
    // order 2: D1 = (m_{i-1} - m_i) / r with r = (lambda_{i-1} - lambda_i) / h, weight rho_p = 1/2.
    const r = (lambda(sig[i - 1]) - lambda(s0)) / h;
    return [a, c0, (-(1 - st) * bh * 0.5) / r];
  }

  /** Corrector x_c = a x + c0 m0 + cD (m1 - m0) + cT (mT - m0) on the last sample, as [a, c0, cD, cT]. */
  private correctorWeights(i: number): [number, number, number, number] {
    const sig = this.schedule.sigmas;
    const st = sig[i];
    const s0 = sig[i - 1];
    const h = lambda(st) - lambda(s0);
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    const bh = hPhi1;
    const a = st / s0;
    const c0 = -(1 - st) * hPhi1;
    const cB = -(1 - st) * bh;
    if (this.lastOrder === 1) return [a, c0, 0, cB * 0.5];
    // order 2: solve [[1, 1], [r, 1]] rho = [g1, 2 g2] / B_h with g1 = h_phi_1/hh - 1, g2 = g1/hh - 1/2.
    const r = (lambda(sig[i - 2]) - lambda(s0)) / h;
    const g1 = hPhi1 / hh - 1;
    const g2 = g1 / hh - 0.5;
    const b1 = g1 / bh;
    const b2 = (2 * g2) / bh;
    const rhoD = (b1 - b2) / (1 - r);
    const rhoT = b1 - rhoD;
    return [a, c0, (cB * rhoD) / r, cB * rhoT];
  }
}
