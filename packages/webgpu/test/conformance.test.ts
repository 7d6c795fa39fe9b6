import { afterAll, describe, it } from 'vitest';
import { conformanceCases } from '@mod-dit/tensor/conformance';
import { availability, gpuBackend } from './support.js';

// The shared backend conformance suite at test size against the CPU reference, every float
// dtype (on lavapipe in CI; on a GPU with subgroup matrices the f16 cases take those kernels).
const backend = await gpuBackend();
afterAll(() => backend?.destroy());

describe.skipIf(!availability.available)('WebGPU backend conformance (size small) vs the CPU reference', () => {
  if (!backend) return;
  for (const c of conformanceCases(backend, { size: 'small' })) it(c.name, c.run);
});
