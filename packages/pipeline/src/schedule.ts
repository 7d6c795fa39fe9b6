import { PipelineOptionError } from './errors.js';

/**
 * A flow-matching noise schedule: x_sigma = (1 - sigma) x0 + sigma * noise, velocity
 * v = noise - x0. `sigmas` has N + 1 entries ending at 0; the model is called at the first N
 * with `timesteps[i]`.
 */
export interface FlowSchedule {
  readonly steps: number;
  readonly shift: number;
  /** sigma_0 .. sigma_N, decreasing, sigma_N = 0. */
  readonly sigmas: Float64Array;
  /** The timestep the model sees at step i. */
  readonly timesteps: Float64Array;
}

/** Options of {@link flowSchedule}. */
export interface FlowScheduleOptions {
  steps: number;
  /** Timestep shift k: sigma -> k sigma / (1 + (k - 1) sigma). Wan T2V: 5. */
  shift: number;
  /** First unshifted sigma. Default: Wan's, the float32 value of 0.999 (the top of its 1000-step training table). */
  sigmaMax?: number;
  /** Training timesteps; timestep = sigma * this. Default 1000. */
  trainTimesteps?: number;
  /** Truncate timesteps to integers (Wan: int64 cast) and round sigmas to float32 (Wan stores them so). Default true. */
  wanRounding?: boolean;
}

/** The shift of the flow schedule: k s / (1 + (k - 1) s). */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/**
 * The schedule of Wan's FlowUniPCMultistepScheduler.set_timesteps: sigmas =
 * shift(linspace(sigmaMax, 0, N + 1)[:-1]) in float64 (numpy's linspace: start + i * step),
 * timesteps = trunc(sigma * 1000), sigmas stored as float32 with a final 0.
 */
export function flowSchedule(opts: FlowScheduleOptions): FlowSchedule {
  const { steps, shift } = opts;
  const sigmaMax = opts.sigmaMax ?? Math.fround(0.999);
  const train = opts.trainTimesteps ?? 1000;
  const wan = opts.wanRounding ?? true;
  if (!Number.isInteger(steps) || steps < 1) throw new PipelineOptionError(`schedule: steps must be an integer >= 1, got ${steps}`);
  if (!(shift > 0) || !Number.isFinite(shift)) throw new PipelineOptionError(`schedule: shift must be a finite number > 0, got ${shift}`);
  if (!(sigmaMax > 0 && sigmaMax <= 1)) throw new PipelineOptionError(`schedule: sigmaMax must be in (0, 1], got ${sigmaMax}`);
  const sigmas = new Float64Array(steps + 1);
  const timesteps = new Float64Array(steps);
  const delta = -sigmaMax / steps;
  for (let i = 0; i < steps; i++) {
    const s = shiftSigma(i * delta + sigmaMax, shift);
    timesteps[i] = wan ? Math.trunc(s * train) : s * train;
    sigmas[i] = wan ? Math.fround(s) : s;
  }
  return { steps, shift, sigmas, timesteps };
}
