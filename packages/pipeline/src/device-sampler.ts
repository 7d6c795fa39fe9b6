import { type Backend, type Tensor, keep, scope, shapeEquals } from '@mod-dit/tensor';
import { PipelineOptionError } from './errors.js';
import type { FlowSchedule } from './schedule.js';
import { UniPCWeights, type UniPCOptions } from './unipc-weights.js';

/**
 * A flow-matching solver over device latents (f32 tensors on one backend): the math of the
 * host samplers as elementwise backend ops, so a denoising loop never copies latents to the
 * host. Results match the host samplers to float32 rounding (each op rounds once).
 */
export interface DeviceSampler {
  readonly name: string;
  readonly schedule: FlowSchedule;
  /** The latent at sigmas[i + 1] from x and the model output v at sigmas[i], as a new tensor; x and v stay the caller's. */
  step(i: number, x: Tensor, v: Tensor): Tensor;
  /** Frees the tensors kept between steps. */
  dispose(): void;
}

/** sum_k c_k t_k as one mul and a gatedAdd per further term (zero weights skipped); a new f32 tensor. */
export function linearCombination(b: Backend, terms: readonly (readonly [number, Tensor])[]): Tensor {
  return scope(() => {
    const scalar = (c: number) => b.upload(Float32Array.of(c), [1], 'f32');
    const live = terms.filter(([c]) => c !== 0);
    const [first, ...rest] = live.length ? live : [[0, terms[0][1]] as const];
    let acc = b.mul(first[1], scalar(first[0]));
    for (const [c, t] of rest) acc = b.gatedAdd(acc, t, scalar(c));
    return acc;
  });
}

/** Shared argument checks of the device samplers: steps in order, f32 latents of one shape. */
function checkDeviceStep(s: DeviceSampler, i: number, x: Tensor, v: Tensor, expected: number): void {
  if (i !== expected) throw new PipelineOptionError(`${s.name}: step ${i} out of order, expected step ${expected} of ${s.schedule.steps}`);
  if (i >= s.schedule.steps) throw new PipelineOptionError(`${s.name}: step ${i} is past the last step ${s.schedule.steps - 1}`);
  if (x.dtype !== 'f32' || v.dtype !== 'f32') throw new PipelineOptionError(`${s.name}: latent and velocity must be f32, got ${x.dtype} and ${v.dtype}`);
  if (!shapeEquals(x.shape, v.shape)) throw new PipelineOptionError(`${s.name}: latent [${x.shape.join(', ')}] and velocity [${v.shape.join(', ')}] differ in shape`);
}

/** Euler on the device: x + (sigma_{i+1} - sigma_i) v. */
class DeviceEuler implements DeviceSampler {
  readonly name = 'euler';
  private next = 0;
  constructor(
    private readonly backend: Backend,
    readonly schedule: FlowSchedule,
  ) {}

  step(i: number, x: Tensor, v: Tensor): Tensor {
    checkDeviceStep(this, i, x, v, this.next);
    this.next++;
    return linearCombination(this.backend, [[1, x], [this.schedule.sigmas[i + 1] - this.schedule.sigmas[i], v]]);
  }

  dispose(): void {}
}

/** UniPC on the device with the host sampler's weights ({@link UniPCWeights}); the differences of its update expanded into plain weights. */
class DeviceUniPC implements DeviceSampler {
  readonly name = 'unipc';
  private readonly weights: UniPCWeights;
  private history: Tensor[] = [];
  private last: Tensor | null = null;
  private next = 0;

  constructor(
    private readonly backend: Backend,
    readonly schedule: FlowSchedule,
    opts: UniPCOptions = {},
  ) {
    this.weights = new UniPCWeights(schedule, opts);
  }

  step(i: number, x: Tensor, v: Tensor): Tensor {
    checkDeviceStep(this, i, x, v, this.next);
    this.next++;
    const b = this.backend;
    const { corrector, predictor } = this.weights.step(i);
    // mT and the sample are kept between steps: keep() takes them out of any enclosing scope()
    const mT = keep(linearCombination(b, [[1, x], [-this.schedule.sigmas[i], v]]));
    const m0 = this.history[this.history.length - 1] ?? mT;
    const m1 = this.history[this.history.length - 2] ?? m0;
    let sample: Tensor;
    if (corrector) {
      // a x_last + c0 m0 + cD (m1 - m0) + cT (mT - m0)
      const [a, c0, cD, cT] = corrector;
      sample = keep(linearCombination(b, [[a, this.last as Tensor], [c0 - cD - cT, m0], [cD, m1], [cT, mT]]));
    } else sample = keep(x.reshape(x.shape)); // a handle of our own on the caller's latent
    // a x + c0 mT + cD (m0 - mT)
    const [a, c0, cD] = predictor;
    const out = linearCombination(b, [[a, sample], [c0 - cD, mT], [cD, m0]]);
    if (this.history.length === 2) this.history[0].dispose();
    this.history = [...this.history.slice(-1), mT];
    this.last?.dispose();
    this.last = sample;
    return out;
  }

  dispose(): void {
    for (const t of this.history) t.dispose();
    this.last?.dispose();
    this.history = [];
    this.last = null;
  }
}

/** A device sampler by name: 'unipc' (Wan's, options as {@link UniPCOptions}) or 'euler'. */
export function deviceSampler(kind: 'unipc' | 'euler', backend: Backend, schedule: FlowSchedule, opts: UniPCOptions = {}): DeviceSampler {
  if (kind === 'unipc') return new DeviceUniPC(backend, schedule, opts);
  if (kind === 'euler') return new DeviceEuler(backend, schedule);
  throw new PipelineOptionError(`deviceSampler: kind must be 'unipc' or 'euler', got ${String(kind)}`);
}
