import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, cpuBackend } from '@mod-dit/tensor';
import { selectBackend } from '../src/backend-select.js';

// Node has no navigator.gpu: the page's fallback path, as a browser without WebGPU takes it.
describe('selectBackend without navigator.gpu', () => {
  it("'auto' falls back to the CPU backend and says why", async () => {
    const s = await selectBackend('auto');
    expect(s.backend).toBe(cpuBackend());
    expect(s.fallbackReason).toMatch(/^webgpu backend unavailable: navigator\.gpu is missing/);
  });

  it("'webgpu' throws BackendUnavailableError instead of falling back", async () => {
    await expect(selectBackend('webgpu')).rejects.toThrow(BackendUnavailableError);
  });

  it("'cpu' is the CPU backend with no fallback reason", async () => {
    const s = await selectBackend('cpu');
    expect(s.backend.name).toBe('cpu');
    expect(s.fallbackReason).toBeUndefined();
  });
});
