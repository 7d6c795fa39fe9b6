import { Rng } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { EulerSampler, PipelineOptionError, UniPCSampler, flowSchedule, type FlowSchedule, type Sampler } from '../src/index.js';
import { maxRelativeError } from '@mod-dit/tensor/conformance';

function run(sampler: Sampler, x0: Float32Array, v: (x: Float32Array, sigma: number) => Float32Array): Float32Array[] {
  const out: Float32Array[] = [];
  let x = x0;
  for (let i = 0; i < sampler.schedule.steps; i++) {
    x = sampler.step(i, x, v(x, sampler.schedule.sigmas[i]));
    out.push(x);
  }
  return out;
}


/** A linear, sigma-dependent velocity field v_j = a_j x_j + b_j + c_j sigma (random, per element). */
function linearField(n: number, seed: number) {
  const r = new Rng(seed);
  const a = r.uniforms(n, -1.5, 0.5);
  const b = r.normals(n);
  const c = r.normals(n, 0.7);
  return (x: ArrayLike<number>, sigma: number) => {
    const v = new Float64Array(n);
    for (let j = 0; j < n; j++) v[j] = a[j] * x[j] + b[j] + c[j] * sigma;
    return v;
  };
}

/**
 * float64 re-statement of FlowUniPCMultistepScheduler.step (Wan's fm_solvers_unipc.py) in its
 * own general form: model_outputs/timestep lists, rks, the R matrix and b vector built with
 * the factorial recursion, rho from a linear solve (rho_p = 0.5 for order 2, rho_c = 0.5 for
 * order 1), corrector with the previous step's order, lower_order_final.
 */
function officialUniPC(sigmas: ArrayLike<number>, steps: number, x0: Float64Array, model: (x: Float64Array, s: number) => Float64Array, solverOrder = 2) {
  const lam = (s: number) => Math.log(1 - s) - Math.log(s);
  const outs: (Float64Array | null)[] = new Array(solverOrder).fill(null);
  let lowerOrderNums = 0;
  let thisOrder = 0;
  let last: Float64Array | null = null;
  let x = x0;
  const traj: Float64Array[] = [];
  const solve = (R: number[][], b: number[]) => {
    const n = b.length;
    const M = R.map((row, i) => [...row, b[i]]);
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
      [M[c], M[p]] = [M[p], M[c]];
      for (let r = 0; r < n; r++) {
        if (r === c) continue;
        const f = M[r][c] / M[c][c];
        for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
      }
    }
    return M.map((row, i) => row[n] / row[i]);
  };
  const coeffs = (h: number, order: number, rks: number[]) => {
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let fact = 1;
    const Bh = Math.expm1(hh);
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * fact) / Bh);
      fact *= i + 1;
      hPhiK = hPhiK / hh - 1 / fact;
    }
    return { hPhi1, Bh, R, b };
  };
  for (let idx = 0; idx < steps; idx++) {
    const v = model(x, sigmas[idx]);
    const conv = x.map((xi, j) => xi - sigmas[idx] * v[j]);
    if (idx > 0 && last) {
      const m0 = outs[solverOrder - 1] as Float64Array;
      const st = sigmas[idx];
      const s0 = sigmas[idx - 1];
      const h = lam(st) - lam(s0);
      const rks: number[] = [];
      const D1s: Float64Array[] = [];
      for (let k = 1; k < thisOrder; k++) {
        const mi = outs[solverOrder - 1 - k] as Float64Array;
        const rk = (lam(sigmas[idx - (k + 1)]) - lam(s0)) / h;
        rks.push(rk);
        D1s.push(mi.map((mv, j) => (mv - m0[j]) / rk));
      }
      rks.push(1);
      const { hPhi1, Bh, R, b } = coeffs(h, thisOrder, rks);
      const rhos = thisOrder === 1 ? [0.5] : solve(R, b);
      const xc = new Float64Array(x.length);
      for (let j = 0; j < x.length; j++) {
        let corr = 0;
        for (let k = 0; k < D1s.length; k++) corr += rhos[k] * D1s[k][j];
        xc[j] = (st / s0) * last[j] - (1 - st) * hPhi1 * m0[j] - (1 - st) * Bh * (corr + rhos[rhos.length - 1] * (conv[j] - m0[j]));
      }
      x = xc;
    }
    for (let k = 0; k < solverOrder - 1; k++) outs[k] = outs[k + 1];
    outs[solverOrder - 1] = conv;
    thisOrder = Math.min(Math.min(solverOrder, steps - idx), lowerOrderNums + 1);
    last = x;
    // predictor
    const st = sigmas[idx + 1];
    const s0 = sigmas[idx];
    const m0 = conv;
    const h = lam(st) - lam(s0);
    const rks: number[] = [];
    const D1s: Float64Array[] = [];
    for (let k = 1; k < thisOrder; k++) {
      const mi = outs[solverOrder - 1 - k] as Float64Array;
      const rk = (lam(sigmas[idx - k]) - lam(s0)) / h;
      rks.push(rk);
      D1s.push(mi.map((mv, j) => (mv - m0[j]) / rk));
    }
    rks.push(1);
    const { hPhi1, Bh } = coeffs(h, thisOrder, rks);
    const xn = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const pred = D1s.length ? 0.5 * D1s[0][j] : 0;
      // sigma_t = 0 gives 0 * x, h_phi_1 = B_h = -1 in the limit: written out so the float64 math has no 0 * inf.
      xn[j] = st === 0 ? m0[j] : (st / s0) * x[j] - (1 - st) * hPhi1 * m0[j] - (1 - st) * Bh * pred;
    }
    x = xn;
    if (lowerOrderNums < solverOrder) lowerOrderNums++;
    traj.push(x);
  }
  return traj;
}

describe('EulerSampler', () => {
  it('is exact on the straight flow of a single data point (v = (x - x0) / sigma)', () => {
    const sch = flowSchedule({ steps: 7, shift: 3 });
    const r = new Rng(3);
    const target = r.normals(33);
    const noise = r.normals(33);
    const out = run(new EulerSampler(sch), noise, (x, s) => x.map((xi, j) => (xi - target[j]) / s));
    // started from x = noise at sigma_0: x(sigma) = target + (noise - target) sigma / sigma_0
    for (let i = 0; i < 7; i++) {
      const k = sch.sigmas[i + 1] / sch.sigmas[0];
      const expected = target.map((t, j) => t + (noise[j] - t) * k);
      expect(maxRelativeError(out[i], expected)).toBeLessThan(1e-5);
    }
  });

  it('converges to the analytic solution of dx/dsigma = a x + b at first order', () => {
    const r = new Rng(11);
    const n = 17;
    const a = r.uniforms(n, -2, 1);
    const b = r.normals(n);
    const x0 = r.normals(n);
    // x(s) = (x0 + b/a) e^{a (s - s0)} - b/a
    const errAt = (steps: number) => {
      const sch = flowSchedule({ steps, shift: 1, sigmaMax: 1, wanRounding: false });
      const out = run(new EulerSampler(sch), x0, (x) => x.map((xi, j) => a[j] * xi + b[j]));
      const exact = x0.map((xi, j) => (xi + b[j] / a[j]) * Math.exp(a[j] * (0 - 1)) - b[j] / a[j]);
      return maxRelativeError(out[steps - 1], exact);
    };
    const e1 = errAt(100);
    const e2 = errAt(200);
    expect(e1).toBeLessThan(0.02);
    expect(e1 / e2).toBeGreaterThan(1.8);
    expect(e1 / e2).toBeLessThan(2.2);
  });
});

describe('UniPCSampler', () => {
  it.each([
    [9, 5, 2],
    [2, 3, 2],
    [1, 5, 2],
    [6, 1.5, 1],
    [50, 5, 2],
  ] as const)('matches a float64 restatement of the official update (%i steps, shift %f, order %i)', (steps, shift, order) => {
    const sch = flowSchedule({ steps, shift });
    const n = 29;
    const field = linearField(n, steps * 7 + order);
    const x0 = new Rng(steps).normals(n);
    const ref = officialUniPC(sch.sigmas, steps, Float64Array.from(x0), (x, s) => field(x, s), order);
    const got = run(new UniPCSampler(sch, { order }), x0, (x, s) => Float32Array.from(field(x, s)));
    for (let i = 0; i < steps; i++) expect(maxRelativeError(got[i], ref[i])).toBeLessThan(2e-6);
  });

  it('uses order 1 at the first step and returns the x0 prediction at the last', () => {
    const sch = flowSchedule({ steps: 4, shift: 5 });
    const n = 11;
    const field = linearField(n, 5);
    const x0 = new Rng(8).normals(n);
    const s = new UniPCSampler(sch);
    const v0 = Float32Array.from(field(x0, sch.sigmas[0]));
    const x1 = s.step(0, x0, v0);
    // first-order step in lambda: x1 = (s1/s0) x0 + (1 - s1) * (1 - e^{-h}) * m0, e^{-h} = (alpha0 s1)/(s0 alpha1)
    const [s0, s1] = [sch.sigmas[0], sch.sigmas[1]];
    const eh = ((1 - s0) * s1) / (s0 * (1 - s1));
    for (let j = 0; j < n; j++) {
      const m0 = x0[j] - s0 * v0[j];
      expect(x1[j]).toBeCloseTo((s1 / s0) * x0[j] + (1 - s1) * (1 - eh) * m0, 5);
    }
    let x = x1;
    for (let i = 1; i < 3; i++) x = s.step(i, x, Float32Array.from(field(x, sch.sigmas[i])));
    const v3 = Float32Array.from(field(x, sch.sigmas[3]));
    const last = s.step(3, x, v3);
    // order 1 into sigma = 0: the x0 prediction of the (uncorrected) sample the model saw
    for (let j = 0; j < n; j++) expect(last[j]).toBeCloseTo(x[j] - sch.sigmas[3] * v3[j], 5);
  });

  it('is exact on the straight flow of a single data point', () => {
    const sch = flowSchedule({ steps: 6, shift: 5 });
    const r = new Rng(21);
    const target = r.normals(19);
    const noise = r.normals(19);
    const out = run(new UniPCSampler(sch), noise, (x, s) => x.map((xi, j) => (xi - target[j]) / s));
    for (let i = 0; i < 6; i++) {
      const k = sch.sigmas[i + 1] / sch.sigmas[0];
      expect(maxRelativeError(out[i], target.map((t, j) => t + (noise[j] - t) * k))).toBeLessThan(1e-5);
    }
  });

  it('rejects out-of-order steps and mismatched lengths', () => {
    const sch: FlowSchedule = flowSchedule({ steps: 3, shift: 5 });
    const s = new UniPCSampler(sch);
    const x = new Rng(1).normals(5);
    expect(() => s.step(1, x, x)).toThrow(PipelineOptionError);
    expect(() => s.step(0, x, x.subarray(0, 4))).toThrow(/elements/);
    expect(() => new UniPCSampler(sch, { order: 3 as 2 })).toThrow(/order/);
  });
});
