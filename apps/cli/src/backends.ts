import { type Backend, BackendUnavailableError, cpuBackend } from '@mod-dit/tensor';

/** Compute backends the CLI can run on. */
export const BACKEND_NAMES = ['cpu', 'cuda', 'webgpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Options of {@link openBackend}. */
export interface OpenBackendOptions {
  /** WebGPU: Dawn's robust buffer access (default true; false: Node only, see @mod-dit/webgpu). */
  webgpuRobustness?: boolean;
}

/**
 * Starts a backend by name. GPU backends are imported on demand, so the CLI starts without
 * koffi or Dawn; a machine without the driver or adapter gets BackendUnavailableError with
 * the reason (exit code 1), never a crash.
 */
export async function openBackend(name: BackendName, opts: OpenBackendOptions = {}): Promise<Backend> {
  switch (name) {
    case 'cpu':
      return cpuBackend();
    case 'cuda': {
      const cuda = await import('@mod-dit/cuda');
      return cuda.createCudaBackend();
    }
    case 'webgpu': {
      const webgpu = await import('@mod-dit/webgpu');
      return webgpu.createWebGPUBackend({ robustness: opts.webgpuRobustness ?? true });
    }
    default:
      throw new BackendUnavailableError(String(name), `unknown backend; known: ${BACKEND_NAMES.join(', ')}`);
  }
}

/** Releases a backend from {@link openBackend}; the CPU backend is a shared instance and stays. */
export function closeBackend(backend: Backend): void {
  if (backend.name !== 'cpu') backend.destroy?.();
}
