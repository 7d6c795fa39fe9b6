import type { Check, CaseContext } from './case-context.js';

/** Shape presets: 'small' runs in seconds on a CPU or lavapipe; 'medium' uses GPU-sized shapes. */
export type SuiteSize = 'small' | 'medium';

/** One conformance case before it is bound to a backend, dtype and seed. */
export interface CaseSpec {
  name: string;
  /** 'dtype': once per float dtype under test; 'once': once, with the first of them. */
  per: 'dtype' | 'once';
  /** Enqueues the ops (synchronously, inside a scope) and returns the comparisons to make. */
  body(ctx: CaseContext): Check[];
}
