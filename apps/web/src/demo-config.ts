import { InvalidOptionError } from '@mod-dit/predictor';

/** The MOD-DiT schedule the demo replays (spec defaults): 50 steps, warm-up m = 12, refresh interval T = 10. */
export const SCHEDULE = { steps: 50, warmup: 12, interval: 10 } as const;

/** Dtypes the demo offers for q, k, v (both backends accept them; f16 is what a DiT runs in). */
const DEMO_DTYPES = ['f32', 'f16'] as const;
export type DemoDType = (typeof DEMO_DTYPES)[number];

/** How many lines each head's mask switches on. */
export type DemoBudget = { kind: 'top-k'; k: number } | { kind: 'density'; density: number };

/** Everything one demo run depends on. */
export interface DemoConfig {
  /** Video token grid [frames, height, width], frame-major. */
  grid: [number, number, number];
  heads: number;
  /** Head dimension of the synthetic q, k, v (>= 8, see @mod-dit/eval's suite). */
  headDim: number;
  /** Block edge in tokens. */
  blockSize: 64 | 128;
  /** Sparsity-map threshold: probabilities below tau count as negligible. */
  tau: number;
  budget: DemoBudget;
  /** The denoising step shown: a step the schedule has a mask for, [warmup, steps). */
  step: number;
  /** Seed of the synthetic attention. */
  seed: number;
  dtype: DemoDType;
  /** Timed runs per attention variant (after one untimed warm-up run); the median is shown. */
  repeats: number;
}

/** Small enough for a second or two on the CPU backend, big enough to show structure (15 x 15 blocks of 64). */
export const DEFAULT_CONFIG: DemoConfig = {
  grid: [5, 12, 16],
  heads: 4,
  headDim: 32,
  blockSize: 64,
  tau: 1e-4,
  budget: { kind: 'density', density: 0.35 },
  step: 15,
  seed: 1,
  dtype: 'f32',
  repeats: 3,
};

const positiveInt = (v: number): boolean => Number.isInteger(v) && v >= 1;

function need(ok: boolean, field: string, expected: string, actual: unknown): void {
  // String() for numbers: JSON would print NaN as null.
  if (!ok) throw new InvalidOptionError(`demo: ${field} must be ${expected}, got ${typeof actual === 'number' ? String(actual) : JSON.stringify(actual)}`);
}

/**
 * Checks the fields the packages do not check themselves (the suite checks the grid and
 * head dim, the scheduler the budget and tau) and returns the config. Throws
 * InvalidOptionError naming the field, the expected and the actual value.
 */
export function checkDemoConfig(c: DemoConfig): DemoConfig {
  need(Array.isArray(c.grid) && c.grid.length === 3 && c.grid.every(positiveInt), 'grid', '[frames, height, width] of positive integers', c.grid);
  need(positiveInt(c.heads), 'heads', 'a positive integer', c.heads);
  // Checked here too (the predictor checks it only when the first mask is built, seconds into a run).
  if (c.budget?.kind === 'top-k') need(Number.isInteger(c.budget.k) && c.budget.k >= 0, 'budget.k', 'a non-negative integer (lines per head)', c.budget.k);
  else need(c.budget?.kind === 'density' && c.budget.density > 0 && c.budget.density <= 1, 'budget.density', 'a fraction in (0, 1]', c.budget?.density);
  need(c.blockSize === 64 || c.blockSize === 128, 'blockSize', '64 or 128', c.blockSize);
  need(Number.isInteger(c.step) && c.step >= SCHEDULE.warmup && c.step < SCHEDULE.steps, 'step', `an integer in [${SCHEDULE.warmup}, ${SCHEDULE.steps - 1}] (earlier steps are dense warm-up, no mask exists yet)`, c.step);
  need(Number.isInteger(c.seed), 'seed', 'an integer', c.seed);
  need((DEMO_DTYPES as readonly string[]).includes(c.dtype), 'dtype', DEMO_DTYPES.join(' or '), c.dtype);
  need(positiveInt(c.repeats) && c.repeats <= 20, 'repeats', 'an integer in [1, 20]', c.repeats);
  return c;
}
