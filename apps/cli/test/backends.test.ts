import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, cpuBackend } from '@mod-dit/tensor';
import { cudaAvailability } from '@mod-dit/cuda';
import { type WebGPUBackend, webgpuAvailability } from '@mod-dit/webgpu';
import { closeBackend, openBackend } from '../src/backends.js';
import { runCli } from '../src/program.js';

const cuda = cudaAvailability();
const webgpu = await webgpuAvailability();

describe('backend selection', () => {
  it('opens the shared CPU backend and leaves it usable after close', async () => {
    const b = await openBackend('cpu');
    expect(b).toBe(cpuBackend());
    closeBackend(b);
    const t = b.upload(new Float32Array([1.5, -2.25]), [2], 'f32');
    expect(Array.from(await t.read())).toEqual([1.5, -2.25]);
    t.dispose();
  });

  it.skipIf(cuda.available)('reports a missing CUDA driver as a typed error and exit code 1', async () => {
    await expect(openBackend('cuda')).rejects.toBeInstanceOf(BackendUnavailableError);
    let err = '';
    const code = await runCli(['generate', '--backend', 'cuda', '--quiet'], { out: () => {}, err: (s) => (err += s) });
    expect(code).toBe(1);
    expect(err).toMatch(/^mod-dit: cuda backend unavailable: /);
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.skipIf(!webgpu.available)('opens WebGPU with or without Dawn robustness', async () => {
    for (const webgpuRobustness of [true, false]) {
      const b = (await openBackend('webgpu', { webgpuRobustness })) as WebGPUBackend;
      expect(b.caps.robustness).toBe(webgpuRobustness);
      const t = b.upload(new Float32Array([1.5, -2.25, 3]), [3], 'f32');
      expect(Array.from(await b.softmax(t).toFloat32()).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
      closeBackend(b);
    }
  });

  it('rejects an unknown backend as a usage error', async () => {
    let err = '';
    const code = await runCli(['generate', '--backend', 'tpu'], { out: () => {}, err: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toMatch(/tpu/);
  });
});
