import { ModDitError } from '@mod-dit/tensor';

/** A checkpoint does not fit the model: unknown layout, missing or unexpected key, wrong shape or dtype. Names the key. */
export class WanWeightsError extends ModDitError {
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super('E_WEIGHTS', key ? `${key}: ${message}` : message);
    this.key = key;
  }
}

/** An input (embeddings, CLIP features, conditioning latent, noise, latent size) has the wrong shape or is missing. Names it. */
export class WanInputError extends ModDitError {
  constructor(message: string) {
    super('E_INPUT', message);
  }
}
