import { describe, expect, it } from 'vitest';
import { DisposedTensorError, ShapeError, type Tensor, keep, scope } from '../src/index.js';
import { CpuBackend, Rng, randomTensor, stridesOf, unravel, values } from './support/random.js';

const b = new CpuBackend();

/** Reference view: a shape and a function from view index to storage index, composed by hand. */
interface RefView {
  shape: number[];
  at: (idx: number[]) => number;
}

describe('Tensor views', () => {
  it('random chains of slice / permute / transpose / reshape read back correctly', async () => {
    const rng = new Rng(17);
    for (let trial = 0; trial < 40; trial++) {
      const rank = rng.int(1, 5);
      const shape = Array.from({ length: rank }, () => rng.int(1, 6));
      const { t, x } = randomTensor(b, rng, shape);
      let view: Tensor = t;
      const s0 = stridesOf(shape);
      let ref: RefView = { shape: [...shape], at: (idx) => idx.reduce((a, v, i) => a + v * s0[i], 0) };
      for (let step = 0; step < 4; step++) {
        const r = ref;
        const op = rng.int(0, 4);
        if (op === 0) {
          const ax = rng.int(0, r.shape.length);
          const start = rng.int(0, r.shape[ax]);
          const end = rng.int(start + 1, r.shape[ax] + 1);
          view = view.slice(ax, start, end);
          const shp = [...r.shape];
          shp[ax] = end - start;
          ref = { shape: shp, at: (idx) => r.at(idx.map((v, i) => (i === ax ? v + start : v))) };
        } else if (op === 1) {
          const perm = [...r.shape.keys()].sort(() => rng.uniform() - 0.5);
          view = view.permute(perm);
          ref = {
            shape: perm.map((p) => r.shape[p]),
            at: (idx) => {
              const src = new Array<number>(perm.length);
              perm.forEach((p, i) => (src[p] = idx[i]));
              return r.at(src);
            },
          };
        } else if (op === 2 && r.shape.length >= 2) {
          view = view.transpose();
          const n = r.shape.length;
          const shp = [...r.shape];
          [shp[n - 2], shp[n - 1]] = [shp[n - 1], shp[n - 2]];
          ref = {
            shape: shp,
            at: (idx) => {
              const src = [...idx];
              [src[n - 2], src[n - 1]] = [src[n - 1], src[n - 2]];
              return r.at(src);
            },
          };
        } else if (op === 3) {
          if (!view.isContiguous) {
            expect(() => view.reshape([-1])).toThrow(ShapeError);
            view = b.contiguous(view);
          }
          const flat = r.shape.reduce((a, v) => a * v, 1);
          const shp = [flat];
          view = view.reshape([-1]);
          ref = { shape: shp, at: (idx) => r.at(unravel(idx[0], r.shape)) };
        }
      }
      const got = await values(view);
      expect(view.shape).toEqual(ref.shape);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBe(Math.fround(x[ref.at(unravel(i, ref.shape))]));
    }
  });

  it('rejects bad views with ShapeError', () => {
    const t = randomTensor(b, new Rng(1), [2, 3, 4]).t;
    expect(() => t.reshape([5, 5])).toThrow(/element counts differ/);
    expect(() => t.permute([0, 0, 1])).toThrow(ShapeError);
    expect(() => t.slice(1, 2, 4)).toThrow(ShapeError);
    expect(() => t.axis(3)).toThrow(ShapeError);
    expect(t.reshape([4, -1, 2]).shape).toEqual([4, 3, 2]);
  });
});

describe('Tensor lifetime', () => {
  it('scope() frees temporaries, keeps returned tensors, nests', async () => {
    const rng = new Rng(2);
    const before = b.liveStorages;
    const x = randomTensor(b, rng, [3, 5]).t;
    const result = scope(() => {
      const a = b.gelu(x);
      const inner = scope(() => {
        const t1 = b.mul(a, a);
        return { kept: b.add(t1, x), list: [b.silu(t1)] };
      });
      expect(b.liveStorages).toBe(before + 4); // x, a, kept, list[0]; t1 freed by the inner scope
      return inner.kept;
    });
    expect(b.liveStorages).toBe(before + 2); // x and the returned tensor
    expect(result.isDisposed).toBe(false);
    expect((await result.read()).length).toBe(15);
    expect(() => scope(() => {
      b.gelu(x);
      throw new Error('boom');
    })).toThrow('boom');
    expect(b.liveStorages).toBe(before + 2);
    let kept: Tensor | undefined;
    scope(() => {
      kept = keep(b.silu(x));
    });
    expect(kept?.isDisposed).toBe(false);
    kept?.dispose();
    result.dispose();
    x.dispose();
    expect(b.liveStorages).toBe(before);
  });

  it('views keep storage alive until the last one is disposed', async () => {
    const before = b.liveStorages;
    const t = randomTensor(b, new Rng(3), [4, 4]).t;
    const v = t.transpose();
    t.dispose();
    expect(b.liveStorages).toBe(before + 1);
    expect((await v.read()).length).toBe(16);
    v.dispose();
    v.dispose(); // idempotent
    expect(b.liveStorages).toBe(before);
  });

  it('use after dispose throws DisposedTensorError', async () => {
    const t = randomTensor(b, new Rng(4), [2, 2]).t;
    t.dispose();
    expect(() => b.add(t, t)).toThrow(DisposedTensorError);
    expect(() => t.transpose()).toThrow(DisposedTensorError);
    expect(() => t.read()).toThrow(DisposedTensorError);
    await expect(b.read(t)).rejects.toThrow(DisposedTensorError);
  });
});
