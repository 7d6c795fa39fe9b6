import { describe, expect, it } from 'vitest';
import {
  type AttentionOptions,
  type AttentionResult,
  BlockMask,
  CpuBackend,
  type DType,
  type MatmulOptions,
  type Rope3dOptions,
  type Tensor,
} from '../src/index.js';
import { ConformanceError, conformanceCases, runConformance } from '../src/conformance.js';

describe('conformance suite on the CPU backend', () => {
  for (const c of conformanceCases(new CpuBackend(), { seed: 1 })) it(c.name, c.run);

  it('covers every dtype and filters by only/skip/dtypes', () => {
    const names = conformanceCases(new CpuBackend()).map((c) => c.name);
    for (const d of ['f32', 'f16', 'bf16']) expect(names.some((n) => n.startsWith(`[${d}] attention dense`))).toBe(true);
    const some = conformanceCases(new CpuBackend(), { dtypes: ['bf16'], only: /attention/, skip: /map/ }).map((c) => c.name);
    expect(some.length).toBeGreaterThan(2);
    expect(some.every((n) => n.startsWith('[bf16] attention') && !n.includes('map'))).toBe(true);
    const medium = conformanceCases(new CpuBackend(), { size: 'medium' });
    expect(medium.length).toBeGreaterThan(60);
  });
});

// ---- the suite must catch real bugs: each backend below breaks one op slightly ----

/** Applies fn to the decoded f32 values of x (test-only: reaches into CPU storage). */
function mapValues(b: CpuBackend, x: Tensor, fn: (v: number) => number): Tensor {
  const f = b.cast(x, 'f32');
  const out = Float32Array.from(f.storage.handle as Float32Array, fn);
  f.dispose();
  const y = b.upload(out, x.shape, 'f32');
  return x.dtype === 'f32' ? y : b.cast(y, x.dtype);
}

/** Abramowitz-Stegun 7.1.26 erf (|error| < 1.5e-7): GELU's exact form, not the tanh one the contract asks for. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x < 0 ? -y : y;
}

class GeluErf extends CpuBackend {
  override gelu(x: Tensor): Tensor {
    return mapValues(this, x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  }
}

/** Token l gets token l+1's position. */
class RopeOffByOne extends CpuBackend {
  override rope3d(x: Tensor, opts: Rope3dOptions): Tensor {
    const shifted = this.concat([x.slice(1, 0, 1), x], 1);
    return this.contiguous(super.rope3d(shifted, opts).slice(1, 1));
  }
}

/** Drops the ragged last key block from every mask row. */
class MaskDropsRaggedBlock extends CpuBackend {
  override attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    const m = opts.mask;
    if (!m || m.kLen % m.blockSize === 0) return super.attention(q, k, v, opts);
    const grid = m.toDense();
    for (let r = 0; r < m.heads * m.nQ; r++) grid[r * m.nK + m.nK - 1] = 0;
    const mask = BlockMask.fromDense({ heads: m.heads, qLen: m.qLen, kLen: m.kLen, blockSize: m.blockSize }, grid);
    return super.attention(q, k, v, { ...opts, mask });
  }
}

/** Counts p <= tau instead of p < tau: tau nudged up by one float64 ulp; at tau = 1 every p counts. */
class MapLessOrEqual extends CpuBackend {
  override attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    if (!opts.map) return super.attention(q, k, v, opts);
    const tau = Math.min(1, opts.map.tau * (1 + Number.EPSILON));
    const r = super.attention(q, k, v, { ...opts, map: { ...opts.map, tau } });
    if (opts.map.tau < 1 || !r.map) return r;
    const ones = this.upload(new Float32Array(r.map.size).fill(1), r.map.shape, 'f32');
    r.map.dispose();
    return { ...r, map: ones };
  }
}

/** Divides ragged map blocks by the full block area instead of their real entries. */
class MapPaddedArea extends CpuBackend {
  override attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): AttentionResult {
    const r = super.attention(q, k, v, opts);
    if (!opts.map || !r.map) return r;
    const bs = opts.map.blockSize;
    const [, , nQ, nK] = r.map.shape;
    const tq = opts.map.tokens ?? q.shape[2];
    const tk = opts.map.tokens ?? k.shape[2];
    const vals = Float32Array.from(r.map.storage.handle as Float32Array, (x, i) => {
      const I = Math.floor(i / nK) % nQ;
      const J = i % nK;
      return (x * Math.min(bs, tq - I * bs) * Math.min(bs, tk - J * bs)) / (bs * bs);
    });
    const map = this.upload(vals, r.map.shape, 'f32');
    r.map.dispose();
    return { ...r, map };
  }
}

/** bf16 by truncation instead of round-to-nearest-even. */
class Bf16Truncation extends CpuBackend {
  override cast(t: Tensor, dtype: DType): Tensor {
    if (dtype !== 'bf16' || t.dtype === 'bf16') return super.cast(t, dtype);
    const f = super.cast(t, 'f32');
    const bits = new Uint32Array((f.storage.handle as Float32Array).slice().buffer);
    f.dispose();
    return this.upload(Uint16Array.from(bits, (u) => u >>> 16), t.shape, 'bf16');
  }
}

/** Forgets the bias of linear layers. */
class MatmulNoBias extends CpuBackend {
  override matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
    return super.matmul(a, b, { ...opts, bias: undefined });
  }
}

describe('conformance suite catches broken backends', () => {
  const mutants: [string, CpuBackend, RegExp][] = [
    ['gelu with erf instead of tanh', new GeluErf(), /^\[f32\] gelu/],
    ['RoPE position off by one', new RopeOffByOne(), /^\[(f32|f16|bf16)\] rope3d/],
    ['mask ignoring the ragged last key block', new MaskDropsRaggedBlock(), /^\[(f32|f16|bf16)\] attention block-sparse, random masks/],
    ['map with <= instead of <', new MapLessOrEqual(), /^\[(f32|f16|bf16)\] attention map boundary/],
    ['map dividing ragged blocks by the padded area', new MapPaddedArea(), /^\[(f32|f16|bf16)\] attention dense \+ sparsity map/],
    ['bf16 truncation instead of RNE', new Bf16Truncation(), /^\[(f32|f16)\] cast to every float dtype/],
    ['matmul dropping the bias', new MatmulNoBias(), /^\[(f32|f16|bf16)\] matmul linear/],
  ];
  for (const [bug, backend, expected] of mutants)
    it(`fails on: ${bug}`, async () => {
      const { passed, failed } = await runConformance(backend, { seed: 3 });
      const failedNames = failed.map((f) => f.name);
      expect(failedNames.filter((n) => expected.test(n)).length, `failed: ${failedNames.join(', ')}`).toBeGreaterThan(0);
      for (const f of failed) expect(f.error).toBeInstanceOf(ConformanceError);
      // the bug is caught where it lives, not by collateral damage everywhere
      expect(passed.length).toBeGreaterThan(failed.length);
    });

  it('reports a readable diff', async () => {
    const c = conformanceCases(new GeluErf(), { only: /^\[f32\] gelu/ })[0];
    await expect(c.run()).rejects.toThrow(/gelu\(x\) \[.*\]: .*error .*\n {2}at \[\d+, \d+, \d+\]: got .*, expected /);
  });
});
