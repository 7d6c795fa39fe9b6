import { Rng, type DType, type HostArray } from '@mod-dit/tensor';
import type { Checkpoint, LoadedTensor } from '@mod-dit/tensor/safetensors';
import type { WanConfig } from './config.js';
import { wanWeightShapes } from './weight-names.js';

/** Where weights come from: a checkpoint on disk, or generated. Tensors are read one at a time. */
export interface WeightSource {
  /** Names, in the order they are best read (file order for checkpoints). */
  readonly names: readonly string[];
  /** Shape and dtype of a tensor; undefined when absent or of a dtype our tensors cannot hold. */
  info(name: string): { shape: readonly number[]; dtype: DType | undefined; fileDtype: string } | undefined;
  read(name: string): Promise<LoadedTensor>;
  /** Where the tensors come from, for error messages. */
  readonly where: string;
}

/** A {@link WeightSource} over an open Checkpoint (single file or shards). */
export function checkpointSource(ckpt: Checkpoint): WeightSource {
  return {
    names: [...ckpt.tensors.keys()],
    info: (name) => {
      const t = ckpt.tensors.get(name);
      return t && { shape: t.shape, dtype: t.dtype, fileDtype: t.fileDtype };
    },
    read: (name) => ckpt.read(name),
    where: ckpt.path,
  };
}

/**
 * Seeded weights in the original layout, generated tensor by tensor on demand, uniform with
 * these means and variances: Linear weights (0, 1/fan_in), biases (0, 0.1^2), norm weights
 * (1, 0.2^2), modulation tables (0, 0.5^2). Nothing is zero (the official init zeroes the head, which would make
 * every output trivially equal). Each tensor has its own stream, seeded from `seed` and its
 * index, so reading in any order gives the same values.
 */
export function seededWeightSource(config: WanConfig, seed: number): WeightSource {
  const shapes = wanWeightShapes(config);
  const names = [...shapes.keys()];
  const index = new Map(names.map((n, i) => [n, i]));
  return {
    names,
    where: `seeded ${config.name} weights (seed ${seed})`,
    info: (name) => {
      const shape = shapes.get(name);
      return shape && { shape, dtype: 'f32' as const, fileDtype: 'F32' };
    },
    read: async (name) => {
      const shape = shapes.get(name) as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const rng = new Rng((seed * 0x9e3779b1 + (index.get(name) as number) * 0x85ebca6b) >>> 0);
      // Uniform samples with the intended std (half-width sqrt(3) std): 1.3B weights take seconds, not minutes, to make.
      const sample = (std: number, mean = 0): HostArray => rng.uniforms(n, mean - Math.sqrt(3) * std, mean + Math.sqrt(3) * std);
      let data: HostArray;
      if (name.endsWith('modulation')) data = sample(0.5);
      else if (name.includes('norm') || name.startsWith('img_emb.proj.0') || name.startsWith('img_emb.proj.4'))
        data = name.endsWith('.weight') ? sample(0.2, 1) : sample(0.1);
      else if (name.endsWith('.bias')) data = sample(0.1);
      else data = sample(1 / Math.sqrt(n / shape[0]));
      return { dtype: 'f32', shape, data };
    },
  };
}
