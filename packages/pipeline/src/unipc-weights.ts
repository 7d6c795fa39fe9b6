import { PipelineOptionError } from './errors.js';
import type { FlowSchedule } from './schedule.js';

/** Options of the UniPC samplers (host and device). */
export interface UniPCOptions {
  /** Solver order p (1 or 2). Wan: 2. */
  order?: 1 | 2;
  /** Apply the UniC corrector on every step after the first (Wan: yes, disable_corrector = []). Default true. */
  corrector?: boolean;
}

/** One UniPC step's weights: corrector [a, c0, cD, cT] on the last sample (null: none), predictor [a, c0, cD]. */
export interface UniPCStepWeights {
  corrector: [number, number, number, number] | null;
  predictor: [number, number, number];
}

/** lambda = log(alpha / sigma) with alpha = 1 - sigma; +Infinity at sigma = 0. */
function lambda(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

/**
 * The per-step coefficients of UniPC for flow matching exactly as Wan runs it
 * (FlowUniPCMultistepScheduler), shared by the host and device samplers: predictor order
 * min(p, steps done + 1, steps left), corrector of the previous step's order on every step
 * after the first. Coefficients in float64. With m_i = x_i - sigma_i v_i (newest mT, then m0, m1):
 * corrected x = a x_last + c0 m0 + cD (m1 - m0) + cT (mT - m0); next x = a x + c0 mT + cD (m0 - mT).
 */
export class UniPCWeights {
  private readonly order: 1 | 2;
  private readonly corrector: boolean;
  private lastOrder = 0;

  constructor(
    readonly schedule: FlowSchedule,
    opts: UniPCOptions = {},
  ) {
    this.order = opts.order ?? 2;
    this.corrector = opts.corrector ?? true;
    if (this.order !== 1 && this.order !== 2) throw new PipelineOptionError(`unipc: order must be 1 or 2, got ${String(this.order)}`);
  }

  /** The weights of step i (steps in order; the caller checks that). */
  step(i: number): UniPCStepWeights {
    const corrector = i > 0 && this.corrector ? this.correctorWeights(i) : null;
    const order = Math.min(this.order, this.schedule.steps - i, i + 1);
    this.lastOrder = order;
    return { corrector, predictor: this.predictorWeights(i, order) };
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
