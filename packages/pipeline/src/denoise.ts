import type { Branch } from '@mod-dit/scheduler';
import { EulerSampler } from './euler.js';
import { DenoiseCancelledError, ModelOutputError, PipelineOptionError } from './errors.js';
import { guide } from './guidance.js';
import { ProgressClock, type ProgressEvent } from './progress.js';
import type { Sampler } from './sampler.js';
import type { FlowSchedule } from './schedule.js';
import { UniPCSampler } from './unipc.js';

/** Branch ids the loop passes to the model, so per-branch attention state stays apart. */
export const COND: Branch = 'cond';
/** See {@link COND}: the unconditional (negative-prompt) branch. */
export const UNCOND: Branch = 'uncond';

/** One model call of the loop. */
export interface ModelCall {
  step: number;
  timestep: number;
  sigma: number;
  branch: Branch;
  signal?: AbortSignal;
}

/** The denoiser: velocity v at latent x (host float32, latent layout) for one guidance branch. */
export type VelocityModel = (x: Float32Array, call: ModelCall) => Promise<Float32Array>;

/** Options of {@link denoise}. */
export interface DenoiseOptions {
  model: VelocityModel;
  schedule: FlowSchedule;
  /** The starting latent (pure noise at sigma_0); not modified. */
  noise: Float32Array;
  /** 'unipc' (Wan's, default), 'euler', or a sampler instance built on `schedule`. */
  sampler?: 'unipc' | 'euler' | Sampler;
  /** Classifier-free guidance scale; 1 runs the cond branch only. Default 5 (Wan). */
  guidance?: number;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /** Fraction of attention skipped during `step`, if the model knows it (shown in progress). */
  sparsity?: (step: number) => number | undefined;
  /** Sees the latent after each step (0-based), e.g. to compare runs step by step. */
  onStep?: (step: number, latent: Float32Array) => void;
  /**
   * Calls the model for both guidance branches at once (both promises in flight) instead of
   * one after the other. For models that only enqueue GPU work until they read their output
   * (the Wan adapter), the device then runs the uncond branch right after the cond one,
   * while the host reads and checks the first result. The model must allow overlapping
   * calls for different branches. Default false.
   */
  concurrentBranches?: boolean;
}

/** What {@link denoise} returns. */
export interface DenoiseResult {
  latent: Float32Array;
  /** Wall time of each step, ms. */
  stepMs: number[];
  /** Sparsity per step as reported by `sparsity` (undefined where it reported none). */
  sparsity: (number | undefined)[];
}

/**
 * The flow-matching denoising loop: per step, the cond (and, with guidance != 1, the uncond)
 * velocity, guidance, one sampler step. Checks `signal` before every model call.
 */
export async function denoise(opts: DenoiseOptions): Promise<DenoiseResult> {
  const { model, schedule, noise, signal } = opts;
  const guidance = guidanceScale('denoise', opts.guidance);
  const sampler = makeSampler(opts.sampler ?? 'unipc', schedule);
  const steps = new StepLog(opts);
  let x = noise;
  for (let i = 0; i < schedule.steps; i++) {
    // async: a model that throws synchronously rejects like one that fails later
    const call = async (branch: Branch): Promise<Float32Array> => {
      if (signal?.aborted) throw new DenoiseCancelledError(i, signal.reason);
      return checked(model(x, { step: i, timestep: schedule.timesteps[i], sigma: schedule.sigmas[i], branch, signal }), x.length, i, branch);
    };
    const v = guidance === 1 ? await call(COND) : guide(...(await branches(call, opts.concurrentBranches ?? false)), guidance);
    x = sampler.step(i, x, v);
    opts.onStep?.(i, x);
    steps.end(i);
  }
  return { latent: x, stepMs: steps.stepMs, sparsity: steps.sparsity };
}

/** The guidance scale of the loops (default 5, Wan's), checked finite. */
export function guidanceScale(loop: string, guidance = 5): number {
  if (!Number.isFinite(guidance)) throw new PipelineOptionError(`${loop}: guidance must be a finite number, got ${guidance}`);
  return guidance;
}

/** Per-step bookkeeping of the loops: step wall times, the model's reported sparsity, progress events. */
export class StepLog {
  readonly stepMs: number[] = [];
  readonly sparsity: (number | undefined)[] = [];
  private readonly clock: ProgressClock;

  constructor(private readonly opts: Pick<DenoiseOptions, 'schedule' | 'sparsity' | 'onProgress'>) {
    this.clock = new ProgressClock(opts.schedule.steps);
  }

  /** Closes step i. */
  end(i: number): void {
    const { schedule } = this.opts;
    const s = this.opts.sparsity?.(i);
    const ev = this.clock.tick(i, schedule.timesteps[i], schedule.sigmas[i], s);
    this.stepMs.push(ev.stepMs);
    this.sparsity.push(s);
    this.opts.onProgress?.(ev);
  }
}

/**
 * Both branches' outputs, [cond, uncond]. Concurrent calls both settle before anything is
 * rethrown, so no call outlives the loop; `discard` frees a fulfilled output when the other failed.
 */
export async function branches<T>(call: (b: Branch) => Promise<T>, concurrent: boolean, discard: (v: T) => void = () => {}): Promise<[T, T]> {
  if (!concurrent) {
    const vCond = await call(COND);
    try {
      return [vCond, await call(UNCOND)];
    } catch (e) {
      discard(vCond);
      throw e;
    }
  }
  const settled = await Promise.allSettled([call(COND), call(UNCOND)]);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    for (const r of settled) if (r.status === 'fulfilled') discard(r.value);
    throw failed.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value) as [T, T];
}

function makeSampler(s: 'unipc' | 'euler' | Sampler, schedule: FlowSchedule): Sampler {
  if (s === 'unipc') return new UniPCSampler(schedule);
  if (s === 'euler') return new EulerSampler(schedule);
  if (typeof s === 'object' && s && typeof s.step === 'function') {
    if (s.schedule !== schedule) throw new PipelineOptionError(`denoise: the ${s.name} sampler was built on a different schedule`);
    return s;
  }
  throw new PipelineOptionError(`denoise: sampler must be 'unipc', 'euler' or a Sampler, got ${String(s)}`);
}

async function checked(p: Promise<Float32Array>, n: number, step: number, branch: Branch): Promise<Float32Array> {
  const v = await p;
  if (!(v instanceof Float32Array) || v.length !== n)
    throw new ModelOutputError(`step ${step}, branch ${String(branch)}: model returned ${v instanceof Float32Array ? v.length : typeof v} values, expected a Float32Array of ${n}`);
  for (let j = 0; j < n; j++) if (!Number.isFinite(v[j])) throw new ModelOutputError(`step ${step}, branch ${String(branch)}: model output [${j}] is ${v[j]}`);
  return v;
}
