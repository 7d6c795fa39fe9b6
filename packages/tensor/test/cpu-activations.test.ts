import { describe, expect, it } from 'vitest';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

describe('cpu activations', () => {
  for (const dtype of FLOATS)
    it(`gelu (tanh), silu and softmax ${dtype}`, async () => {
      const rng = new Rng(11);
      const X = randomTensor(b, rng, [3, 1, 13], dtype, 4);
      const gelu = X.x.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
      const silu = X.x.map((x) => x / (1 + Math.exp(-x)));
      const soft = new Float64Array(X.x.length);
      for (let r = 0; r < 3; r++) {
        const row = X.x.subarray(r * 13, r * 13 + 13);
        const z = row.reduce((s, v) => s + Math.exp(v), 0);
        for (let i = 0; i < 13; i++) soft[r * 13 + i] = Math.exp(row[i]) / z;
      }
      expectRounded(await values(b.gelu(X.t)), gelu, dtype, 1e-12, 'gelu');
      expectRounded(await values(b.silu(X.t)), silu, dtype, 1e-12, 'silu');
      const s = await values(b.softmax(X.t.transpose(0, 1)));
      expectRounded(s, soft, dtype, 1e-12, 'softmax');
    });

  it('gelu is the tanh approximation, not the erf form', async () => {
    // at x = 2 the two forms differ by ~1e-4, far above f32 rounding
    const out = await values(b.gelu(b.upload(Float32Array.from([2, -1.5]), [2], 'f32')));
    expect(out[0]).toBeCloseTo(0.5 * 2 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (2 + 0.044715 * 8))), 6);
    expect(Math.abs(out[0] - 1.9544997361036416)).toBeGreaterThan(5e-5);
  });

  it('softmax survives huge logits', async () => {
    const out = await values(b.softmax(b.upload(Float32Array.from([1000, 999, -1000]), [3], 'f32')));
    expect(out[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(out[2]).toBe(0);
  });
});
