import { Rng } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { PipelineOptionError, latentFidelity } from '../src/index.js';

describe('latentFidelity', () => {
  it('matches PSNR and relative error computed in float64 by hand', () => {
    const r = new Rng(31);
    const ref = r.normals(1001, 1.3, 0.2);
    const noise = r.normals(1001, 0.01);
    const x = ref.map((v, i) => v + noise[i]);
    let lo = Infinity;
    let hi = -Infinity;
    let se = 0;
    let n2 = 0;
    for (let i = 0; i < ref.length; i++) {
      lo = Math.min(lo, ref[i]);
      hi = Math.max(hi, ref[i]);
      se += (x[i] - ref[i]) ** 2;
      n2 += ref[i] ** 2;
    }
    const f = latentFidelity(x, ref);
    expect(f.psnrDb).toBeCloseTo(10 * Math.log10((hi - lo) ** 2 / (se / ref.length)), 10);
    expect(f.relativeError).toBeCloseTo(Math.sqrt(se / n2), 12);
    expect(f.maxAbsError).toBe(Math.max(...x.map((v, i) => Math.abs(v - ref[i]))));
    expect(latentFidelity(ref, ref).psnrDb).toBe(Infinity);
    expect(() => latentFidelity(ref.subarray(1), ref)).toThrow(PipelineOptionError);
  });
});
