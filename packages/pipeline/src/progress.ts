/** Emitted after every denoising step. */
export interface ProgressEvent {
  /** Steps finished (1-based count). */
  step: number;
  steps: number;
  /** Timestep and sigma of the finished step. */
  timestep: number;
  sigma: number;
  /** Wall time of this step and of the run so far, ms. */
  stepMs: number;
  elapsedMs: number;
  /** Steps per second so far, and the estimated time left at that rate, ms. */
  itPerSec: number;
  etaMs: number;
  /** Fraction of attention blocks skipped in this step, when the model reports it. */
  sparsity?: number;
}

/** Keeps the wall-clock numbers of {@link ProgressEvent}. */
export class ProgressClock {
  private readonly start = performance.now();
  private last = this.start;

  constructor(private readonly steps: number) {}

  /** Closes step `i` (0-based) and returns its event. */
  tick(i: number, timestep: number, sigma: number, sparsity?: number): ProgressEvent {
    const now = performance.now();
    const stepMs = now - this.last;
    this.last = now;
    const elapsedMs = now - this.start;
    const done = i + 1;
    const itPerSec = elapsedMs > 0 ? (done * 1000) / elapsedMs : Infinity;
    const etaMs = ((this.steps - done) * elapsedMs) / done;
    return { step: done, steps: this.steps, timestep, sigma, stepMs, elapsedMs, itPerSec, etaMs, ...(sparsity !== undefined ? { sparsity } : {}) };
  }
}
