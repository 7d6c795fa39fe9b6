import { BlockMask, Rng, cpuBackend } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { BlockAttention, EvalConfigError, TokenGrid } from '../src/index.js';
import { denseProbabilities, outputRow } from './brute-force.js';

function randomInputs(grid: TokenGrid, heads: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const n = heads * grid.tokens * dim;
  // scale 2.5 gives peaked, non-uniform softmax rows
  return { q: rng.normals(n, 2.5), k: rng.normals(n, 2.5), v: rng.normals(n, 1, 0.3) };
}

function randomMask(blocks: number, rng: Rng, p: number): Uint8Array {
  return Uint8Array.from({ length: blocks * blocks }, () => (rng.uniform() < p ? 1 : 0));
}

/** Recall, relative error and density straight from the definitions, float64. */
function bruteQuality(grid: TokenGrid, q: Float32Array, k: Float32Array, v: Float32Array, head: number, dim: number, mask: Uint8Array, rows: number[]) {
  const n = grid.blocks;
  const active = (i: number, j: number) => j >= grid.videoTokens || mask[Math.floor(i / grid.blockSize) * n + Math.floor(j / grid.blockSize)] === 1;
  let recall = 0;
  let err = 0;
  let ref = 0;
  let pairs = 0;
  for (const i of rows) {
    const p = denseProbabilities(q, k, head, grid.tokens, dim, i);
    const dense = outputRow(p, v, head, grid.tokens, dim);
    const ps = denseProbabilities(q, k, head, grid.tokens, dim, i, (j) => active(i, j));
    const sparse = outputRow(ps, v, head, grid.tokens, dim);
    for (let j = 0; j < grid.tokens; j++) if (active(i, j)) recall += p[j];
    for (let j = 0; j < grid.videoTokens; j++) if (active(i, j)) pairs++;
    for (let d = 0; d < dim; d++) {
      err += (sparse[d] - dense[d]) ** 2;
      ref += dense[d] ** 2;
    }
  }
  return { recall: recall / rows.length, relError: Math.sqrt(err / ref), density: pairs / (rows.length * grid.videoTokens) };
}

describe('BlockAttention', () => {
  // 3 x 5 x 9 = 135 video tokens: blocks of 64, the last one ragged (7 tokens); 5 text tokens; odd head dim
  const grid = new TokenGrid([3, 5, 9], { textTokens: 5, blockSize: 64 });
  const heads = 2;
  const dim = 7;

  it('matches float64 brute force for recall, output error and density of random masks', () => {
    const { q, k, v } = randomInputs(grid, heads, dim, 11);
    const attn = BlockAttention.compute({ q, k, v, heads, headDim: dim, grid });
    const rng = new Rng(5);
    const rows = Array.from({ length: grid.videoTokens }, (_, i) => i);
    for (let trial = 0; trial < 4; trial++)
      for (let h = 0; h < heads; h++) {
        const mask = randomMask(grid.blocks, rng, 0.5);
        const got = attn.quality(h, mask);
        const want = bruteQuality(grid, q, k, v, h, dim, mask, rows);
        expect(got.recall).toBeCloseTo(want.recall, 10);
        expect(got.relError).toBeCloseTo(want.relError, 10);
        expect(got.density).toBeCloseTo(want.density, 12);
      }
  });

  it('full masks give recall 1 and zero error; block masses sum to the video mass', () => {
    const { q, k, v } = randomInputs(grid, heads, dim, 12);
    const attn = BlockAttention.compute({ q, k, v, heads, headDim: dim, grid });
    const full = attn.quality(1, new Uint8Array(grid.blocks ** 2).fill(1));
    expect(full.recall).toBeCloseTo(1, 12);
    expect(full.relError).toBeLessThan(1e-12);
    expect(full.density).toBeCloseTo(1, 12);
    const none = attn.quality(1, new Uint8Array(grid.blocks ** 2));
    const mass = attn.blockMass(1).reduce((a, b) => a + b, 0);
    // rows: video rows; mass + text mass (recall of the empty mask) = 1 per row
    expect(mass / grid.videoTokens + none.recall).toBeCloseTo(1, 10);
  });

  it('evaluates a subset of query blocks exactly like brute force on those rows', () => {
    const { q, k, v } = randomInputs(grid, heads, dim, 13);
    const attn = BlockAttention.compute({ q, k, v, heads, headDim: dim, grid, queryBlocks: Int32Array.of(2) });
    expect([...attn.rows]).toEqual(Array.from({ length: 7 }, (_, i) => 128 + i));
    const mask = randomMask(grid.blocks, new Rng(3), 0.6);
    mask[2 * grid.blocks + 2] = 0;
    const want = bruteQuality(grid, q, k, v, 0, dim, mask, [...attn.rows]);
    const got = attn.quality(0, mask);
    expect(got.recall).toBeCloseTo(want.recall, 10);
    expect(got.relError).toBeCloseTo(want.relError, 10);
  });

  it('agrees with the CPU backend block-sparse attention on the video rows', async () => {
    const noText = new TokenGrid([2, 7, 11], { blockSize: 64 }); // 154 tokens, ragged last block
    const { q, k, v } = randomInputs(noText, heads, dim, 14);
    const attn = BlockAttention.compute({ q, k, v, heads, headDim: dim, grid: noText });
    const rng = new Rng(9);
    const grids = [randomMask(noText.blocks, rng, 0.6), randomMask(noText.blocks, rng, 0.6)];
    for (const g of grids) for (let i = 0; i < noText.blocks; i++) g[i * noText.blocks + i] = 1; // no empty rows
    const combined = new Uint8Array(heads * noText.blocks ** 2);
    grids.forEach((g, h) => combined.set(g, h * g.length));
    const be = cpuBackend();
    const shape = [1, heads, noText.tokens, dim];
    const sparse = be.attention(be.upload(q, shape, 'f32'), be.upload(k, shape, 'f32'), be.upload(v, shape, 'f32'), {
      mask: BlockMask.fromDense({ heads, qLen: noText.tokens, kLen: noText.tokens, blockSize: 64 }, combined),
    });
    const dense = be.attention(be.upload(q, shape, 'f32'), be.upload(k, shape, 'f32'), be.upload(v, shape, 'f32'));
    const so = await sparse.out.toFloat32();
    const dO = await dense.out.toFloat32();
    for (let h = 0; h < heads; h++) {
      let err = 0;
      let ref = 0;
      for (let i = h * noText.tokens * dim; i < (h + 1) * noText.tokens * dim; i++) {
        err += (so[i] - dO[i]) ** 2;
        ref += dO[i] ** 2;
      }
      expect(attn.quality(h, grids[h]).relError).toBeCloseTo(Math.sqrt(err / ref), 5);
    }
  });

  it('rejects mis-sized inputs and unsorted query blocks', () => {
    const { q, k, v } = randomInputs(grid, heads, dim, 15);
    expect(() => BlockAttention.compute({ q: q.subarray(1), k, v, heads, headDim: dim, grid })).toThrow(/q has 1959 elements, expected \[1, 2, 140, 7\] = 1960/);
    expect(() => BlockAttention.compute({ q, k, v, heads, headDim: dim, grid, queryBlocks: Int32Array.of(1, 0) })).toThrow(EvalConfigError);
    const attn = BlockAttention.compute({ q, k, v, heads, headDim: dim, grid, queryBlocks: Int32Array.of(0) });
    expect(() => attn.quality(0, new Uint8Array(4))).toThrow(/mask has 4 cells, expected blocks\^2 = 9/);
  });
});
