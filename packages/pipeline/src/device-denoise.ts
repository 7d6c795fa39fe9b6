import { type Backend, type Shape, Tensor, shapeEquals } from '@mod-dit/tensor';
import type { Branch } from '@mod-dit/scheduler';
import { COND, StepLog, branches, guidanceScale, type DenoiseOptions, type DenoiseResult, type ModelCall } from './denoise.js';
import { type DeviceSampler, deviceSampler, linearCombination } from './device-sampler.js';
import { DenoiseCancelledError, ModelOutputError, PipelineOptionError } from './errors.js';

/** The denoiser on the device: velocity [shape] f32 for the latent tensor x; the loop owns (and frees) what it returns. */
export type DeviceVelocityModel = (x: Tensor, call: ModelCall) => Tensor | Promise<Tensor>;

/** Options of {@link denoiseOnDevice}: those of denoise() with a device model, sampler and latent shape. */
export interface DeviceDenoiseOptions extends Omit<DenoiseOptions, 'model' | 'sampler' | 'onStep'> {
  backend: Backend;
  model: DeviceVelocityModel;
  /** Shape of the latent (and of `noise`, host float32 in row-major order). */
  shape: Shape;
  /** 'unipc' (Wan's, default), 'euler', or a device sampler built on `schedule` and `backend`. */
  sampler?: 'unipc' | 'euler' | DeviceSampler;
}

/**
 * denoise() with the latent, the velocities, guidance and the sampler on the backend: nothing
 * crosses to the host until the final latent, so the device never waits for host-side
 * sampling between steps. Each step ends with backend.sync(), which makes `stepMs` and the
 * progress events device time. The final latent is checked for non-finite values (the
 * per-call checks of denoise() would need a read-back per call).
 */
export async function denoiseOnDevice(opts: DeviceDenoiseOptions): Promise<DenoiseResult> {
  const { backend: b, model, schedule, noise, shape, signal } = opts;
  const guidance = guidanceScale('denoiseOnDevice', opts.guidance);
  const sampler = typeof opts.sampler === 'object' ? opts.sampler : deviceSampler(opts.sampler ?? 'unipc', b, schedule);
  if (sampler.schedule !== schedule) throw new PipelineOptionError(`denoiseOnDevice: the ${sampler.name} sampler was built on a different schedule`);
  const steps = new StepLog(opts);
  let x = b.upload(noise, shape, 'f32');
  try {
    for (let i = 0; i < schedule.steps; i++) {
      const call = async (branch: Branch): Promise<Tensor> => {
        if (signal?.aborted) throw new DenoiseCancelledError(i, signal.reason);
        return checkedTensor(await model(x, { step: i, timestep: schedule.timesteps[i], sigma: schedule.sigmas[i], branch, signal }), shape, i, branch);
      };
      let v: Tensor;
      if (guidance === 1) v = await call(COND);
      else {
        const [vCond, vUncond] = await branches(call, opts.concurrentBranches ?? false, (t) => t.dispose());
        v = linearCombination(b, [[1 - guidance, vUncond], [guidance, vCond]]);
        vCond.dispose();
        vUncond.dispose();
      }
      const next = sampler.step(i, x, v);
      v.dispose();
      x.dispose();
      x = next;
      await b.sync();
      steps.end(i);
    }
    const latent = await x.toFloat32();
    const bad = latent.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) throw new ModelOutputError(`denoiseOnDevice: the final latent has ${latent[bad]} at [${bad}]`);
    return { latent, stepMs: steps.stepMs, sparsity: steps.sparsity };
  } finally {
    x.dispose();
    if (sampler !== opts.sampler) sampler.dispose();
  }
}

function checkedTensor(v: unknown, shape: Shape, step: number, branch: Branch): Tensor {
  if (!(v instanceof Tensor) || v.dtype !== 'f32' || !shapeEquals(v.shape, shape)) {
    if (v instanceof Tensor) v.dispose();
    const got = v instanceof Tensor ? `${v.dtype} [${v.shape.join(', ')}]` : typeof v;
    throw new ModelOutputError(`step ${step}, branch ${String(branch)}: model returned ${got}, expected an f32 tensor [${shape.join(', ')}]`);
  }
  return v;
}
