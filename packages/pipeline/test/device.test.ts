import { CpuBackend, Rng, type Tensor } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import {
  COND,
  DenoiseCancelledError,
  EulerSampler,
  ModelOutputError,
  PipelineOptionError,
  UniPCSampler,
  denoise,
  denoiseOnDevice,
  deviceSampler,
  flowSchedule,
  linearCombination,
  seededNoise,
  type ModelCall,
} from '../src/index.js';
import { maxRelativeError } from '@mod-dit/tensor/conformance';

const b = new CpuBackend();

/** Per-branch affine velocity fields v = A x + B + sigma, host and device forms of the same numbers. */
function fields(n: number) {
  const r = new Rng(11);
  const p = { cond: [r.uniforms(n, -1, 0.5), r.normals(n)], uncond: [r.uniforms(n, -1, 0.5), r.normals(n)] };
  const host = async (x: Float32Array, c: ModelCall) => {
    const [A, B] = p[c.branch as 'cond' | 'uncond'];
    return x.map((xi, j) => A[j] * xi + B[j] + c.sigma);
  };
  const device = async (x: Tensor, c: ModelCall) => {
    const v = await host(await x.toFloat32(), c);
    return b.upload(v, x.shape, 'f32');
  };
  return { host, device };
}

describe('device samplers', () => {
  it('linearCombination equals the float64 sum within f32 rounding; zero weights are skipped', async () => {
    const r = new Rng(3);
    const ts = [r.normals(37), r.normals(37), r.normals(37)];
    const w = [0.7, -1.3, 0.25];
    const got = await linearCombination(b, ts.map((t, k) => [w[k], b.upload(t, [37], 'f32')] as const)).toFloat32();
    const want = Float32Array.from({ length: 37 }, (_, j) => w[0] * ts[0][j] + w[1] * ts[1][j] + w[2] * ts[2][j]);
    expect(maxRelativeError(got, want)).toBeLessThan(1e-6);
    const zero = await linearCombination(b, [[0, b.upload(ts[0], [37], 'f32')]]).toFloat32();
    expect(Array.from(zero).every((v) => v === 0)).toBe(true);
  });

  for (const [kind, opts] of [['unipc', {}], ['unipc', { order: 1 }], ['unipc', { corrector: false }], ['euler', {}]] as const)
    it(`${kind} ${JSON.stringify(opts)} follows the host sampler over a whole schedule (awkward shape)`, () => {
      const shape = [3, 7, 11];
      const n = 231;
      const schedule = flowSchedule({ steps: 17, shift: 5 });
      const host = kind === 'euler' ? new EulerSampler(schedule) : new UniPCSampler(schedule, opts);
      const dev = deviceSampler(kind, b, schedule, opts);
      const rng = new Rng(kind.length + JSON.stringify(opts).length);
      let xh = rng.normals(n);
      let xd = b.upload(xh, shape, 'f32');
      return (async () => {
        for (let i = 0; i < 17; i++) {
          // velocities that depend on the latent, so errors would compound
          const v = Float32Array.from(xh, (x, j) => 0.8 * x - 0.3 * Math.sin(j + i));
          const vd = b.upload(v, shape, 'f32');
          xh = host.step(i, xh, v);
          const next = dev.step(i, xd, vd);
          vd.dispose();
          xd.dispose();
          xd = next;
          expect(maxRelativeError(await xd.toFloat32(), xh), `step ${i}`).toBeLessThan(2e-6);
        }
        xd.dispose();
        dev.dispose();
        expect(() => dev.step(3, xd, xd)).toThrow(PipelineOptionError);
      })();
    });
});

describe('denoiseOnDevice', () => {
  it('matches denoise() with CFG, sequential and concurrent branches; progress and sparsity as denoise', async () => {
    const shape = [2, 5, 9];
    const n = 90;
    const schedule = flowSchedule({ steps: 8, shift: 5 });
    const noise = seededNoise(shape, 6);
    const f = fields(n);
    const want = await denoise({ model: f.host, schedule, noise, guidance: 4 });
    for (const concurrentBranches of [false, true]) {
      const steps: number[] = [];
      const got = await denoiseOnDevice({ backend: b, model: f.device, shape, schedule, noise, guidance: 4, concurrentBranches, sparsity: (s) => s / 10, onProgress: (e) => steps.push(e.step) });
      expect(maxRelativeError(got.latent, want.latent)).toBeLessThan(1e-5);
      expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(got.sparsity[3]).toBeCloseTo(0.3);
    }
    expect(Array.from(noise)).toEqual(Array.from(seededNoise(shape, 6)));
  });

  it('typed errors: wrong output shape or dtype, non-finite final latent, cancellation', async () => {
    const shape = [4, 3];
    const schedule = flowSchedule({ steps: 3, shift: 5 });
    const noise = seededNoise(shape, 1);
    await expect(denoiseOnDevice({ backend: b, model: () => b.upload(seededNoise([5], 2), [5], 'f32'), shape, schedule, noise })).rejects.toThrow(/expected an f32 tensor \[4, 3\]/);
    await expect(denoiseOnDevice({ backend: b, model: (x) => b.cast(x, 'bf16'), shape, schedule, noise })).rejects.toThrow(ModelOutputError);
    const nan = Float32Array.from(noise, (v, j) => (j === 5 ? NaN : v));
    await expect(denoiseOnDevice({ backend: b, model: () => b.upload(nan, shape, 'f32'), shape, schedule, noise, guidance: 1 })).rejects.toThrow(/final latent has NaN at \[5\]/);
    const ctl = new AbortController();
    const calls: ModelCall[] = [];
    const p = denoiseOnDevice({
      backend: b,
      shape,
      schedule,
      noise,
      signal: ctl.signal,
      model: (x, c) => {
        calls.push(c);
        if (c.step === 1 && c.branch === COND) ctl.abort('user');
        return b.mul(x, b.upload(Float32Array.of(0.5), [1], 'f32'));
      },
    });
    await expect(p).rejects.toBeInstanceOf(DenoiseCancelledError);
    expect(calls).toHaveLength(3);
  });
});
