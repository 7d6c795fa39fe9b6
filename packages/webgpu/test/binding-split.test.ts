import { afterAll, describe, expect, it } from 'vitest';
import { BlockMask, CpuBackend, Rng } from '@mod-dit/tensor';
import { planChunks } from '../src/binding-plan.js';
import { availability, gpuBackend, relError, twin } from './support.js';

// Every storage binding capped at 4 KiB: each op below touches tensors of 8-40 KiB, so it
// must run in several dispatches bound at different offsets (the path a 730 MB activation
// takes against a 128 MiB binding limit).
const LIMIT = 4096;
const gpu = await gpuBackend({ maxBindingBytes: LIMIT });
const cpu = new CpuBackend();
afterAll(() => gpu?.destroy());

describe.skipIf(!availability.available)('ops split across bindings (maxBindingBytes 4 KiB) match the CPU reference', () => {
  it('the limit forces several chunks for these shapes', () => {
    if (!gpu) return;
    const chunks = planChunks([3, 70, 33], [{ offset: 0, strides: [70 * 33, 33, 1], extent: 1, elemBytes: 4, bufferBytes: 3 * 70 * 33 * 4 }], {
      maxBindingBytes: gpu.caps.maxBindingBytes,
      offsetAlign: gpu.caps.offsetAlign,
    });
    expect(gpu.caps.maxBindingBytes).toBe(LIMIT);
    expect(chunks.length).toBeGreaterThan(5);
  });

  for (const dtype of ['f32', 'bf16'] as const) {
    const tol = dtype === 'f32' ? 1e-5 : 1e-2;
    it(`[${dtype}] elementwise with broadcasting and strided views`, async () => {
      if (!gpu) return;
      const rng = new Rng(21);
      const [ga, ca] = twin(rng, gpu, cpu, [3, 70, 33], dtype);
      const [gb, cb] = twin(rng, gpu, cpu, [70, 1], dtype);
      expect(await relError(gpu.add(ga, gb), cpu.add(ca, cb))).toBeLessThanOrEqual(tol);
      const gv = ga.permute([2, 0, 1]);
      const cv = ca.permute([2, 0, 1]);
      expect(await relError(gpu.contiguous(gv), cpu.contiguous(cv))).toBe(0);
      expect(await relError(gpu.gelu(gv), cpu.gelu(cv))).toBeLessThanOrEqual(tol);
      expect(await relError(gpu.concat([ga, ga.slice(1, 3, 40)], 1), cpu.concat([ca, ca.slice(1, 3, 40)], 1))).toBe(0);
    });

    it(`[${dtype}] row reductions, rope and matmul`, async () => {
      if (!gpu) return;
      const rng = new Rng(22);
      const [gx, cx] = twin(rng, gpu, cpu, [150, 97], dtype);
      const [gw, cw] = twin(rng, gpu, cpu, [97], dtype);
      expect(await relError(gpu.layerNorm(gx, { eps: 1e-6, weight: gw, bias: gw }), cpu.layerNorm(cx, { eps: 1e-6, weight: cw, bias: cw }))).toBeLessThanOrEqual(tol);
      expect(await relError(gpu.softmax(gx), cpu.softmax(cx))).toBeLessThanOrEqual(tol);
      const rope = { grid: [2, 3, 5] as const, split: [4, 6, 6] as const, theta: 10000 };
      const [gr, cr] = twin(rng, gpu, cpu, [2, 37, 3, 16], dtype);
      expect(await relError(gpu.rope3d(gr, rope), cpu.rope3d(cr, rope))).toBeLessThanOrEqual(tol);
      // a 64-row tile of a and of the output must fit one binding: K and N stay small
      const [ga, ca] = twin(rng, gpu, cpu, [2, 130, 12], dtype);
      const [gb, cb] = twin(rng, gpu, cpu, [14, 12], dtype, 0.2);
      expect(await relError(gpu.matmul(ga, gb, { transposeB: true }), cpu.matmul(ca, cb, { transposeB: true }))).toBeLessThanOrEqual(tol);
    });

    it(`[${dtype}] attention dense + map and block-sparse, one head per binding`, async () => {
      if (!gpu) return;
      const rng = new Rng(23);
      const shape = [1, 3, 60, 16];
      const [gq, cq] = twin(rng, gpu, cpu, shape, dtype);
      const [gk, ck] = twin(rng, gpu, cpu, shape, dtype);
      const [gv, cv] = twin(rng, gpu, cpu, shape, dtype);
      const map = { tau: 0.02, blockSize: 16 };
      const g = gpu.attention(gq, gk, gv, { map });
      const c = cpu.attention(cq, ck, cv, { map });
      expect(await relError(g.out, c.out)).toBeLessThanOrEqual(tol);
      expect(await relError(g.lse, c.lse)).toBeLessThanOrEqual(1e-5);
      expect(await relError(g.map!, c.map!)).toBeLessThanOrEqual(0.02);
      const grid = [1, 0, 1]; // head 1's only block is off: its rows are empty
      const mask = BlockMask.fromDense({ heads: 3, qLen: 60, kLen: 60, blockSize: 64 }, grid);
      expect(await relError(gpu.attention(gq, gk, gv, { mask }).out, cpu.attention(cq, ck, cv, { mask }).out)).toBeLessThanOrEqual(tol);
    });
  }
});
