import type { Tensor } from '@mod-dit/tensor';
import type { DeviceVelocityModel, ModelCall, VelocityModel } from '@mod-dit/pipeline';
import { UNCOND } from '@mod-dit/pipeline';
import type { LatentShape } from './config.js';
import { WanInputError } from './errors.js';
import type { WanInputs } from './inputs.js';
import type { WanModel } from './model.js';

/** A pipeline VelocityModel over a WanModel, with the text (and image) embeddings of both branches computed once. */
export interface WanVelocity {
  velocity: VelocityModel;
  /** The same model for denoiseOnDevice(): latent and velocity stay on the backend. */
  deviceVelocity: DeviceVelocityModel;
  /** Frees the cached embeddings. */
  dispose(): void;
}

/**
 * Binds a WanModel to one run's inputs: the cond branch uses `context`, the uncond branch
 * `context_null` (Wan's negative prompt); both share the CLIP tokens and y for I2V.
 * `withUncond` false skips embedding context_null (guidance 1).
 */
export async function wanVelocity(model: WanModel, inputs: WanInputs, shape: LatentShape, withUncond = true): Promise<WanVelocity> {
  const owned: Tensor[] = [];
  try {
    const cond = model.embedText(inputs.context, inputs.contextRows);
    owned.push(cond);
    let uncond: Tensor | undefined;
    if (withUncond) {
      if (!inputs.contextNull) throw new WanInputError('context_null (the negative-prompt embedding) is needed for classifier-free guidance; pass guidance 1 to run without it');
      uncond = model.embedText(inputs.contextNull, inputs.contextNullRows as number);
      owned.push(uncond);
    }
    let image: Tensor | undefined;
    if (model.config.modelType === 'i2v') {
      if (!inputs.clipFea || !inputs.y) throw new WanInputError(`${model.config.name} needs clip_fea and y`);
      image = await model.embedImage(inputs.clipFea, inputs.clipRows as number);
      owned.push(image);
    }
    const args = (latent: Float32Array | Tensor, call: ModelCall) => ({
      latent,
      shape,
      timestep: call.timestep,
      context: call.branch === UNCOND ? (uncond as Tensor) : cond,
      image,
      condition: inputs.y,
      step: call.step,
      branch: call.branch,
    });
    return {
      velocity: (latent, call) => model.forward(args(latent, call)),
      // the device loop passes both branches the same latent tensor: layer 0's self-attention
      // stage, which the text does not reach, runs once per step (the cond branch comes first)
      deviceVelocity: (latent, call) => model.forwardTensor({ ...args(latent, call), ...(uncond ? { prefix: call.branch === UNCOND ? 'reuse' : 'store' } : {}) }),
      dispose: () => owned.forEach((t) => t.dispose()),
    };
  } catch (e) {
    owned.forEach((t) => t.dispose());
    throw e;
  }
}
