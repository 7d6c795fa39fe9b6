import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend, Rng } from '@mod-dit/tensor';
import { type SgMatmulConfig, SG_MATMUL_DEFAULT, SG_MATMUL_SMALL, sgMatmulName, sgMatmulWorkgroupBytes } from '../src/kernels/matmul-sgmat.js';
import { availability, gpuBackend, relError, twin } from './support.js';

// The subgroup-matrix GEMM with its fragment operations emulated (lavapipe has no subgroup
// matrices): multi-subgroup tiling, staging through workgroup memory with and without the next
// step prefetched (K = 48, not a multiple of the 32-wide step), clamped direct loads and
// ragged edges against the CPU reference. The native
// fragments are checked on the GPU by tools/bench/webgpu-sgmat-check.mjs.
const gpu = await gpuBackend({ paths: { emulateFragments: true } });
const cpu = new CpuBackend();
afterAll(() => gpu?.destroy());
// emulation needs shader-f16 and subgroups
const active = gpu?.subgroupMatrixActive ?? false;

const CASES: [SgMatmulConfig, boolean][] = [
  [{ grid: [2, 2], frags: [2, 1], operands: 'staged' }, true],
  [{ grid: [2, 2], frags: [2, 1], operands: 'staged' }, false],
  [{ grid: [2, 2], frags: [1, 2], operands: 'staged' }, true],
  [{ grid: [2, 2], frags: [2, 1], operands: 'staged', prefetch: false }, false],
  [{ grid: [2, 1], frags: [1, 2], operands: 'direct' }, true],
];

describe.skipIf(!availability.available || !active)('subgroup-matrix GEMM (emulated fragments) vs the CPU reference, f16', () => {
  for (const [config, tb] of CASES) {
    it(`${sgMatmulName(config)}, transposeB ${tb}: [2, 100, 48] x ${tb ? '[40, 48]^T' : '[48, 40]'} + bias, with and without the GELU epilogue`, async () => {
      if (!gpu) return;
      gpu.paths.sgMatmul = config;
      const rng = new Rng(41);
      const [ga, ca] = twin(rng, gpu, cpu, [2, 100, 48], 'f16');
      const [gb, cb] = twin(rng, gpu, cpu, tb ? [40, 48] : [48, 40], 'f16', 0.2);
      const [gbias, cbias] = twin(rng, gpu, cpu, [40], 'f16');
      for (const activation of [undefined, 'gelu'] as const) {
        const g = gpu.matmul(ga, gb, { transposeB: tb, bias: gbias, activation });
        expect(gpu.kernels.source(`matmul-sgmat/emulated/tb${tb ? 1 : 0}/biasf16/act${activation ?? '-'}/${sgMatmulName(config)}`)).toBeDefined();
        expect(await relError(g, cpu.matmul(ca, cb, { transposeB: tb, bias: cbias, activation }))).toBeLessThanOrEqual(1e-2);
      }
    });
  }

  it('takes the first fitting smaller tiling where the device is too small for the configured one', async () => {
    if (!gpu) return;
    gpu.paths.sgMatmul = undefined;
    const fits = (c: SgMatmulConfig) => sgMatmulWorkgroupBytes(c, true) <= gpu.caps.maxWorkgroupStorage && 32 * c.grid[0] * c.grid[1] <= gpu.caps.maxInvocations;
    const expected = [SG_MATMUL_DEFAULT, ...SG_MATMUL_SMALL].find(fits);
    if (!expected) return;
    const rng = new Rng(43);
    const [ga, ca] = twin(rng, gpu, cpu, [70, 64], 'f16');
    const [gb, cb] = twin(rng, gpu, cpu, [72, 64], 'f16', 0.2);
    const g = gpu.matmul(ga, gb, { transposeB: true });
    expect(gpu.kernels.source(`matmul-sgmat/emulated/tb1/bias-/act-/${sgMatmulName(expected)}`)).toBeDefined();
    expect(await relError(g, cpu.matmul(ca, cb, { transposeB: true }))).toBeLessThanOrEqual(1e-2);
  });
});
