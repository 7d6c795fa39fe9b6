import { Rng } from '@mod-dit/tensor';
import { PipelineOptionError } from './errors.js';

/**
 * Standard normal latent noise from the project's seeded Rng (xoshiro128** + Box-Muller):
 * the same seed gives the same noise in every runtime of this project. (It is not torch's
 * generator: to compare with PyTorch step for step, write the noise to a file and read it.)
 */
export function seededNoise(shape: readonly number[], seed: number): Float32Array {
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new PipelineOptionError(`noise: shape [${shape.join(', ')}] must be positive integers`);
  if (!Number.isInteger(seed)) throw new PipelineOptionError(`noise: seed must be an integer, got ${seed}`);
  return new Rng(seed).normals(shape.reduce((a, b) => a * b, 1));
}
