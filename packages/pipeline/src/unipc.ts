import { checkStep } from './euler.js';
import type { Sampler } from './sampler.js';
import type { FlowSchedule } from './schedule.js';
import { UniPCWeights, type UniPCOptions } from './unipc-weights.js';

export type { UniPCOptions } from './unipc-weights.js';

/**
 * UniPC for flow matching exactly as Wan runs it (FlowUniPCMultistepScheduler): predict-x0
 * (m = x - sigma v), B(h) = expm1(-h) ("bh2"), multistep predictor of order
 * min(p, steps done + 1, steps left) (so order 1 at the first and last step), and the UniC
 * corrector of the previous step's order applied to each new sample before it is used.
 * Coefficients are computed in float64 ({@link UniPCWeights}); latents are float32 like Wan's.
 */
export class UniPCSampler implements Sampler {
  readonly name = 'unipc';
  private readonly weights: UniPCWeights;
  /** x0 predictions of the last two steps, newest last. */
  private history: Float32Array[] = [];
  /** The sample the last predictor started from (the caller's latent or `corrected`). */
  private lastSample: Float32Array | null = null;
  private next = 0;
  /** Owned buffers reused across steps (a video latent is millions of values): three x0 slots, one corrected sample. */
  private readonly spare: Float32Array[] = [];
  private corrected: Float32Array | null = null;

  constructor(
    readonly schedule: FlowSchedule,
    opts: UniPCOptions = {},
  ) {
    this.weights = new UniPCWeights(schedule, opts);
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
    const { corrector: cor, predictor: pre } = this.weights.step(i);
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
}
