/** Where forward time goes. 'mod' is MOD-DiT's own work: plan, map read-back, fit/predict/mask in observe. */
export type OpCategory = 'self-attention' | 'cross-attention' | 'gemm' | 'mod' | 'other';

/**
 * Accumulates wall time per category. Exact on synchronous backends (the CPU reference), and
 * on asynchronous ones when given a `barrier` (Backend.syncNow) that drains the device around
 * each timed op; without it, GPU ops return once enqueued, so only the categories that wait
 * (the map read-back inside 'mod') are real and the rest is host enqueue time.
 */
export class OpClock {
  readonly ms: Record<OpCategory, number> = { 'self-attention': 0, 'cross-attention': 0, gemm: 0, mod: 0, other: 0 };

  constructor(private readonly barrier?: () => void) {}

  time<T>(cat: OpCategory, fn: () => T): T {
    this.barrier?.();
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.barrier?.();
      this.ms[cat] += performance.now() - t0;
    }
  }

  async timeAsync<T>(cat: OpCategory, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[cat] += performance.now() - t0;
    }
  }

  /** Books the part of a measured span not already attributed to a category as 'other'. */
  settle(spanMs: number, before: number): void {
    const attributed = this.total() - before;
    this.ms.other += Math.max(0, spanMs - attributed);
  }

  total(): number {
    return Object.values(this.ms).reduce((a, b) => a + b, 0);
  }
}
