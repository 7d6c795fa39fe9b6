import { describe, expect, it } from 'vitest';
import { BackendMismatchError, DTypeError, DisposedTensorError, ShapeError, bf16ToF32, f16ToF32, fromNumbers } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, randomTensor, stridesOf, unravel, values } from './support/random.js';

const b = new CpuBackend();

describe('cpu upload / read / contiguous', () => {
  it('round-trips raw bits of every dtype', async () => {
    const rng = new Rng(1);
    for (const dtype of FLOATS) {
      const bits = fromNumbers(rng.normals(37), dtype);
      const t = b.upload(bits, [37], dtype);
      const orig = Array.from(bits);
      bits[0] = 123; // upload copied: later host writes must not leak in
      expect(Array.from(await t.read())).toEqual(orig);
    }
    const ints = Int32Array.from({ length: 11 }, () => rng.int(-1e9, 1e9));
    expect(Array.from(await b.upload(ints, [11, 1], 'i32').read())).toEqual(Array.from(ints));
  });

  it('reads permuted, sliced and transposed views element by element', async () => {
    const rng = new Rng(2);
    for (const dtype of FLOATS) {
      const shape = [3, 5, 1, 7];
      const { t, x } = randomTensor(b, rng, shape, dtype);
      const src = stridesOf(shape);
      const view = t.permute([3, 0, 2, 1]).slice(0, 2, 6).slice(3, 1, 4).transpose(1, 3);
      // view[a, b, c, d] = x[perm...] computed by hand
      const got = await values(b.contiguous(view));
      expect(view.shape).toEqual([4, 3, 1, 3]);
      for (let i = 0; i < got.length; i++) {
        const [a, d1, c, d3] = unravel(i, view.shape);
        // after permute [3,0,2,1]: axes (w, x0, x2, x1); slice w in [2,6), x1 in [1,4); transpose(1,3) swaps x0 and x1
        const w = a + 2;
        const x1 = d1 + 1;
        const x0 = d3;
        expect(got[i]).toBe(x[x0 * src[0] + x1 * src[1] + c * src[2] + w * src[3]]);
      }
      expect(await values(view)).toEqual(got);
    }
  });

  it('contiguous of a contiguous tensor shares storage under a new handle', async () => {
    const { t } = randomTensor(b, new Rng(3), [4, 3]);
    const c = b.contiguous(t);
    expect(c).not.toBe(t);
    expect(c.storage).toBe(t.storage);
    t.dispose();
    expect((await c.read()).length).toBe(12);
  });

  it('rejects bad uploads and foreign or disposed tensors with typed errors', () => {
    expect(() => b.upload(new Float32Array(6), [2, 3], 'f16')).toThrow(DTypeError);
    expect(() => b.upload(new Float32Array(5), [2, 3], 'f32')).toThrow(ShapeError);
    const other = new CpuBackend().upload(new Float32Array(4), [4], 'f32');
    expect(() => b.gelu(other)).toThrow(BackendMismatchError);
    const t = b.upload(new Float32Array(4), [4], 'f32');
    t.dispose();
    expect(() => b.silu(t)).toThrow(DisposedTensorError);
    expect(() => b.gelu(b.upload(new Int32Array(4), [4], 'i32'))).toThrow(/gelu: x has dtype i32/);
  });
});

describe('cpu cast', () => {
  it('rounds to the nearest f16/bf16 and decodes exactly', async () => {
    const rng = new Rng(4);
    const { t, x } = randomTensor(b, rng, [5, 9], 'f32', 3);
    for (const [dtype, decode, ulp] of [['f16', f16ToF32, 2 ** -10], ['bf16', bf16ToF32, 2 ** -7]] as const) {
      const h = b.cast(t, dtype);
      const bits = await h.read();
      for (let i = 0; i < x.length; i++) {
        const y = decode(bits[i]);
        // nearest: within half an ulp of the binade of x
        expect(Math.abs(y - x[i])).toBeLessThanOrEqual(0.5 * ulp * 2 ** Math.floor(Math.log2(Math.abs(x[i]))) * (1 + 1e-12));
      }
      expect(Array.from(await values(b.cast(h, 'f32')))).toEqual(Array.from(bits, decode));
    }
    const ints = await b.cast(b.upload(Float32Array.from([2.7, -2.7, 0.4, 1e6]), [4], 'f32'), 'i32').read();
    expect(Array.from(ints)).toEqual([2, -2, 0, 1e6]);
  });
});

describe('cpu concat', () => {
  it('joins strided views along every axis', async () => {
    const rng = new Rng(5);
    for (const dtype of FLOATS)
      for (const axis of [0, 1, 2, -1]) {
        const base = [2, 3, 5];
        const parts = [1, 4, 2].map((n) => {
          const shape = [...base];
          shape[axis < 0 ? 2 : axis] = n;
          // build each part as a transposed view of a [shape reversed] tensor
          const r = randomTensor(b, rng, [...shape].reverse(), dtype);
          return { t: r.t.permute([2, 1, 0]), x: r.x, shape };
        });
        const out = b.concat(parts.map((p) => p.t), axis);
        const ax = axis < 0 ? 2 : axis;
        const got = await values(out);
        let i = 0;
        for (const idx of out.shape.map((d) => [...Array(d).keys()]).reduce<number[][]>((acc, r) => acc.flatMap((a) => r.map((v) => [...a, v])), [[]])) {
          let off = idx[ax];
          const p = parts.find((q) => (off < q.shape[ax] ? true : ((off -= q.shape[ax]), false)))!;
          const local = [...idx];
          local[ax] = off;
          const rs = stridesOf([...p.shape].reverse());
          expect(got[i++]).toBe(p.x[local[2] * rs[0] + local[1] * rs[1] + local[0] * rs[2]]);
        }
      }
  });

  it('rejects mismatched shapes and dtypes', () => {
    const a = b.upload(new Float32Array(6), [2, 3], 'f32');
    expect(() => b.concat([a, b.upload(new Float32Array(8), [2, 4], 'f32')], 0)).toThrow(ShapeError);
    expect(() => b.concat([a, b.upload(new Uint16Array(6), [2, 3], 'f16')], 0)).toThrow(DTypeError);
    expect(() => b.concat([a], 2)).toThrow(ShapeError);
  });
});
