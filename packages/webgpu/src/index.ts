import { type DeviceRequest, acquireDevice, deviceCaps } from './device.js';
import { type KernelPaths, WebGPUBackend } from './webgpu-backend.js';

export { DEFAULT_CACHE_BYTES, WebGPUBackend, type KernelPaths } from './webgpu-backend.js';
export { DAWN_TOGGLES, dawnToggles, type DeviceCaps, type DeviceRequest, type WebGPUFeature, acquireDevice, deviceCaps } from './device.js';
export { type BindingLimits, type BindingWindow, type Chunk, type OperandAccess, planChunks, touchedRange } from './binding-plan.js';
export { KernelCache, type KernelSpec } from './kernel-cache.js';
export { type SgMatmulConfig, SG_MATMUL_CONFIGS, SG_MATMUL_DEFAULT, SG_MATMUL_SMALL, sgMatmulName } from './kernels/matmul-sgmat.js';
export { type SgAttentionConfig, SG_ATTENTION_CONFIGS, SG_ATTENTION_DEFAULT, SG_ATTENTION_SMALL, sgAttentionName } from './kernels/attention-sgmat.js';

/** Options of {@link createWebGPUBackend}. */
export interface WebGPUBackendOptions extends DeviceRequest {
  /** Use this device instead of acquiring one (e.g. shared with a renderer or another runtime). */
  device?: GPUDevice;
  /** Binds at most this many bytes per storage binding (below the device limit): exercises the split path. */
  maxBindingBytes?: number;
  /** Turn fast paths off (to compare against the portable kernels). */
  paths?: Partial<KernelPaths>;
  /** Most bytes of freed tensor buffers kept for reuse (default DEFAULT_CACHE_BYTES, 4 GiB); 0 frees each at once. */
  cacheBytes?: number;
}

/**
 * Creates the WebGPU backend: `navigator.gpu` in browsers, the optional `webgpu` package
 * (Dawn) in Node. Throws BackendUnavailableError when no adapter exists and
 * UnsupportedFeatureError when a feature listed in `require` is missing.
 */
export async function createWebGPUBackend(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const acquired = opts.device ? { device: opts.device, caps: deviceCaps(opts.device), owner: undefined } : await acquireDevice(opts);
  const caps = { ...acquired.caps };
  if (opts.maxBindingBytes !== undefined) caps.maxBindingBytes = Math.min(caps.maxBindingBytes, opts.maxBindingBytes);
  return new WebGPUBackend(acquired.device, caps, acquired.owner, opts.paths, opts.cacheBytes);
}

/** Whether a WebGPU adapter can be acquired here; the reason when not (for skipping tests). */
export async function webgpuAvailability(): Promise<{ available: true } | { available: false; reason: string }> {
  try {
    const { device } = await acquireDevice();
    device.destroy();
    return { available: true };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}
