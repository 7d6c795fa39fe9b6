import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

/** Independent RoPE: angles written out per axis from the (t, h, w) of each token. */
function ropeRef(x: Float64Array, [B, L, H, D]: number[], grid: number[], split: number[], theta: number): Float64Array {
  const out = Float64Array.from(x);
  const [gt, gh, gw] = grid;
  for (let l = 0; l < gt * gh * gw; l++) {
    const pos = [Math.floor(l / (gh * gw)), Math.floor((l % (gh * gw)) / gw), l % gw];
    const angles: number[] = [];
    for (let a = 0; a < 3; a++) for (let j = 0; j < split[a] / 2; j++) angles.push(pos[a] / theta ** ((2 * j) / split[a]));
    for (let bb = 0; bb < B; bb++)
      for (let h = 0; h < H; h++)
        angles.forEach((ang, i) => {
          const o = ((bb * L + l) * H + h) * D + 2 * i;
          out[o] = x[o] * Math.cos(ang) - x[o + 1] * Math.sin(ang);
          out[o + 1] = x[o] * Math.sin(ang) + x[o + 1] * Math.cos(ang);
        });
  }
  return out;
}

describe('cpu rope3d', () => {
  for (const dtype of FLOATS)
    it(`matches the per-axis definition ${dtype}, text tokens untouched`, async () => {
      const rng = new Rng(21);
      const shape = [2, 3 * 2 * 5 + 3, 3, 14];
      const grid = [3, 2, 5];
      const split = [6, 4, 4];
      const X = randomTensor(b, rng, [2, 3, 33, 14], dtype); // viewed as [B, L, H, D] via permute
      const x = X.t.permute([0, 2, 1, 3]);
      const xs = Float64Array.from(await values(b.contiguous(x)));
      const out = await values(b.rope3d(x, { grid: grid as [number, number, number], split: split as [number, number, number], theta: 10000 }));
      expectRounded(out, ropeRef(xs, shape, grid, split, 10000), dtype, 1e-12, 'rope3d');
      const text = 30 * 3 * 14;
      for (let bb = 0; bb < 2; bb++)
        for (let i = 0; i < 3 * 3 * 14; i++) expect(out[bb * 33 * 42 + text + i]).toBe(xs[bb * 33 * 42 + text + i]);
    });

  it('preserves pair norms, and q.k depends only on the position difference', async () => {
    const rng = new Rng(5);
    const D = 10;
    const q = Array.from(rng.normals(D));
    const k = Array.from(rng.normals(D));
    const L = 9;
    // the same q (and k) at every token of a [3, 3, 1] grid
    const tile = (v: number[]) => b.upload(Float32Array.from({ length: L * D }, (_, i) => v[i % D]), [1, L, 1, D], 'f32');
    const opts = { grid: [3, 3, 1], split: [4, 4, 2], theta: 100 } as const;
    const rq = await values(b.rope3d(tile(q), opts));
    const rk = await values(b.rope3d(tile(k), opts));
    const qf = Float32Array.from(q);
    for (let l = 0; l < L; l++)
      for (let p = 0; p < D / 2; p++)
        expect(Math.hypot(rq[l * D + 2 * p], rq[l * D + 2 * p + 1])).toBeCloseTo(Math.hypot(qf[2 * p], qf[2 * p + 1]), 5);
    const dot = (a: number, c: number) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += rq[a * D + i] * rk[c * D + i];
      return s;
    };
    // token (t, h): index 3t + h; shifting both by one frame or one row keeps the dot product
    expect(dot(0, 4)).toBeCloseTo(dot(3, 7), 4);
    expect(dot(1, 5)).toBeCloseTo(dot(0, 4), 4);
    expect(Math.abs(dot(0, 4) - dot(0, 5))).toBeGreaterThan(1e-3);
  });

  it('validates split and grid', () => {
    const x = randomTensor(b, new Rng(1), [1, 8, 1, 8]).t;
    expect(() => b.rope3d(x, { grid: [2, 2, 2], split: [4, 2, 4], theta: 1e4 })).toThrow(/sums to 10, expected head_dim 8/);
    expect(() => b.rope3d(x, { grid: [2, 2, 2], split: [3, 3, 2], theta: 1e4 })).toThrow(ShapeError);
    expect(() => b.rope3d(x, { grid: [3, 2, 2], split: [4, 2, 2], theta: 1e4 })).toThrow(/more than x's L = 8/);
    expect(() => b.rope3d(x.reshape([8, 8]), { grid: [1, 1, 1], split: [4, 2, 2], theta: 1e4 })).toThrow(/rank 4/);
  });
});
