import { describe, expect, it } from 'vitest';
import { BlockMask, BlockMaskError } from '../src/index.js';
import { Rng } from './support/random.js';

function randomGeometry(rng: Rng) {
  const blockSize = rng.uniform() < 0.5 ? 64 : 128;
  return { heads: rng.int(1, 4), qLen: rng.int(1, 5 * blockSize), kLen: rng.int(1, 5 * blockSize), blockSize };
}

describe('BlockMask', () => {
  it('fromDense / toDense / bitset / isActive / flex round trips on random ragged masks', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const g = randomGeometry(rng);
      const nQ = Math.ceil(g.qLen / g.blockSize);
      const nK = Math.ceil(g.kLen / g.blockSize);
      const grid = Uint8Array.from({ length: g.heads * nQ * nK }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const m = BlockMask.fromDense(g, grid);
      expect([m.nQ, m.nK]).toEqual([nQ, nK]);
      expect(Array.from(m.toDense())).toEqual(Array.from(grid));
      expect(m.activeBlocks).toBe(grid.reduce((a, v) => a + v, 0));
      const bits = m.toBitset();
      const words = Math.ceil(nK / 32);
      for (let r = 0; r < g.heads * nQ; r++)
        for (let j = 0; j < nK; j++) {
          const on = grid[r * nK + j] === 1;
          expect(((bits[r * words + (j >>> 5)] >>> (j & 31)) & 1) === 1).toBe(on);
          expect(m.isActive(Math.floor(r / nQ), r % nQ, j)).toBe(on);
        }
      const flex = m.toFlex();
      const back = BlockMask.fromFlex(g, flex);
      expect(Array.from(back.rowPtr)).toEqual(Array.from(m.rowPtr));
      expect(Array.from(back.colIdx)).toEqual(Array.from(m.colIdx));
      // density in token pairs, ragged blocks weighted by their real size
      let pairs = 0;
      for (let h = 0; h < g.heads; h++)
        for (let i = 0; i < g.qLen; i++)
          for (let j = 0; j < g.kLen; j += 1) if (grid[(h * nQ + Math.floor(i / g.blockSize)) * nK + Math.floor(j / g.blockSize)]) pairs++;
      expect(m.density()).toBeCloseTo(pairs / (g.heads * g.qLen * g.kLen), 12);
    }
  });

  it('switches on every block touched by the always-on token ranges', () => {
    const g = { heads: 2, qLen: 300, kLen: 250, blockSize: 64 };
    const m = BlockMask.fromDense(g, new Uint8Array(2 * 5 * 4), { queries: [250, 300], keys: [200, 250] });
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < 4; j++) expect(m.isActive(h, i, j)).toBe(i >= 3 || j === 3);
    expect(m.denseKeys).toEqual([200, 250]);
  });

  it('full() activates every block', () => {
    const m = BlockMask.full({ heads: 3, qLen: 129, kLen: 1, blockSize: 128 });
    expect(m.activeBlocks).toBe(3 * 2 * 1);
    expect(m.density()).toBe(1);
  });

  it('rejects inconsistent CSR, geometry and flex input with BlockMaskError', () => {
    const g = { heads: 1, qLen: 200, kLen: 200, blockSize: 64 }; // nQ = nK = 4
    const ptr = (...v: number[]) => Int32Array.from(v);
    expect(() => new BlockMask(g, ptr(0, 1, 2, 3), ptr(0, 1, 2))).toThrow(/rowPtr has 4 entries, expected/);
    expect(() => new BlockMask(g, ptr(0, 2, 2, 2, 2), ptr(1, 1))).toThrow(/not strictly increasing/);
    expect(() => new BlockMask(g, ptr(0, 1, 1, 1, 1), ptr(4))).toThrow(/out of range/);
    expect(() => new BlockMask(g, ptr(0, 2, 1, 2, 2), ptr(0, 1))).toThrow(/decreases/);
    expect(() => new BlockMask(g, ptr(0, 1, 1, 1, 3), ptr(0, 1))).toThrow(BlockMaskError);
    expect(() => new BlockMask({ ...g, blockSize: 32 }, ptr(0), ptr())).toThrow(/block size 32/);
    expect(() => new BlockMask({ ...g, qLen: 0 }, ptr(0), ptr())).toThrow(BlockMaskError);
    expect(() => BlockMask.fromDense(g, new Uint8Array(15))).toThrow(/expected heads\*nQ\*nK = 16/);
    expect(() => BlockMask.fromDense(g, new Uint8Array(16), { keys: [190, 210] })).toThrow(/dense keys range/);
    expect(() => BlockMask.fromFlex(g, { kvNumBlocks: ptr(1, 5, 0, 0), kvIndices: new Int32Array(16) })).toThrow(/kv_num_blocks 5/);
    expect(() => BlockMask.fromFlex(g, { kvNumBlocks: ptr(1, 0, 0, 0), kvIndices: ptr(7, 0, 0, 0, 0, 0, 0, 0) })).toThrow(/kv index 7/);
  });
});
