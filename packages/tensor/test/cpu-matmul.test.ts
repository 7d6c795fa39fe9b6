import { describe, expect, it } from 'vitest';
import { DTypeError, ShapeError } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

describe('cpu matmul', () => {
  // [aBatch, bBatch, M, K, N]
  const cases: [number[], number[], number, number, number][] = [
    [[], [], 1, 1, 1],
    [[3], [], 5, 7, 2],
    [[2, 1], [1, 3], 3, 17, 9],
    [[1], [4], 1, 33, 6],
  ];
  for (const dtype of FLOATS)
    for (const transposeB of [false, true])
      for (const [ab, bb, m, k, n] of cases)
        it(`${dtype} a[${ab},${m},${k}] b[${bb}] transposeB=${transposeB}, with and without bias`, async () => {
          const rng = new Rng(m * 100 + k + n);
          const A = randomTensor(b, rng, [...ab, m, k], dtype);
          const B = randomTensor(b, rng, transposeB ? [...bb, n, k] : [...bb, k, n], dtype);
          const bias = randomTensor(b, rng, [n], dtype);
          const batch = Array.from({ length: Math.max(ab.length, bb.length) }, (_, i) => Math.max(ab[i] ?? 1, bb[i] ?? 1));
          const nb = batch.reduce((x, y) => x * y, 1);
          for (const withBias of [false, true]) {
            const out = b.matmul(A.t, B.t, { transposeB, bias: withBias ? bias.t : undefined });
            expect(out.shape).toEqual([...batch, m, n]);
            const want = new Float64Array(nb * m * n);
            for (let z = 0; z < nb; z++) {
              // broadcast: a batch index along each axis is 0 where a's extent is 1
              const zi = batch.length === 2 ? [Math.floor(z / batch[1]), z % batch[1]] : [z];
              const za = ab.length === 0 ? 0 : ab.length === 1 ? (ab[0] === 1 ? 0 : zi[0]) : (ab[0] === 1 ? 0 : zi[0]) * ab[1] + (ab[1] === 1 ? 0 : zi[1]);
              const zb = bb.length === 0 ? 0 : bb.length === 1 ? (bb[0] === 1 ? 0 : zi[0]) : (bb[0] === 1 ? 0 : zi[0]) * bb[1] + (bb[1] === 1 ? 0 : zi[1]);
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let s = withBias ? bias.x[j] : 0;
                  for (let p = 0; p < k; p++) s += A.x[za * m * k + i * k + p] * (transposeB ? B.x[zb * n * k + j * k + p] : B.x[zb * k * n + p * n + j]);
                  want[(z * m + i) * n + j] = s;
                }
            }
            expectRounded(await values(out), want, dtype, 1e-12, 'matmul');
          }
        });

  for (const dtype of FLOATS)
    it(`${dtype} linear with the gelu epilogue rounds once after bias and GELU`, async () => {
      const rng = new Rng(41);
      const [m, k, n] = [7, 13, 5];
      const A = randomTensor(b, rng, [1, m, k], dtype, 2);
      const W = randomTensor(b, rng, [n, k], dtype);
      const bias = randomTensor(b, rng, [n], dtype);
      const want = new Float64Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = bias.x[j];
          for (let p = 0; p < k; p++) s += A.x[i * k + p] * W.x[j * k + p];
          // tanh GELU written out: 0.5 s (1 + tanh(sqrt(2/pi) (s + 0.044715 s^3)))
          want[i * n + j] = 0.5 * s * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (s + 0.044715 * s ** 3)));
        }
      expectRounded(await values(b.matmul(A.t, W.t, { transposeB: true, bias: bias.t, activation: 'gelu' })), want, dtype, 1e-12, 'linear+gelu');
      expect(() => b.matmul(A.t, W.t, { transposeB: true, activation: 'tanh' as 'gelu' })).toThrow(/activation must be one of gelu, got tanh/);
    });

  it('accepts a transposed view as a and checks shapes and dtypes', async () => {
    const rng = new Rng(9);
    const A = randomTensor(b, rng, [6, 4]);
    const B = randomTensor(b, rng, [6, 3]);
    const out = await values(b.matmul(A.t.transpose(), B.t));
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let p = 0; p < 6; p++) s += A.x[p * 4 + i] * B.x[p * 3 + j];
        expect(out[i * 3 + j]).toBeCloseTo(s, 5);
      }
    expect(() => b.matmul(A.t, B.t)).toThrow(/matmul: inner dims differ/);
    expect(() => b.matmul(A.t.transpose(), B.t, { bias: randomTensor(b, rng, [4]).t })).toThrow(ShapeError);
    expect(() => b.matmul(A.t, b.cast(B.t, 'bf16'), { transposeB: true })).toThrow(DTypeError);
    expect(() => b.matmul(randomTensor(b, rng, [2, 2, 3]).t, randomTensor(b, rng, [3, 3, 2]).t)).toThrow(/do not broadcast/);
  });
});
