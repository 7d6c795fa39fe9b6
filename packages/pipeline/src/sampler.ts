import type { FlowSchedule } from './schedule.js';

/**
 * A flow-matching ODE solver over host latents. Call `step(i, x, v)` for i = 0 .. N-1 in
 * order, with v the model output at (x, sigmas[i]); it returns the latent at sigmas[i + 1].
 */
export interface Sampler {
  readonly name: string;
  readonly schedule: FlowSchedule;
  step(i: number, x: Float32Array, v: Float32Array): Float32Array;
}
