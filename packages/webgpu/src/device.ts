import { BackendUnavailableError, UnsupportedFeatureError } from '@mod-dit/tensor';

/** Dawn toggles NVIDIA needs for shader-f16 and subgroup matrices on Vulkan (see docs/toolchain.md); unquantized timestamps for GPU timing. */
export const DAWN_TOGGLES = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization'];

/** Dawn's instance flags for a request: DAWN_TOGGLES, plus `disable_robustness` when robustness is off. */
export function dawnToggles(req: DeviceRequest = {}): string[] {
  if (req.robustness !== false) return [...DAWN_TOGGLES];
  return DAWN_TOGGLES.map((t) => (t.startsWith('enable-dawn-features=') ? `${t},disable_robustness` : t));
}

/** Optional features a kernel family can use; each has a slower fallback. */
export type WebGPUFeature = 'shader-f16' | 'subgroups' | 'chromium-experimental-subgroup-matrix' | 'timestamp-query';

const WANTED: readonly WebGPUFeature[] = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix', 'timestamp-query'];

/** What the acquired device can do; kernels choose their path from this. */
export interface DeviceCaps {
  features: ReadonlySet<string>;
  /** f16 x f16 -> f32 16x16x16 subgroup matrices with subgroups of exactly 32 (tensor cores on NVIDIA): what the fast kernels assume. */
  subgroupMatrix16: boolean;
  /** Largest subgroup size the adapter reports (0 when unknown). */
  subgroupMaxSize: number;
  maxBindingBytes: number;
  offsetAlign: number;
  maxWorkgroupStorage: number;
  maxInvocations: number;
  maxBufferSize: number;
  description: string;
  /** Whether Dawn's robust buffer access applies (see DeviceRequest.robustness; true for a device the caller created). */
  robustness: boolean;
}

/** A device plus the object that owns its native module (kept alive with it). */
export interface AcquiredDevice {
  device: GPUDevice;
  caps: DeviceCaps;
  /** Keeps Node's GPU instance reachable for the device's lifetime. */
  owner: unknown;
}

export interface DeviceRequest {
  /** Features that must exist, else UnsupportedFeatureError (default: none; missing ones fall back). */
  require?: readonly WebGPUFeature[];
  /** Features to leave off even if present (to test or measure the fallbacks). */
  disable?: readonly WebGPUFeature[];
  powerPreference?: GPUPowerPreference;
  /**
   * Dawn's robust buffer access (default on): every storage index clamped and every
   * subgroup-matrix load or store behind a bounds branch. `false` turns it off (Node only:
   * Dawn's `disable_robustness`, an unsafe toggle that trusts the shaders): this backend's
   * kernels clamp their own accesses (checked by the conformance suite in both modes), and
   * without the branches the subgroup-matrix kernels run faster: on an H100, both modes in one
   * run, the default GEMM 139-193 TFLOP/s off against 116-151 on, dense attention 146 against
   * 132 (docs/benchmarks.md). Browsers keep robustness; `caps.robustness` tells what applies.
   */
  robustness?: boolean;
}

async function nodeGpu(toggles: string[]): Promise<{ gpu: GPU; owner: unknown }> {
  let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    // optional peer dependency: only Node needs it
    mod = (await import(/* @vite-ignore */ 'webgpu' as string)) as typeof mod;
  } catch (e) {
    throw new BackendUnavailableError('webgpu', `no navigator.gpu and the optional 'webgpu' package (Dawn for Node) could not be loaded: ${(e as Error).message}`);
  }
  // Dawn's constants (GPUBufferUsage...) are globals in browsers; Node needs them installed.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = mod.create(toggles);
  return { gpu, owner: gpu };
}

interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/**
 * Acquires a GPUDevice: `navigator.gpu` in browsers, the `webgpu` package in Node. Requests
 * the adapter's full storage-binding, buffer and workgroup limits and every useful feature
 * it has; a missing optional feature only disables the path that needs it.
 */
export async function acquireDevice(req: DeviceRequest = {}): Promise<AcquiredDevice> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const { gpu, owner } = nav?.gpu ? { gpu: nav.gpu, owner: nav.gpu } : await nodeGpu(dawnToggles(req));
  const adapter = await gpu.requestAdapter({ powerPreference: req.powerPreference ?? 'high-performance' });
  if (!adapter) throw new BackendUnavailableError('webgpu', 'requestAdapter() returned no adapter (no GPU, or no Vulkan/Metal/D3D12 driver such as Mesa lavapipe)');
  const disabled = new Set(req.disable ?? []);
  const features = WANTED.filter((f) => adapter.features.has(f) && !disabled.has(f));
  for (const f of req.require ?? [])
    if (!features.includes(f)) throw new UnsupportedFeatureError(`webgpu: adapter '${adapter.info?.description || adapter.info?.vendor || 'unknown'}' lacks required feature '${f}'`);
  const al = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits: {
      maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
      maxBufferSize: al.maxBufferSize,
      maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
    },
  });
  // robustness can only be turned off through Dawn's instance toggles (Node)
  return { device, owner, caps: { ...deviceCaps(device, adapter.info), robustness: nav?.gpu !== undefined || req.robustness !== false } };
}

/** Capabilities of a device (also for a device the caller created: pass its adapter info). */
export function deviceCaps(device: GPUDevice, adapterInfo?: GPUAdapterInfo): DeviceCaps {
  const info = (adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ?? {}) as Partial<GPUAdapterInfo> & {
    subgroupMatrixConfigs?: SubgroupMatrixConfig[];
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const has = (f: string): boolean => device.features.has(f);
  const subgroupMatrix16 =
    has('chromium-experimental-subgroup-matrix') &&
    has('shader-f16') &&
    has('subgroups') &&
    info.subgroupMinSize === 32 &&
    info.subgroupMaxSize === 32 &&
    (info.subgroupMatrixConfigs ?? []).some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && c.N === 16 && c.K === 16);
  const dl = device.limits;
  return {
    features: new Set([...device.features]),
    subgroupMatrix16,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    maxBindingBytes: dl.maxStorageBufferBindingSize,
    offsetAlign: dl.minStorageBufferOffsetAlignment,
    maxWorkgroupStorage: dl.maxComputeWorkgroupStorageSize,
    maxInvocations: dl.maxComputeInvocationsPerWorkgroup,
    maxBufferSize: dl.maxBufferSize,
    robustness: true,
    description: [info.vendor, info.architecture, info.description].filter(Boolean).join(' / '),
  };
}
