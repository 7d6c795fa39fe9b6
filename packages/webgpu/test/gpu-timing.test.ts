import { afterAll, describe, expect, it } from 'vitest';
import { Rng, fromNumbers } from '@mod-dit/tensor';
import { availability, gpuBackend } from './support.js';

// GPU timing by timestamp queries (what the benchmarks use): one time per marked call, from
// its first compute pass to its last; a call that records no pass takes 0 ms.
const gpu = await gpuBackend();
afterAll(() => gpu?.destroy());

describe.skipIf(!availability.available || !gpu?.canTimeGpu)('timeGpu (timestamp-query)', () => {
  it('times each call (longer calls longer), rethrows errors of fn and can time again', async () => {
    if (!gpu) return;
    const rng = new Rng(5);
    const x = gpu.upload(fromNumbers(rng.normals(256 * 256), 'f32'), [256, 256], 'f32');
    const small = gpu.upload(fromNumbers(rng.normals(16 * 16), 'f32'), [16, 16], 'f32');
    const big = await gpu.timeGpu(() => {
      for (let i = 0; i < 4; i++) gpu.matmul(x, x).dispose();
    }, 3);
    const tiny = await gpu.timeGpu(() => gpu.matmul(small, small).dispose(), 3);
    const none = await gpu.timeGpu(() => undefined, 2);
    expect(big).toHaveLength(3);
    for (const t of [...big, ...tiny]) expect(t).toBeGreaterThan(0);
    expect(Math.min(...big)).toBeGreaterThan(Math.max(...tiny));
    expect(none).toEqual([0, 0]);
    await expect(gpu.timeGpu(() => gpu.matmul(x, small), 1)).rejects.toThrow(/matmul/);
    // nothing left half-started: a new timing works
    expect(await gpu.timeGpu(() => gpu.matmul(small, small).dispose(), 1)).toHaveLength(1);
  });
});
