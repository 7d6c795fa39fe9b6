import { createWebGPUBackend } from '@mod-dit/webgpu';
import { type Backend, BackendUnavailableError, cpuBackend } from '@mod-dit/tensor';

/** What the user asked for: the best available backend, or one in particular. */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** The backend the demo runs on, what it is, and why it is not WebGPU when 'auto' fell back. */
export interface SelectedBackend {
  backend: Backend;
  /** One line for the page: adapter and features, or the CPU backend. */
  detail: string;
  /** Set when 'auto' fell back to the CPU: the reason WebGPU could not start. */
  fallbackReason?: string;
}

const CPU_DETAIL = 'CPU reference backend of @mod-dit/tensor (JavaScript + WebAssembly on the main thread)';

async function webgpu(): Promise<SelectedBackend> {
  // Without navigator.gpu the package would try Node's Dawn module, which means nothing in a page.
  const scope = globalThis as { navigator?: { gpu?: unknown }; isSecureContext?: boolean };
  if (!scope.navigator?.gpu)
    throw new BackendUnavailableError(
      'webgpu',
      scope.isSecureContext !== false
        ? 'navigator.gpu is missing: this browser has no WebGPU or it is disabled (Chromium: chrome://flags/#enable-unsafe-webgpu on Linux)'
        : 'navigator.gpu is missing because the page is not a secure context: open it from https:// or http://localhost / 127.0.0.1',
    );
  const backend = await createWebGPUBackend();
  const { caps } = backend;
  const f16 = caps.features.has('shader-f16')
    ? 'shader-f16 yes'
    : 'shader-f16 no (f16 tensors still work: kernels carry them as u16 halves; the tensor-core GEMM needs it)';
  const gemm = caps.subgroupMatrix16 ? 'f16 GEMMs on subgroup matrices' : 'portable GEMMs';
  return { backend, detail: `WebGPU: ${caps.description || 'unnamed adapter'}; ${f16}; ${gemm}; portable flash-attention kernels` };
}

/**
 * Starts the backend for `choice`. 'auto' takes WebGPU when an adapter comes up and
 * otherwise the CPU backend, with the reason; an explicit 'webgpu' throws that reason
 * (BackendUnavailableError / UnsupportedFeatureError) instead.
 */
export async function selectBackend(choice: BackendChoice): Promise<SelectedBackend> {
  if (choice === 'cpu') return { backend: cpuBackend(), detail: CPU_DETAIL };
  if (choice === 'webgpu') return webgpu();
  try {
    return await webgpu();
  } catch (e) {
    return { backend: cpuBackend(), detail: CPU_DETAIL, fallbackReason: (e as Error).message };
  }
}
