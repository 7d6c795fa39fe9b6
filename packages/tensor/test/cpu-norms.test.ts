import { describe, expect, it } from 'vitest';
import { ModDitError, ShapeError, fromNumbers, toFloat32 } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

describe('cpu norms', () => {
  for (const dtype of FLOATS)
    for (const c of [1, 7, 96])
      it(`layerNorm / rmsNorm ${dtype} over C=${c}`, async () => {
        const rng = new Rng(c);
        const rows = 5;
        const X = randomTensor(b, rng, [rows, 1, c], dtype, 3, 0.5);
        const W = randomTensor(b, rng, [c], dtype);
        const B = randomTensor(b, rng, [c], dtype);
        const eps = 1e-6;
        const plain = new Float64Array(rows * c);
        const aff = new Float64Array(rows * c);
        const rms = new Float64Array(rows * c);
        for (let r = 0; r < rows; r++) {
          const row = X.x.subarray(r * c, (r + 1) * c);
          const mean = row.reduce((s, v) => s + v, 0) / c;
          const v = row.reduce((s, x) => s + (x - mean) * (x - mean), 0) / c;
          const ms = row.reduce((s, x) => s + x * x, 0) / c;
          for (let i = 0; i < c; i++) {
            plain[r * c + i] = (row[i] - mean) / Math.sqrt(v + eps);
            aff[r * c + i] = plain[r * c + i] * W.x[i] + B.x[i];
            rms[r * c + i] = (row[i] / Math.sqrt(ms + eps)) * W.x[i];
          }
        }
        const ln = await values(b.layerNorm(X.t, { eps }));
        expectRounded(ln, plain, dtype, 1e-9, 'layerNorm');
        expectRounded(await values(b.layerNorm(X.t, { eps, weight: W.t, bias: B.t })), aff, dtype, 1e-9, 'layerNorm affine');
        expectRounded(await values(b.rmsNorm(X.t, W.t, eps)), rms, dtype, 1e-9, 'rmsNorm');
        if (c > 1 && dtype === 'f32') {
          // closed form: every normalised row has mean 0 and variance 1 (up to eps)
          for (let r = 0; r < rows; r++) {
            const row = Array.from(ln.subarray(r * c, (r + 1) * c));
            const mean = row.reduce((s, v) => s + v, 0) / c;
            expect(Math.abs(mean)).toBeLessThan(1e-6);
            expect(row.reduce((s, x) => s + (x - mean) ** 2, 0) / c).toBeCloseTo(1, 4);
          }
        }
      });

  for (const dtype of FLOATS)
    it(`layerNorm ${dtype} with fused adaLN modulation, rounded once into another dtype`, async () => {
      const rng = new Rng(5);
      const [bs, rows, c] = [2, 3, 11];
      const X = randomTensor(b, rng, [bs, rows, c], dtype, 3, 0.5);
      const S = randomTensor(b, rng, [bs, 1, c], 'f32', 0.5);
      const T = randomTensor(b, rng, [c], dtype);
      const out = dtype === 'f32' ? 'bf16' : 'f32';
      const want = new Float64Array(bs * rows * c);
      for (let z = 0; z < bs; z++)
        for (let r = 0; r < rows; r++) {
          const o = (z * rows + r) * c;
          const row = X.x.subarray(o, o + c);
          const mean = row.reduce((s, v) => s + v, 0) / c;
          const v = row.reduce((s, x) => s + (x - mean) ** 2, 0) / c;
          for (let i = 0; i < c; i++) want[o + i] = ((row[i] - mean) / Math.sqrt(v + 1e-6)) * (1 + S.x[z * c + i]) + T.x[i];
        }
      const y = b.layerNorm(X.t, { eps: 1e-6, scale: S.t, shift: T.t, dtype: out });
      expect(y.dtype).toBe(out);
      expectRounded(await values(y), want, out, 1e-9, 'adaLN layerNorm');
    });

  for (const dtype of FLOATS)
    it(`residualLayerNorm: x ${dtype} + y * gate rounded into x's dtype, then adaLN layerNorm of that sum`, async () => {
      const rng = new Rng(9);
      const [bs, rows, c] = [2, 3, 13];
      const X = randomTensor(b, rng, [bs, rows, c], dtype, 2, 0.5);
      const Y = randomTensor(b, rng, [bs, rows, c], 'bf16', 3);
      const G = randomTensor(b, rng, [bs, 1, c], 'f32', 0.5);
      const S = randomTensor(b, rng, [c], 'f32', 0.5);
      const T = randomTensor(b, rng, [c], 'f32');
      // float64 sum, rounded once into x's dtype (through that dtype's encoding)
      const sum64 = X.x.map((x, i) => x + Y.x[i] * G.x[Math.floor(i / (rows * c)) * c + (i % c)]);
      const sum = Float64Array.from(toFloat32(fromNumbers(sum64, dtype), dtype));
      const norm = new Float64Array(sum.length);
      for (let o = 0; o < sum.length; o += c) {
        const row = sum.subarray(o, o + c);
        const mean = row.reduce((a, v) => a + v, 0) / c;
        const v = row.reduce((a, x) => a + (x - mean) ** 2, 0) / c;
        for (let i = 0; i < c; i++) norm[o + i] = ((row[i] - mean) / Math.sqrt(v + 1e-6)) * (1 + S.x[i]) + T.x[i];
      }
      const r = b.residualLayerNorm(X.t, Y.t, { gate: G.t, eps: 1e-6, scale: S.t, shift: T.t, dtype: 'f32' });
      expect([r.sum.dtype, r.norm.dtype]).toEqual([dtype, 'f32']);
      expectRounded(await values(r.sum), sum64, dtype, 1e-9, 'sum');
      expectRounded(await values(r.norm), norm, 'f32', 1e-9, 'norm');
    });

  it('checks residualLayerNorm operands', () => {
    const rng = new Rng(3);
    const x = randomTensor(b, rng, [2, 3, 8]).t;
    expect(() => b.residualLayerNorm(x, randomTensor(b, rng, [4, 1, 1, 8]).t, { eps: 1e-6 })).toThrow(/residualLayerNorm: y \[4, 1, 1, 8\] must broadcast to x \[2, 3, 8\]/);
    expect(() => b.residualLayerNorm(x, x, { eps: 1e-6, gate: randomTensor(b, rng, [3]).t })).toThrow(ShapeError);
    expect(() => b.residualLayerNorm(x, x, { eps: 1e-6, weight: randomTensor(b, rng, [7]).t })).toThrow(/layerNorm: weight must have shape \[8\]/);
  });

  it('checks adaLN scale/shift and the output dtype', () => {
    const rng = new Rng(2);
    const x = randomTensor(b, rng, [2, 3, 8]).t;
    const row = randomTensor(b, rng, [8]).t;
    expect(() => b.layerNorm(x, { eps: 1e-6, shift: row })).toThrow(/scale and shift \(adaLN modulation\) come together/);
    expect(() => b.layerNorm(x, { eps: 1e-6, scale: row, shift: randomTensor(b, rng, [5, 1, 1, 8]).t })).toThrow(ShapeError);
    expect(() => b.layerNorm(x, { eps: 1e-6, dtype: 'u8' })).toThrow(/output dtype u8 is not one of f32, f16, bf16/);
  });

  it('checks affine shapes and eps', () => {
    const rng = new Rng(1);
    const x = randomTensor(b, rng, [3, 8]).t;
    expect(() => b.layerNorm(x, { eps: 1e-6, weight: randomTensor(b, rng, [7]).t })).toThrow(/layerNorm: weight must have shape \[8\], got \[7\]/);
    expect(() => b.rmsNorm(x, randomTensor(b, rng, [1, 8]).t, 1e-6)).toThrow(ShapeError);
    expect(() => b.layerNorm(x, { eps: Number.NaN })).toThrow(ModDitError);
  });
});
