import { loadDriver } from './driver.js';
import { kernelDir } from './kernel-modules.js';

/** Whether a CUDA backend can start here, and why not. */
export type CudaAvailability = { available: true; device: string } | { available: false; reason: string };

let cached: CudaAvailability | undefined;

/** Probes the driver, a device and the compiled kernels once; never throws. */
export function cudaAvailability(): CudaAvailability {
  if (cached) return cached;
  try {
    kernelDir();
    let api;
    try {
      api = loadDriver();
    } catch (e) {
      return (cached = { available: false, reason: `libcuda.so.1 could not be loaded (no NVIDIA driver): ${e instanceof Error ? e.message : String(e)}` });
    }
    const init = api.cuInit(0);
    if (init !== 0) return (cached = { available: false, reason: `cuInit returned ${init} (no usable NVIDIA driver/GPU)` });
    const count = Buffer.alloc(4);
    const rc = api.cuDeviceGetCount(count);
    if (rc !== 0 || count.readInt32LE(0) < 1) return (cached = { available: false, reason: 'no CUDA device found' });
    const name = Buffer.alloc(256);
    api.cuDeviceGetName(name, 256, 0);
    cached = { available: true, device: name.toString('utf8', 0, name.indexOf(0)) };
  } catch (e) {
    cached = { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
  return cached;
}
