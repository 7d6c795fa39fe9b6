import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, CpuBackend, Rng, UnsupportedFeatureError } from '@mod-dit/tensor';
import { DAWN_TOGGLES, SG_ATTENTION_DEFAULT, acquireDevice, createWebGPUBackend, dawnToggles, sgAttentionName, sgMatmulName } from '../src/index.js';
import { availability, gpuBackend, relError, twin } from './support.js';

describe('device acquisition', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete (globalThis as { navigator?: unknown }).navigator;
  });

  it('reports a missing adapter as BackendUnavailableError', async () => {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: { requestAdapter: async () => null } }, configurable: true });
    await expect(acquireDevice()).rejects.toThrow(BackendUnavailableError);
    await expect(createWebGPUBackend()).rejects.toThrow(/no adapter/);
  });

  it.skipIf(!availability.available)('reports a required feature the adapter lacks as UnsupportedFeatureError', async () => {
    const { device, caps } = await acquireDevice();
    device.destroy();
    const missing = (['chromium-experimental-subgroup-matrix', 'shader-f16', 'subgroups'] as const).find((f) => !caps.features.has(f));
    if (!missing) return; // this adapter has them all: nothing to reject
    await expect(acquireDevice({ require: [missing] })).rejects.toThrow(UnsupportedFeatureError);
    await expect(acquireDevice({ require: [missing] })).rejects.toThrow(missing);
  });

  it('turns Dawn robustness off only when asked (a toggle of Node\'s GPU instance)', () => {
    expect(dawnToggles()).toEqual(DAWN_TOGGLES);
    expect(dawnToggles({ robustness: true })).toEqual(DAWN_TOGGLES);
    const off = dawnToggles({ robustness: false });
    expect(off.find((t) => t.startsWith('enable-dawn-features='))!.split('=')[1].split(',')).toContain('disable_robustness');
    expect(off.filter((t) => !t.startsWith('enable-dawn-features='))).toEqual(DAWN_TOGGLES.filter((t) => !t.startsWith('enable-dawn-features=')));
  });

  it.skipIf(!availability.available)('without robustness, reports it and the kernels still match the CPU reference', async () => {
    // f32 through the portable kernels; f16 through the subgroup-matrix ones (emulated fragments
    // where the adapter has none): the default attention tiling, and a GEMM tiling small enough
    // for lavapipe's 32 KiB of workgroup memory
    const gemmTiling = { grid: [2, 2], frags: [1, 2], operands: 'staged' } as const;
    const fast = await createWebGPUBackend({ robustness: false, paths: { emulateFragments: true, sgMatmul: gemmTiling } });
    expect(fast.caps.robustness).toBe(false);
    const rng = new Rng(35);
    const cpu = new CpuBackend();
    for (const [dtype, tol] of [['f32', 1e-5], ['f16', 1e-2]] as const) {
      const [ga, ca] = twin(rng, fast, cpu, [37, 32], dtype);
      const [gb, cb] = twin(rng, fast, cpu, [24, 32], dtype);
      expect(await relError(fast.matmul(ga, gb, { transposeB: true }), cpu.matmul(ca, cb, { transposeB: true }))).toBeLessThanOrEqual(tol);
      const [gq, cq] = twin(rng, fast, cpu, [1, 2, 45, 16], dtype);
      const [gk, ck] = twin(rng, fast, cpu, [1, 2, 33, 16], dtype);
      expect(await relError(fast.attention(gq, gk, gk).out, cpu.attention(cq, ck, ck).out)).toBeLessThanOrEqual(tol);
    }
    if (fast.subgroupMatrixActive) {
      expect(fast.kernels.source(`matmul-sgmat/${fast.caps.subgroupMatrix16 ? 'native' : 'emulated'}/tb1/bias-/act-/${sgMatmulName(gemmTiling)}`)).toBeDefined();
      expect(fast.kernels.source(`attn-sgmat/${fast.caps.subgroupMatrix16 ? 'native' : 'emulated'}/d16/dense/${sgAttentionName(SG_ATTENTION_DEFAULT)}`)).toBeDefined();
    }
    fast.destroy();
    const { device, caps } = await acquireDevice();
    expect(caps.robustness).toBe(true);
    device.destroy();
  });

  it.skipIf(!availability.available)('requests the adapter limits and leaves disabled features off', async () => {
    const { device, caps } = await acquireDevice({ disable: ['shader-f16', 'subgroups'] });
    expect(caps.features.has('shader-f16')).toBe(false);
    expect(caps.features.has('subgroups')).toBe(false);
    expect(caps.subgroupMatrix16).toBe(false);
    expect(caps.maxBindingBytes).toBeGreaterThanOrEqual(128 << 20);
    expect(caps.offsetAlign).toBeGreaterThan(0);
    device.destroy();
  });
});

const gpu = await gpuBackend();
const cpu = new CpuBackend();
afterAll(() => gpu?.destroy());

describe.skipIf(!availability.available)('backend basics', () => {
  it('works without shader-f16: f16 and bf16 are carried as u16 halves of u32 words', async () => {
    const plain = await createWebGPUBackend({ disable: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'] });
    expect(plain.floatDTypes).toEqual(['f32', 'f16', 'bf16']);
    const rng = new Rng(31);
    for (const dtype of ['f16', 'bf16'] as const) {
      const [ga, ca] = twin(rng, plain, cpu, [9, 7], dtype);
      const [gb, cb] = twin(rng, plain, cpu, [7, 5], dtype);
      expect(await relError(plain.matmul(ga, gb), cpu.matmul(ca, cb))).toBeLessThanOrEqual(1e-2);
    }
    plain.destroy();
  });

  it('compiles each kernel spec once and reuses its pipeline', async () => {
    if (!gpu) return;
    const rng = new Rng(32);
    const [a] = twin(rng, gpu, cpu, [5, 6]);
    const [b] = twin(rng, gpu, cpu, [6]);
    gpu.add(a, b).dispose();
    const after = gpu.kernels.size;
    for (let i = 0; i < 3; i++) gpu.add(a, b).dispose();
    expect(gpu.kernels.size).toBe(after);
    gpu.mul(a, b).dispose();
    expect(gpu.kernels.size).toBe(after + 1);
    await gpu.sync();
  });

  it('frees every buffer when tensors are disposed', async () => {
    if (!gpu) return;
    const before = gpu.liveStorages;
    const rng = new Rng(33);
    const [x] = twin(rng, gpu, cpu, [4, 16]);
    const view = x.transpose();
    const y = gpu.softmax(view); // copies the view first, then frees the copy
    expect(gpu.liveStorages).toBe(before + 2);
    for (const t of [y, view, x]) t.dispose();
    expect(gpu.liveStorages).toBe(before);
    await gpu.sync();
  });

  it('reuses freed buffers, ordered after the work still reading them', async () => {
    if (!gpu) return;
    const rng = new Rng(36);
    const [a, ca] = twin(rng, gpu, cpu, [37, 11]);
    const [b, cb] = twin(rng, gpu, cpu, [37, 11]);
    const stats = gpu.memoryStats;
    const sum = gpu.add(a, b); // recorded, not yet run
    a.dispose(); // its buffer goes to the cache while the add still reads it
    expect(gpu.memoryStats.cachedBytes).toBeGreaterThan(stats.cachedBytes);
    const host = new Float32Array(37 * 11).map((_, i) => Math.sin(i) * 3 + 0.5);
    const reused = gpu.upload(host, [37, 11], 'f32'); // same size class: a's buffer, overwritten
    expect(gpu.memoryStats.cachedBytes).toBe(stats.cachedBytes);
    expect(await relError(sum, cpu.add(ca, cb))).toBeLessThanOrEqual(1e-6);
    expect(Array.from(await reused.toFloat32())).toEqual(Array.from(host));
    for (const t of [sum, b, reused, ca, cb]) t.dispose();
    gpu.emptyCache();
    expect(gpu.memoryStats.cachedBytes).toBe(0);
    await gpu.sync();
  });

  it('keeps its buffer cache under cacheBytes and drops it on a device error', async () => {
    await expect(createWebGPUBackend({ cacheBytes: Number.NaN })).rejects.toMatchObject({ code: 'E_ARGUMENT' });
    const small = await createWebGPUBackend({ cacheBytes: 8192 });
    const host = new Float32Array(1500).map((_, i) => Math.cos(i));
    const ts = [0, 1, 2].map(() => small.upload(host, [1500], 'f32')); // 6000 bytes: 8 KiB blocks
    for (const t of ts) t.dispose();
    expect(small.memoryStats.cachedBytes).toBe(8192);
    const kept = small.upload(host, [1500], 'f32');
    expect(Array.from(await kept.toFloat32())).toEqual(Array.from(host));
    kept.dispose();
    small.device.createBuffer({ size: 4, usage: 0 }); // invalid: a device error at the next drain
    await expect(small.sync()).rejects.toThrow(/webgpu device error/);
    expect(small.memoryStats.cachedBytes).toBe(0);
    small.destroy();
  });
});
