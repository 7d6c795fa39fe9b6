import { type Backend, type DType, Rng, type Tensor, fromNumbers, toFloat32 } from '@mod-dit/tensor';
import { type WebGPUBackendOptions, type WebGPUBackend, createWebGPUBackend, webgpuAvailability } from '../src/index.js';

/** The adapter probe, run once per test file: tests skip (with the reason printed) when there is no adapter. */
export const availability = await webgpuAvailability();
if (!availability.available) console.warn(`[@mod-dit/webgpu] WebGPU tests skipped: ${availability.reason}`);

export async function gpuBackend(opts?: WebGPUBackendOptions): Promise<WebGPUBackend | undefined> {
  return availability.available ? createWebGPUBackend(opts) : undefined;
}

/** The same seeded random data uploaded to two backends (quantized to `dtype` first). */
export function twin(rng: Rng, a: Backend, b: Backend, shape: number[], dtype: DType = 'f32', std = 1): [Tensor, Tensor] {
  const bits = fromNumbers(rng.normals(shape.reduce((x, y) => x * y, 1), std), dtype);
  return [a.upload(bits, shape, dtype), b.upload(bits, shape, dtype)];
}

/** Norm-wise relative error of `actual` against `expected` (non-finite entries must match exactly). */
export async function relError(actual: Tensor, expected: Tensor): Promise<number> {
  const x = toFloat32(await actual.read(), actual.dtype);
  const y = toFloat32(await expected.read(), expected.dtype);
  if (x.length !== y.length) return Infinity;
  let d = 0;
  let r = 0;
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i]) || !Number.isFinite(x[i])) {
      if (!Object.is(x[i], y[i])) return Infinity;
      continue;
    }
    d += (x[i] - y[i]) ** 2;
    r += y[i] ** 2;
  }
  return d === 0 ? 0 : Math.sqrt(d / r);
}
