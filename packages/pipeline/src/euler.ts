import { PipelineOptionError } from './errors.js';
import type { Sampler } from './sampler.js';
import type { FlowSchedule } from './schedule.js';

/** First-order flow-matching Euler: x_{i+1} = x_i + (sigma_{i+1} - sigma_i) v_i. */
export class EulerSampler implements Sampler {
  readonly name = 'euler';
  private next = 0;
  constructor(readonly schedule: FlowSchedule) {}

  step(i: number, x: Float32Array, v: Float32Array): Float32Array {
    checkStep(this, i, x, v, this.next);
    this.next++;
    const dt = this.schedule.sigmas[i + 1] - this.schedule.sigmas[i];
    const out = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) out[j] = x[j] + dt * v[j];
    return out;
  }
}

/** Shared argument checks of the samplers: steps in order, matching lengths. */
export function checkStep(s: Sampler, i: number, x: Float32Array, v: Float32Array, expected: number): void {
  if (i !== expected) throw new PipelineOptionError(`${s.name}: step ${i} out of order, expected step ${expected} of ${s.schedule.steps}`);
  if (i >= s.schedule.steps) throw new PipelineOptionError(`${s.name}: step ${i} is past the last step ${s.schedule.steps - 1}`);
  if (x.length !== v.length) throw new PipelineOptionError(`${s.name}: latent has ${x.length} elements but the velocity has ${v.length}`);
}
