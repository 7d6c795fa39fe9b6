import { describe, expect, it } from 'vitest';
import { BlockMask, BlockMaskError, type DType, DTypeError, ShapeError } from '../src/index.js';
import { AttentionWorkspace } from '../src/cpu/attention-simd.js';
import { CpuBackend, FLOATS, Rng, expectRounded, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

interface Ref {
  out: Float64Array;
  lse: Float64Array;
  /** Softmax probabilities [B*H, Lq, Lk] (0 for excluded keys). */
  p: Float64Array;
}

/** Plain attention: explicit scores, explicit softmax over the allowed keys, explicit P.V. */
function attentionRef(q: Float64Array, k: Float64Array, v: Float64Array, [B, H, Lq, Lk, D]: number[], scale: number, allowed: (h: number, i: number, j: number) => boolean): Ref {
  const out = new Float64Array(B * H * Lq * D);
  const lse = new Float64Array(B * H * Lq);
  const p = new Float64Array(B * H * Lq * Lk);
  for (let bh = 0; bh < B * H; bh++)
    for (let i = 0; i < Lq; i++) {
      const s: number[] = [];
      for (let j = 0; j < Lk; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(bh * Lq + i) * D + d] * k[(bh * Lk + j) * D + d];
        s.push(allowed(bh % H, i, j) ? dot * scale : -Infinity);
      }
      const m = Math.max(...s);
      if (m === -Infinity) {
        lse[bh * Lq + i] = -Infinity;
        continue;
      }
      const z = s.reduce((acc, x) => acc + Math.exp(x - m), 0);
      lse[bh * Lq + i] = m + Math.log(z);
      for (let j = 0; j < Lk; j++) {
        const pj = Math.exp(s[j] - m) / z;
        p[(bh * Lq + i) * Lk + j] = pj;
        for (let d = 0; d < D; d++) out[(bh * Lq + i) * D + d] += pj * v[(bh * Lk + j) * D + d];
      }
    }
  return { out, lse, p };
}

/**
 * The plain scalar float64 loops the SIMD kernels must reproduce bit for bit: each score a
 * dot product in d order times scale; the row max; exp(s - max) summed in key order; P·V
 * summed in key order, times 1/sum. Keys that are not allowed are never read.
 */
function attentionScalar(q: Float64Array, k: Float64Array, v: Float64Array, [B, H, Lq, Lk, D]: number[], scale: number, allowed: (h: number, i: number, j: number) => boolean) {
  const out = new Float64Array(B * H * Lq * D);
  const lse = new Float64Array(B * H * Lq).fill(-Infinity);
  for (let bh = 0; bh < B * H; bh++)
    for (let i = 0; i < Lq; i++) {
      const keys = Array.from({ length: Lk }, (_, j) => j).filter((j) => allowed(bh % H, i, j));
      if (keys.length === 0) continue;
      const s = keys.map((j) => {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(bh * Lq + i) * D + d] * k[(bh * Lk + j) * D + d];
        return dot * scale;
      });
      let m = -Infinity;
      for (const x of s) if (x > m) m = x;
      let sum = 0;
      const p = s.map((x) => {
        const e = Math.exp(x - m);
        sum += e;
        return e;
      });
      for (let d = 0; d < D; d++) {
        let acc = 0;
        keys.forEach((j, n) => {
          acc += p[n] * v[(bh * Lk + j) * D + d];
        });
        out[(bh * Lq + i) * D + d] = acc * (1 / sum);
      }
      lse[bh * Lq + i] = m + Math.log(sum);
    }
  return { out, lse };
}

/** f32 tensor [B, H, L, D] of N(0, 1) draws, with `poke` applied to its float64 mirror first. */
function poked(rng: Rng, shape: number[], poke: (x: Float64Array) => void = () => {}) {
  const x = Float64Array.from({ length: shape.reduce((a, n) => a * n, 1) }, () => Math.fround(rng.normal()));
  poke(x);
  return { t: b.upload(Float32Array.from(x), shape, 'f32'), x };
}

/** q, k, v given as [B, L, H, D] views permuted to [B, H, L, D] (non-contiguous, as a DiT produces them). */
function qkv(rng: Rng, B: number, H: number, Lq: number, Lk: number, D: number, dtype: DType, std = 1) {
  const make = (L: number) => {
    const r = randomTensor(b, rng, [B, L, H, D], dtype, std);
    const x = new Float64Array(r.x.length);
    for (let bb = 0; bb < B; bb++) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++) x[(((bb * H + h) * L + l) * D) + d] = r.x[((bb * L + l) * H + h) * D + d];
    return { t: r.t.permute([0, 2, 1, 3]), x };
  };
  return { q: make(Lq), k: make(Lk), v: make(Lk) };
}

describe('cpu attention', () => {
  for (const dtype of FLOATS)
    it(`dense ${dtype}, Lq != Lk, odd head_dim, custom scale; lse`, async () => {
      const rng = new Rng(31);
      const [B, H, Lq, Lk, D] = [2, 3, 37, 70, 5];
      const { q, k, v } = qkv(rng, B, H, Lq, Lk, D, dtype);
      for (const scale of [undefined, 0.7]) {
        const r = b.attention(q.t, k.t, v.t, { scale });
        const ref = attentionRef(q.x, k.x, v.x, [B, H, Lq, Lk, D], scale ?? 1 / Math.sqrt(D), () => true);
        expect(r.out.dtype).toBe(dtype);
        expect(r.lse.dtype).toBe('f32');
        expect(r.lse.shape).toEqual([B, H, Lq]);
        expectRounded(await values(r.out), ref.out, dtype, 1e-12, 'out');
        expectRounded(await values(r.lse), ref.lse, 'f32', 1e-12, 'lse');
      }
    });

  it('a single key returns v', async () => {
    const rng = new Rng(2);
    const { q, k, v } = qkv(rng, 1, 2, 9, 1, 6, 'f32');
    const r = b.attention(q.t, k.t, v.t);
    const out = await values(r.out);
    for (let h = 0; h < 2; h++) for (let i = 0; i < 9; i++) for (let d = 0; d < 6; d++) expect(out[(h * 9 + i) * 6 + d]).toBe(Math.fround(v.x[h * 6 + d]));
  });

  for (const dtype of FLOATS)
    it(`block-sparse ${dtype} with ragged blocks, empty rows and always-on text keys`, async () => {
      const rng = new Rng(41);
      const [B, H, Lq, Lk, D] = [1, 2, 200, 150, 8];
      const bs = 64;
      const { q, k, v } = qkv(rng, B, H, Lq, Lk, D, dtype);
      const nQ = 4;
      const nK = 3;
      const grid = Array.from({ length: H * nQ * nK }, () => (rng.uniform() < 0.4 ? 1 : 0));
      grid.fill(0, 1 * nK, 2 * nK); // head 0, query block 1: no active block
      grid[nQ * nK + 3 * nK + 2] = 1; // head 1, ragged last query block sees the ragged last key block
      const mask = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: bs }, grid);
      const r = b.attention(q.t, k.t, v.t, { mask });
      const ref = attentionRef(q.x, k.x, v.x, [B, H, Lq, Lk, D], 1 / Math.sqrt(D), (h, i, j) => mask.isActive(h, Math.floor(i / bs), Math.floor(j / bs)));
      const out = await values(r.out);
      const lse = await values(r.lse);
      expectRounded(out, ref.out, dtype, 1e-12, 'out');
      expectRounded(lse, ref.lse, 'f32', 1e-12, 'lse');
      for (let i = 64; i < 128; i++) {
        expect(lse[i]).toBe(-Infinity);
        for (let d = 0; d < D; d++) expect(out[i * D + d]).toBe(0);
      }
      // always-on text keys [140, 150): every query row sees them
      const withText = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: bs }, new Uint8Array(H * nQ * nK), { keys: [140, 150] });
      const rt = b.attention(q.t, k.t, v.t, { mask: withText });
      const reft = attentionRef(q.x, k.x, v.x, [B, H, Lq, Lk, D], 1 / Math.sqrt(D), (_h, _i, j) => j >= 128);
      expectRounded(await values(rt.out), reft.out, dtype, 1e-12, 'out (text keys)');
    });

  it('sparse with BlockMask.full equals dense, bit for bit', async () => {
    const rng = new Rng(5);
    const { q, k, v } = qkv(rng, 2, 1, 130, 129, 4, 'f32');
    const dense = b.attention(q.t, k.t, v.t);
    const sparse = b.attention(q.t, k.t, v.t, { mask: BlockMask.full({ heads: 1, qLen: 130, kLen: 129 }) });
    expect(await values(sparse.out)).toEqual(await values(dense.out));
    expect(await values(sparse.lse)).toEqual(await values(dense.lse));
  });

  for (const [tokens, bs] of [[undefined, 64], [90, 64], [150, 128]] as const)
    it(`sparsity map from the explicit softmax, tokens=${tokens ?? 'all'}, block ${bs}`, async () => {
      const rng = new Rng(tokens ?? 1);
      const [B, H, Lq, Lk, D] = [2, 2, 150, 170, 8];
      const { q, k, v } = qkv(rng, B, H, Lq, Lk, D, 'f32', 1.8);
      const tau = 1e-3;
      const r = b.attention(q.t, k.t, v.t, { map: { tau, blockSize: bs, tokens } });
      const ref = attentionRef(q.x, k.x, v.x, [B, H, Lq, Lk, D], 1 / Math.sqrt(D), () => true);
      const tq = tokens ?? Lq;
      const tk = tokens ?? Lk;
      const nQ = Math.ceil(tq / bs);
      const nK = Math.ceil(tk / bs);
      const map = await values(r.map!);
      expect(r.map!.shape).toEqual([B, H, nQ, nK]);
      let spread = 0;
      for (let bh = 0; bh < B * H; bh++)
        for (let I = 0; I < nQ; I++)
          for (let J = 0; J < nK; J++) {
            let below = 0;
            let total = 0;
            for (let i = I * bs; i < Math.min(tq, (I + 1) * bs); i++)
              for (let j = J * bs; j < Math.min(tk, (J + 1) * bs); j++) {
                total++;
                if (ref.p[(bh * Lq + i) * Lk + j] < tau) below++;
              }
            expect(map[(bh * nQ + I) * nK + J]).toBe(Math.fround(below / total));
            spread += below > 0 && below < total ? 1 : 0;
          }
      expect(spread).toBeGreaterThan(0); // the data really straddles tau
      expectRounded(await values(r.out), ref.out, 'f32', 1e-12, 'out with map');
      // within a mask: the same values on its blocks, NaN on the others
      const grid = new Uint8Array(H * Math.ceil(Lq / bs) * Math.ceil(Lk / bs)).map(() => (rng.uniform() < 0.5 ? 1 : 0));
      const within = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: bs }, grid);
      const part = await values(b.attention(q.t, k.t, v.t, { map: { tau, blockSize: bs, tokens, within } }).map!);
      let skipped = 0;
      for (let i = 0; i < map.length; i++) {
        const h = Math.floor(i / (nQ * nK)) % H;
        if (within.isActive(h, Math.floor(i / nK) % nQ, i % nK)) expect(part[i]).toBe(map[i]);
        else expect(part[i], `block ${i}`).toBeNaN(), skipped++;
      }
      expect(skipped).toBeGreaterThan(0);
    });

  it('equals the plain scalar float64 loops bit for bit: odd Lk and D, rows not a multiple of 4, several key spans', async () => {
    const rng = new Rng(77);
    for (const [Lq, Lk, D, bs] of [[23, 31, 1, 64], [37, 149, 5, 64], [9, 130, 6, 128], [66, 197, 3, 64]]) {
      const H = 2;
      const [q, k, v] = [poked(rng, [1, H, Lq, D]), poked(rng, [1, H, Lk, D]), poked(rng, [1, H, Lk, D])];
      const nQ = Math.ceil(Lq / bs);
      const nK = Math.ceil(Lk / bs);
      const grid = Array.from({ length: H * nQ * nK }, () => (rng.uniform() < 0.5 ? 1 : 0));
      const mask = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: bs }, grid);
      const cases = [
        { opts: {}, allowed: () => true },
        { opts: { mask }, allowed: (h: number, i: number, j: number) => mask.isActive(h, Math.floor(i / bs), Math.floor(j / bs)) },
      ];
      for (const { opts, allowed } of cases) {
        const r = b.attention(q.t, k.t, v.t, opts);
        const ref = attentionScalar(q.x, k.x, v.x, [1, H, Lq, Lk, D], 1 / Math.sqrt(D), allowed);
        expect(await values(r.out)).toEqual(Float32Array.from(ref.out));
        expect(await values(r.lse)).toEqual(Float32Array.from(ref.lse));
      }
    }
  });

  it('never reads keys of inactive blocks: infinities and NaNs there leave the output exact', async () => {
    const rng = new Rng(13);
    const [H, Lq, Lk, D, bs] = [1, 12, 149, 4, 64];
    // key block 1 = keys [64, 128) is inactive between two active ones; the last key (148) is unpaired
    const mask = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: bs }, [1, 0, 1]);
    const q = poked(rng, [1, H, Lq, D]);
    const k = poked(rng, [1, H, Lk, D], (x) => {
      x[64 * D] = Number.NaN;
      x[100 * D + 1] = Infinity;
    });
    const v = poked(rng, [1, H, Lk, D], (x) => {
      x[64 * D + 2] = Infinity;
      x[127 * D] = Number.NaN;
    });
    const r = b.attention(q.t, k.t, v.t, { mask });
    const ref = attentionScalar(q.x, k.x, v.x, [1, H, Lq, Lk, D], 0.5, (h, i, j) => mask.isActive(h, Math.floor(i / bs), Math.floor(j / bs)));
    const out = await values(r.out);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(out).toEqual(Float32Array.from(ref.out));
  });

  it('gives the same bits before and after a larger call reused its working memory', async () => {
    const rng = new Rng(21);
    const small = [poked(rng, [1, 1, 9, 5]), poked(rng, [1, 1, 11, 5]), poked(rng, [1, 1, 11, 5])];
    const first = await values(b.attention(small[0].t, small[1].t, small[2].t).out);
    const big = [poked(rng, [2, 2, 40, 6]), poked(rng, [2, 2, 45, 6]), poked(rng, [2, 2, 45, 6])];
    b.attention(big[0].t, big[1].t, big[2].t, { map: { tau: 1e-3, blockSize: 8 } });
    const again = await values(b.attention(small[0].t, small[1].t, small[2].t).out);
    expect(again).toEqual(first);
    expect(again).toEqual(Float32Array.from(attentionScalar(small[0].x, small[1].x, small[2].x, [1, 1, 9, 11, 5], 1 / Math.sqrt(5), () => true).out));
  });

  it('SIMD kernels: float64 scores and P.V equal scalar loops bit for bit (before output rounding)', () => {
    const rng = new Rng(3);
    // values spread over many binades, so that any change in summation order shows up
    const wide = (n: number) => Float32Array.from({ length: n }, () => rng.normal() * 2 ** Math.floor(rng.uniform() * 20 - 10));
    for (const [Lq, Lk, D, tile] of [[77, 149, 5, 64], [70, 200, 8, 128]]) {
      const [Q, K, V] = [wide(Lq * D), wide(Lk * D), wide(Lk * D)];
      const ws = new AttentionWorkspace(Lq, Lk, D, tile, true);
      ws.loadHead(Q, K, V, 0, 0);
      const spans = Int32Array.of(0, 64, 128, Lk); // a gap [64, 128) and an odd end when Lk is odd
      const [r0, rows] = [Lq > tile ? tile : 0, Math.min(tile, Lq - (Lq > tile ? tile : 0))];
      const scale = 0.37;
      ws.score(r0, rows, spans, 2, scale);
      for (let r = 0; r < rows; r++)
        for (const [a, e] of [[0, 64], [128, Lk]])
          for (let j = a; j < e; j++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += Q[(r0 + r) * D + d] * K[j * D + d];
            expect(ws.scores[r * ws.ld + j]).toBe(dot * scale);
          }
      const p = Float64Array.from({ length: rows * ws.ld }, () => rng.uniform() * 2 ** Math.floor(rng.uniform() * 30 - 15));
      for (let r = 0; r < rows; r++) ws.probs.set(p.subarray(r * ws.ld, (r + 1) * ws.ld), r * ws.ld);
      ws.accumulate(rows, spans, 2);
      for (let r = 0; r < rows; r++)
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (const [a, e] of [[0, 64], [128, Lk]]) for (let j = a; j < e; j++) acc += p[r * ws.ld + j] * V[j * D + d];
          expect(ws.acc[r * ws.dp + d]).toBe(acc);
        }
    }
  });

  it('rejects mismatched shapes, dtypes and masks', () => {
    const rng = new Rng(9);
    const q = randomTensor(b, rng, [1, 2, 10, 4]).t;
    const k = randomTensor(b, rng, [1, 2, 12, 4]).t;
    expect(() => b.attention(q, randomTensor(b, rng, [1, 2, 12, 5]).t, k)).toThrow(/attention: k \[1, 2, 12, 5\] must be/);
    expect(() => b.attention(q, k, randomTensor(b, rng, [1, 2, 11, 4]).t)).toThrow(ShapeError);
    expect(() => b.attention(q, b.cast(k, 'f16'), k)).toThrow(DTypeError);
    expect(() => b.attention(q.reshape([2, 10, 4]), k, k)).toThrow(/rank 4/);
    expect(() => b.attention(q, k, k, { mask: BlockMask.full({ heads: 3, qLen: 10, kLen: 12, blockSize: 64 }) })).toThrow(BlockMaskError);
    expect(() => b.attention(q, k, k, { mask: BlockMask.full({ heads: 2, qLen: 10, kLen: 10, blockSize: 64 }) })).toThrow(/kLen=10/);
    expect(() => b.attention(q, k, k, { mask: BlockMask.full({ heads: 2, qLen: 10, kLen: 12, blockSize: 64 }), map: { tau: 1e-4, blockSize: 64 } })).toThrow(/cannot be combined/);
    expect(() => b.attention(q, k, k, { map: { tau: 1e-4, blockSize: 64, tokens: 11 } })).toThrow(/map.tokens/);
    expect(() => b.attention(q, k, k, { map: { tau: 1e-4, blockSize: 128, within: BlockMask.full({ heads: 2, qLen: 10, kLen: 12, blockSize: 64 }) } })).toThrow(/map.within has block size 64/);
    expect(() => b.attention(q, k, k, { map: { tau: 1e-4, blockSize: 64, within: BlockMask.full({ heads: 1, qLen: 10, kLen: 12, blockSize: 64 }) } })).toThrow(/map.within is for heads=1/);
  });
});
