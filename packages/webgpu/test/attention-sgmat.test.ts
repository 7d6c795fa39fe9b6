import { afterAll, describe, expect, it } from 'vitest';
import { BlockMask, CpuBackend, Rng, fromNumbers } from '@mod-dit/tensor';
import { type SgAttentionConfig, SG_ATTENTION_DEFAULT, SG_ATTENTION_SMALL, sgAttentionName, sgAttentionRows } from '../src/kernels/attention-sgmat.js';
import { availability, gpuBackend, relError, twin } from './support.js';

// The subgroup-matrix flash attention with its fragment operations emulated (lavapipe has no
// subgroup matrices): the kernel's tiling, clamping, lazy rescaling and CSR loop against the
// CPU reference. The native fragments are checked on the GPU by tools/bench/webgpu-sgmat-check.mjs.
const gpu = await gpuBackend({ paths: { emulateFragments: true } });
const cpu = new CpuBackend();
afterAll(() => gpu?.destroy());
// emulation needs shader-f16 and subgroups
const active = gpu?.subgroupMatrixActive ?? false;

// 1 and 2 query tiles per subgroup, P through workgroup memory or a storage scratch, K and V
// loaded per subgroup or staged per workgroup; head_dim
// 16 throughout (lavapipe compiles each emulated kernel for ~25 s, so the cases share them)
const CONFIGS: SgAttentionConfig[] = [
  { subgroups: 2, mTiles: 1, keys: 32, p: 'workgroup' },
  { subgroups: 1, mTiles: 2, keys: 16, p: 'storage' },
  { subgroups: 2, mTiles: 1, keys: 32, p: 'workgroup', kv: 'staged' },
  { subgroups: 2, mTiles: 1, keys: 16, p: 'workgroup', kv: 'prefetch' },
];

describe.skipIf(!availability.available || !active)('subgroup-matrix attention (emulated fragments) vs the CPU reference, f16', () => {
  for (const config of CONFIGS) {
    const name = sgAttentionName(config);
    it(`${name}: dense + LSE, ragged Lq 37 / Lk 45, two batches`, async () => {
      if (!gpu) return;
      gpu.paths.sgAttention = config;
      const rng = new Rng(31);
      const [gq, cq] = twin(rng, gpu, cpu, [2, 1, 37, 16], 'f16');
      const [gk, ck] = twin(rng, gpu, cpu, [2, 1, 45, 16], 'f16');
      const [gv, cv] = twin(rng, gpu, cpu, [2, 1, 45, 16], 'f16');
      const g = gpu.attention(gq, gk, gv);
      const c = cpu.attention(cq, ck, cv);
      expect(gpu.kernels.source(`attn-sgmat/emulated/d16/dense/${name}`)).toBeDefined();
      expect(await relError(g.out, c.out)).toBeLessThanOrEqual(1e-2);
      expect(await relError(g.lse, c.lse)).toBeLessThanOrEqual(1e-3);
    });

    it(`${name}: growing scores (scale 1, key norms rising 1 -> 5) force O rescales`, async () => {
      if (!gpu) return;
      gpu.paths.sgAttention = config;
      const rng = new Rng(32);
      const [L, D] = [70, 16];
      const kv = rng.normals(L * D, 1).map((x, i) => x * (1 + (4 * Math.floor(i / D)) / L));
      const bits = fromNumbers(kv, 'f16');
      const [gk, ck] = [gpu.upload(bits, [1, 1, L, D], 'f16'), cpu.upload(bits, [1, 1, L, D], 'f16')];
      const [gq, cq] = twin(rng, gpu, cpu, [1, 1, 33, D], 'f16');
      const [gv, cv] = twin(rng, gpu, cpu, [1, 1, L, D], 'f16');
      const g = gpu.attention(gq, gk, gv, { scale: 1 });
      const c = cpu.attention(cq, ck, cv, { scale: 1 });
      expect(await relError(g.out, c.out)).toBeLessThanOrEqual(1e-2);
      expect(await relError(g.lse, c.lse)).toBeLessThanOrEqual(1e-3);
    });

    it(`${name}: block-sparse (block 64, ragged last blocks, an empty row) and dense + map`, async () => {
      if (!gpu) return;
      gpu.paths.sgAttention = config;
      const rng = new Rng(33);
      const [gq, cq] = twin(rng, gpu, cpu, [1, 2, 150, 16], 'f16');
      const [gk, ck] = twin(rng, gpu, cpu, [1, 2, 133, 16], 'f16');
      const [gv, cv] = twin(rng, gpu, cpu, [1, 2, 133, 16], 'f16');
      // head 0: banded with a far block; head 1: query block 1 has no key block
      const grid = [1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1];
      const mask = BlockMask.fromDense({ heads: 2, qLen: 150, kLen: 133, blockSize: 64 }, grid);
      const g = gpu.attention(gq, gk, gv, { mask });
      const c = cpu.attention(cq, ck, cv, { mask });
      expect(gpu.kernels.source(`attn-sgmat/emulated/d16/sparse/${name}`)).toBeDefined();
      expect(await relError(g.out, c.out)).toBeLessThanOrEqual(1e-2);
      expect(await relError(g.lse, c.lse)).toBeLessThanOrEqual(1e-3);
      const map = { tau: 0.02, blockSize: 64 };
      const gm = gpu.attention(gq, gk, gv, { map });
      const cm = cpu.attention(cq, ck, cv, { map });
      expect(await relError(gm.map!, cm.map!)).toBeLessThanOrEqual(0.02);
    });
  }

  it('the map pass on subgroup matrices (paths.sgMap): blocks 64 and 128, tokens < L, ragged last blocks, within a mask', async () => {
    if (!gpu) return;
    gpu.paths.sgMap = true;
    const rng = new Rng(35);
    const [gq, cq] = twin(rng, gpu, cpu, [1, 2, 290, 32], 'f16');
    const [gk, ck] = twin(rng, gpu, cpu, [1, 2, 270, 32], 'f16');
    for (const blockSize of [64, 128] as const) {
      const tokens = 260;
      const [nQ, nK] = [Math.ceil(290 / blockSize), Math.ceil(270 / blockSize)];
      const within = BlockMask.fromDense({ heads: 2, qLen: 290, kLen: 270, blockSize }, Array.from({ length: 2 * nQ * nK }, (_, i) => (i % 3 === 1 ? 0 : 1)));
      for (const map of [{ tau: 0.01, blockSize, tokens }, { tau: 0.01, blockSize, tokens, within }]) {
        const g = gpu.attention(gq, gk, gk, { map });
        const c = cpu.attention(cq, ck, ck, { map });
        expect(gpu.kernels.source(`attn-map-sgmat/emulated/d32/bs${blockSize}`)).toBeDefined();
        expect(await relError(g.map!, c.map!)).toBeLessThanOrEqual(0.02);
      }
    }
    gpu.paths.sgMap = undefined;
  });

  it('a mask block the default tiling\'s query rows do not divide takes the first smaller tiling that fits', async () => {
    if (!gpu) return;
    // the default tiling covers 128 query rows per workgroup; blocks of 64 take SG_ATTENTION_SMALL[0] (64 rows)
    gpu.paths.sgAttention = undefined;
    expect(sgAttentionRows(SG_ATTENTION_DEFAULT)).toBe(128);
    const rng = new Rng(34);
    const [gq, cq] = twin(rng, gpu, cpu, [1, 1, 140, 16], 'f16');
    const [gk, ck] = twin(rng, gpu, cpu, [1, 1, 100, 16], 'f16');
    const [gv, cv] = twin(rng, gpu, cpu, [1, 1, 100, 16], 'f16');
    const mask = BlockMask.fromDense({ heads: 1, qLen: 140, kLen: 100, blockSize: 64 }, [1, 0, 1, 1, 0, 1]);
    const g = gpu.attention(gq, gk, gv, { mask });
    expect(gpu.kernels.source(`attn-sgmat/emulated/d16/sparse/${sgAttentionName(SG_ATTENTION_SMALL[0])}`)).toBeDefined();
    expect(await relError(g.out, cpu.attention(cq, ck, cv, { mask }).out)).toBeLessThanOrEqual(1e-2);
    gpu.paths.sgAttention = undefined;
  });
});
