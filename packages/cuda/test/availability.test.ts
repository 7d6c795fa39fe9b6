import { BackendUnavailableError } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { cudaAvailability } from '../src/availability.js';
import { CudaBackend, createCudaBackend } from '../src/cuda-backend.js';
import { bindLibrary } from '../src/native-library.js';

const availability = cudaAvailability();

describe('availability', () => {
  it.runIf(!availability.available)('without a usable GPU, createCudaBackend throws BackendUnavailableError with the reason', () => {
    expect(CudaBackend.isAvailable()).toBe(false);
    const reason = availability.available ? '' : availability.reason;
    expect(reason.length).toBeGreaterThan(0);
    expect(() => createCudaBackend()).toThrow(BackendUnavailableError);
    expect(() => createCudaBackend()).toThrow(reason);
  });
  it.runIf(availability.available)('with a GPU, the backend starts and names its device', () => {
    expect(CudaBackend.isAvailable()).toBe(true);
    const b = createCudaBackend();
    expect(b.device.name).toBe(availability.available ? availability.device : '');
    expect(b.device.computeCapability[0]).toBeGreaterThanOrEqual(8);
    b.destroy();
  });
});

describe('native library binding', () => {
  it('binds C declarations by name through koffi', () => {
    const libc = bindLibrary<{ labs(x: number): number; strlen(s: string): number }>('libc.so.6', ['long labs(long x)', 'size_t strlen(const char *s)']);
    expect(libc.labs(-41)).toBe(41);
    expect(libc.strlen('mod-dit')).toBe(7);
  });
  it('rejects a declaration it cannot name', () => {
    expect(() => bindLibrary('libc.so.6', ['not a declaration'])).toThrow(TypeError);
  });
});
