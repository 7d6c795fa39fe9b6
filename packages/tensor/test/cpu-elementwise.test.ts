import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, stridesOf, unravel, values } from './support/random.js';

const b = new CpuBackend();

/** Flat index into a tensor of `shape` for an output multi-index, NumPy broadcasting by hand. */
function bidx(out: number[], shape: readonly number[]): number {
  const s = stridesOf(shape);
  let i = 0;
  for (let ax = 0; ax < shape.length; ax++) i += (shape[ax] === 1 ? 0 : out[out.length - shape.length + ax]) * s[ax];
  return i;
}

describe('cpu elementwise', () => {
  const pairs: [number[], number[], number[]][] = [
    [[3, 1, 5], [4, 1], [3, 4, 5]],
    [[7], [7], [7]],
    [[1], [2, 3], [2, 3]],
    [[2, 1, 1, 3], [1, 5, 3], [2, 1, 5, 3]],
  ];
  const ops = [
    ['add', (x: number, y: number) => x + y],
    ['sub', (x: number, y: number) => x - y],
    ['mul', (x: number, y: number) => x * y],
  ] as const;
  for (const dtype of FLOATS)
    for (const [name, f] of ops)
      it(`${name} ${dtype} broadcasts`, async () => {
        const rng = new Rng(name.length * 31 + dtype.length);
        for (const [sa, sb, so] of pairs) {
          const A = randomTensor(b, rng, sa, dtype);
          // b in another dtype: the result still has a's dtype
          const B = randomTensor(b, rng, sb, dtype === 'f32' ? 'bf16' : 'f32');
          const out = b[name](A.t, B.t);
          expect(out.shape).toEqual(so);
          expect(out.dtype).toBe(dtype);
          const n = so.reduce((x, y) => x * y, 1);
          const want = Float64Array.from({ length: n }, (_, i) => {
            const idx = unravel(i, so);
            return f(A.x[bidx(idx, sa)], B.x[bidx(idx, sb)]);
          });
          expectRounded(await values(out), want, dtype, 0, name);
        }
      });

  for (const dtype of FLOATS)
    it(`modulate and gatedAdd ${dtype} on a strided x`, async () => {
      const rng = new Rng(77);
      const X = randomTensor(b, rng, [5, 2, 6], dtype); // viewed as [2, 5, 6]
      const x = X.t.permute([1, 0, 2]);
      const S = randomTensor(b, rng, [2, 1, 6], dtype);
      const T = randomTensor(b, rng, [6], dtype);
      const Y = randomTensor(b, rng, [2, 5, 6], dtype);
      const mod = await values(b.modulate(x, S.t, T.t));
      const gated = await values(b.gatedAdd(x, Y.t, S.t));
      const wantMod = new Float64Array(60);
      const wantGate = new Float64Array(60);
      for (let i = 0; i < 2; i++)
        for (let l = 0; l < 5; l++)
          for (let c = 0; c < 6; c++) {
            const xv = X.x[(l * 2 + i) * 6 + c];
            wantMod[(i * 5 + l) * 6 + c] = xv * (1 + S.x[i * 6 + c]) + T.x[c];
            wantGate[(i * 5 + l) * 6 + c] = xv + Y.x[(i * 5 + l) * 6 + c] * S.x[i * 6 + c];
          }
      expectRounded(mod, wantMod, dtype, 1e-12, 'modulate');
      expectRounded(gated, wantGate, dtype, 1e-12, 'gatedAdd');
    });

  it('rejects shapes that do not broadcast, or that would widen x', () => {
    const rng = new Rng(3);
    const x = randomTensor(b, rng, [2, 3]).t;
    expect(() => b.add(x, randomTensor(b, rng, [4]).t)).toThrow(ShapeError);
    expect(() => b.modulate(x, randomTensor(b, rng, [4, 2, 3]).t, x)).toThrow(/modulate: scale \[4, 2, 3\] must broadcast to x/);
    expect(() => b.gatedAdd(x, x, randomTensor(b, rng, [2]).t)).toThrow(ShapeError);
  });
});
