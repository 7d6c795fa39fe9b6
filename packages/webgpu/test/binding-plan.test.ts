import { describe, expect, it } from 'vitest';
import { Rng, UnsupportedFeatureError } from '@mod-dit/tensor';
import { type OperandAccess, planChunks, touchedRange } from '../src/binding-plan.js';

/** Every element an operand touches for iteration points [start, end), by brute force. */
function bruteRange(shape: number[], op: OperandAccess, start: number, end: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let p = start; p < end; p++) {
    let rem = p;
    let addr = op.offset;
    for (let a = shape.length - 1; a >= 0; a--) {
      addr += (rem % shape[a]) * op.strides[a];
      rem = Math.floor(rem / shape[a]);
    }
    lo = Math.min(lo, addr);
    hi = Math.max(hi, addr + op.extent);
  }
  return [lo, hi];
}

function randomOperand(rng: Rng, shape: number[], elemBytes: number): OperandAccess {
  const strides = shape.map(() => (rng.uniform() < 0.25 ? 0 : rng.int(1, 40)));
  const offset = rng.int(0, 50);
  const extent = rng.int(1, 6);
  const max = offset + shape.reduce((s, d, i) => s + (d - 1) * strides[i], 0) + extent;
  return { offset, strides, extent, elemBytes, bufferBytes: Math.ceil((max * elemBytes) / 4) * 4 };
}

describe('binding windows (bind-by-offset arithmetic)', () => {
  it('touchedRange bounds every element a linear range of points touches', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 300; trial++) {
      const shape = Array.from({ length: rng.int(1, 5) }, () => rng.int(1, 7));
      const op = randomOperand(rng, shape, 4);
      const n = shape.reduce((a, b) => a * b, 1);
      const start = rng.int(0, n);
      const end = rng.int(start + 1, n + 1);
      const [lo, hi] = touchedRange(shape, op, start, end);
      const [blo, bhi] = bruteRange(shape, op, start, end);
      expect(lo).toBeLessThanOrEqual(blo);
      expect(hi).toBeGreaterThanOrEqual(bhi);
    }
  });

  it('is exact for whole sub-blocks of contiguous operands', () => {
    // rows 3..5 of a contiguous [7, 5] operand: exactly elements 15..30
    expect(touchedRange([7, 5], { offset: 0, strides: [5, 1], extent: 1, elemBytes: 4, bufferBytes: 140 }, 15, 30)).toEqual([15, 30]);
    // row kernels: iteration over rows, each touching a 33-element row
    expect(touchedRange([10], { offset: 4, strides: [33], extent: 33, elemBytes: 2, bufferBytes: 700 }, 2, 5)).toEqual([4 + 66, 4 + 165]);
  });

  it('splits into chunks whose windows fit the limit, are aligned and cover every touched element', () => {
    const rng = new Rng(9);
    const lim = { maxBindingBytes: 512, offsetAlign: 32 };
    let split = 0;
    for (let trial = 0; trial < 200; trial++) {
      const shape = Array.from({ length: rng.int(1, 4) }, () => rng.int(1, 9));
      const ops = Array.from({ length: rng.int(1, 4) }, () => randomOperand(rng, shape, [1, 2, 4][rng.int(0, 3)]));
      const granule = rng.int(1, 3);
      let chunks;
      try {
        chunks = planChunks(shape, ops, lim, granule);
      } catch (e) {
        expect(e).toBeInstanceOf(UnsupportedFeatureError);
        continue;
      }
      const n = shape.reduce((a, b) => a * b, 1);
      let next = 0;
      for (const c of chunks) {
        expect(c.start).toBe(next);
        expect(c.start % granule).toBe(0);
        next = c.start + c.count;
        c.windows.forEach((w, i) => {
          const op = ops[i];
          expect(w.byteOffset % lim.offsetAlign).toBe(0);
          expect(w.byteSize % 4).toBe(0);
          expect(w.byteSize).toBeLessThanOrEqual(lim.maxBindingBytes);
          expect(w.byteOffset + w.byteSize).toBeLessThanOrEqual(op.bufferBytes);
          const [lo, hi] = bruteRange(shape, op, c.start, c.start + c.count);
          expect(w.firstElement * op.elemBytes).toBe(w.byteOffset);
          expect(lo * op.elemBytes).toBeGreaterThanOrEqual(w.byteOffset);
          expect(Math.ceil((hi * op.elemBytes) / 4) * 4).toBeLessThanOrEqual(w.byteOffset + w.byteSize);
        });
      }
      expect(next).toBe(n);
      if (chunks.length > 1) split++;
    }
    expect(split).toBeGreaterThan(20); // the random cases do exercise splitting
  });

  it('keeps one chunk when everything fits', () => {
    const chunks = planChunks([100], [{ offset: 0, strides: [1], extent: 1, elemBytes: 4, bufferBytes: 400 }], { maxBindingBytes: 1 << 20, offsetAlign: 256 });
    expect(chunks).toEqual([{ start: 0, count: 100, windows: [{ byteOffset: 0, byteSize: 400, firstElement: 0 }] }]);
  });

  it('throws a typed error naming the limit when one granule cannot fit', () => {
    const op: OperandAccess = { offset: 0, strides: [100], extent: 100, elemBytes: 4, bufferBytes: 4000 };
    expect(() => planChunks([10], [op], { maxBindingBytes: 256, offsetAlign: 16 })).toThrow(UnsupportedFeatureError);
    expect(() => planChunks([10], [op], { maxBindingBytes: 256, offsetAlign: 16 })).toThrow(/256-byte storage binding limit/);
  });
});
