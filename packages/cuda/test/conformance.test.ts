import { conformanceCases } from '@mod-dit/tensor/conformance';
import { describe, it } from 'vitest';
import { cudaAvailability } from '../src/availability.js';
import { createCudaBackend } from '../src/cuda-backend.js';

const availability = cudaAvailability();
if (!availability.available) console.warn(`@mod-dit/cuda: skipping GPU tests: ${availability.reason}`);
const backend = availability.available ? createCudaBackend() : undefined;

describe(`conformance on ${availability.available ? availability.device : 'no GPU'}`, () => {
  if (!backend) {
    it.skip(`CUDA unavailable: ${availability.available ? '' : availability.reason}`);
    return;
  }
  // 'small' covers every op; 'medium' attention runs the tensor-core kernels (head_dim 64/128)
  const cases = [
    ...conformanceCases(backend, { size: 'small' }),
    ...conformanceCases(backend, { size: 'medium', only: /attention/ }).map((c) => ({ ...c, name: `medium ${c.name}` })),
  ];
  for (const c of cases) it(c.name, c.run, 120_000);
});
