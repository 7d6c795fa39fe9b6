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
  private readonly history: Float32Array[] = [];
  /** The sample the last predictor started from, and that predictor's order. */
  private lastSample: Float32Array | null = null;
  private lastOrder = 0;
  private next = 0;

  constructor(
    readonly schedule: FlowSchedule,
    opts: UniPCOptions = {},
  ) {
    this.order = opts.order ?? 2;
    this.corrector = opts.corrector ?? true;
    if (this.order !== 1 && this.order !== 2) throw new PipelineOptionError(`unipc: order must be 1 or 2, got ${String(this.order)}`);
  }

  step(i: number, xIn: Float32Array, v: Float32Array): Float32Array {
    checkStep(this, i, xIn, v, this.next);
    this.next++;
    const sig = this.schedule.sigmas;
    const n = xIn.length;
    const m = new Float32Array(n);
    for (let j = 0; j < n; j++) m[j] = xIn[j] - sig[i] * v[j];

    let x = xIn;
    if (i > 0 && this.corrector) x = this.correct(i, m);

    this.history.push(m);
    if (this.history.length > 2) this.history.shift();
    const order = Math.min(this.order, this.schedule.steps - i, i + 1);
    this.lastSample = x;
    this.lastOrder = order;
    return this.predict(i, x, order);
  }

  /** UniP from sigma_i to sigma_{i+1}; history's last entry is m_i. */
  private predict(i: number, x: Float32Array, order: number): Float32Array {
    const sig = this.schedule.sigmas;
    const st = sig[i + 1];
    const s0 = sig[i];
    const m0 = this.history[this.history.length - 1];
    const out = new Float32Array(x.length);
    if (st === 0) {
      // lambda_t = +inf: h_phi_1 = B_h = -1, sigma_t / sigma_s0 = 0, so the update is the x0 prediction.
      out.set(m0);
      return out;
    }
    const h = lambda(st) - lambda(s0);
    const hPhi1 = Math.expm1(-h);
    const bh = hPhi1;
    const a = st / s0;
    const c0 = -(1 - st) * hPhi1;
    if (order === 1) {
      for (let j = 0; j < x.length; j++) out[j] = a * x[j] + c0 * m0[j];
      return out;
    }
    // order 2: D1 = (m_{i-1} - m_i) / r with r = (lambda_{i-1} - lambda_i) / h, weight rho_p = 1/2.
    const m1 = this.history[this.history.length - 2];
    const r = (lambda(sig[i - 1]) - lambda(s0)) / h;
    const cD = (-(1 - st) * bh * 0.5) / r;
    for (let j = 0; j < x.length; j++) out[j] = a * x[j] + c0 * m0[j] + cD * (m1[j] - m0[j]);
    return out;
  }

  /** UniC: corrects the sample at sigma_i with the new x0 prediction mT, using the last predictor's order. */
  private correct(i: number, mT: Float32Array): Float32Array {
    const sig = this.schedule.sigmas;
    const st = sig[i];
    const s0 = sig[i - 1];
    const x = this.lastSample as Float32Array;
    const m0 = this.history[this.history.length - 1];
    const h = lambda(st) - lambda(s0);
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    const bh = hPhi1;
    const a = st / s0;
    const c0 = -(1 - st) * hPhi1;
    const cB = -(1 - st) * bh;
    const out = new Float32Array(x.length);
    if (this.lastOrder === 1) {
      for (let j = 0; j < x.length; j++) out[j] = a * x[j] + c0 * m0[j] + cB * 0.5 * (mT[j] - m0[j]);
      return out;
    }
    // order 2: solve [[1, 1], [r, 1]] rho = [g1, 2 g2] / B_h with g1 = h_phi_1/hh - 1, g2 = g1/hh - 1/2.
    const m1 = this.history[this.history.length - 2];
    const r = (lambda(sig[i - 2]) - lambda(s0)) / h;
    const g1 = hPhi1 / hh - 1;
    const g2 = g1 / hh - 0.5;
    const b1 = g1 / bh;
    const b2 = (2 * g2) / bh;
    const rhoD = (b1 - b2) / (1 - r);
    const rhoT = b1 - rhoD;
    const cD = (cB * rhoD) / r;
    const cT = cB * rhoT;
    for (let j = 0; j < x.length; j++) out[j] = a * x[j] + c0 * m0[j] + cD * (m1[j] - m0[j]) + cT * (mT[j] - m0[j]);
    return out;
  }
}
