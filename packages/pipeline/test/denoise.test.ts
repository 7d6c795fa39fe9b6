import { Rng } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import {
  COND,
  DenoiseCancelledError,
  ModelOutputError,
  UNCOND,
  UniPCSampler,
  denoise,
  flowSchedule,
  guide,
  seededNoise,
  type ModelCall,
  type ProgressEvent,
} from '../src/index.js';

/** Two different linear velocity fields, one per branch. */
function branchModel(n: number, calls: ModelCall[]) {
  const r = new Rng(4);
  const a = { cond: r.uniforms(n, -1, 0.5), uncond: r.uniforms(n, -1, 0.5) };
  const b = { cond: r.normals(n), uncond: r.normals(n) };
  return async (x: Float32Array, call: ModelCall) => {
    calls.push(call);
    const k = call.branch as 'cond' | 'uncond';
    return x.map((xi, j) => a[k][j] * xi + b[k][j] + call.sigma);
  };
}

describe('denoise', () => {
  it('combines the two branches with CFG, step by step, as a hand-written loop does', async () => {
    const n = 23;
    const schedule = flowSchedule({ steps: 6, shift: 5 });
    const noise = seededNoise([1, n], 9);
    const calls: ModelCall[] = [];
    const model = branchModel(n, calls);
    const seen: Float32Array[] = [];
    const res = await denoise({ model, schedule, noise, guidance: 4.5, onStep: (_i, x) => seen.push(x) });

    const manual = new UniPCSampler(schedule);
    let x = noise;
    const scratch: ModelCall[] = [];
    const m2 = branchModel(n, scratch);
    for (let i = 0; i < 6; i++) {
      const base = { step: i, timestep: schedule.timesteps[i], sigma: schedule.sigmas[i] };
      const vc = await m2(x, { ...base, branch: COND });
      const vu = await m2(x, { ...base, branch: UNCOND });
      x = manual.step(i, x, guide(vc, vu, 4.5));
      expect(Array.from(seen[i])).toEqual(Array.from(x));
    }
    expect(Array.from(res.latent)).toEqual(Array.from(x));
    expect(calls.map((c) => `${c.step}:${String(c.branch)}`)).toEqual([0, 1, 2, 3, 4, 5].flatMap((s) => [`${s}:cond`, `${s}:uncond`]));
    expect(calls.map((c) => c.timestep).filter((_, i) => i % 2 === 0)).toEqual(Array.from(schedule.timesteps));
    expect(noise).toEqual(seededNoise([1, n], 9)); // input untouched
  });

  it('concurrent branches: both calls in flight at once, the same latents, errors after both settle', async () => {
    const n = 31;
    const schedule = flowSchedule({ steps: 5, shift: 3 });
    const noise = seededNoise([1, n], 2);
    const field = branchModel(n, []);
    let inFlight = 0;
    let overlap = 0;
    // each call yields to the event loop before answering, as a GPU read-back does
    const slow = async (x: Float32Array, call: ModelCall) => {
      inFlight++;
      overlap = Math.max(overlap, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return field(x, call);
    };
    const seq = await denoise({ model: slow, schedule, noise, guidance: 3 });
    expect(overlap).toBe(1);
    const con = await denoise({ model: slow, schedule, noise, guidance: 3, concurrentBranches: true });
    expect(overlap).toBe(2);
    expect(Array.from(con.latent)).toEqual(Array.from(seq.latent));

    let settled = 0;
    const failing = async (x: Float32Array, call: ModelCall) => {
      if (call.branch === COND) throw new Error('cond failed');
      await new Promise((r) => setTimeout(r, 5));
      settled++;
      return field(x, call);
    };
    await expect(denoise({ model: failing, schedule, noise, concurrentBranches: true })).rejects.toThrow('cond failed');
    expect(settled).toBe(1); // the uncond call finished before denoise rejected
  });

  it('runs the cond branch only at guidance 1 and reports progress with sparsity', async () => {
    const calls: ModelCall[] = [];
    const schedule = flowSchedule({ steps: 4, shift: 3 });
    const events: ProgressEvent[] = [];
    const res = await denoise({
      model: branchModel(7, calls),
      schedule,
      noise: seededNoise([7], 2),
      guidance: 1,
      sampler: 'euler',
      sparsity: (s) => (s >= 2 ? 0.25 * s : undefined),
      onProgress: (e) => events.push(e),
    });
    expect(calls.every((c) => c.branch === COND)).toBe(true);
    expect(calls).toHaveLength(4);
    expect(events.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => e.sparsity)).toEqual([undefined, undefined, 0.5, 0.75]);
    expect(res.sparsity).toEqual([undefined, undefined, 0.5, 0.75]);
    expect(events[3].etaMs).toBe(0);
    for (const e of events) expect(e.itPerSec).toBeGreaterThan(0);
  });

  it('stops with DenoiseCancelledError when the signal aborts, and calls the model no more', async () => {
    const ctl = new AbortController();
    const calls: ModelCall[] = [];
    const inner = branchModel(5, calls);
    const p = denoise({
      model: async (x, c) => {
        if (c.step === 2 && c.branch === UNCOND) ctl.abort('user');
        return inner(x, c);
      },
      schedule: flowSchedule({ steps: 5, shift: 5 }),
      noise: seededNoise([5], 1),
      signal: ctl.signal,
    });
    await expect(p).rejects.toBeInstanceOf(DenoiseCancelledError);
    await expect(p).rejects.toMatchObject({ step: 3, code: 'E_CANCELLED' });
    expect(calls).toHaveLength(6);
  });

  it('rejects a model output of the wrong length or with NaN', async () => {
    const schedule = flowSchedule({ steps: 2, shift: 5 });
    await expect(denoise({ model: async () => seededNoise([3], 4), schedule, noise: seededNoise([4], 1) })).rejects.toThrow(ModelOutputError);
    await expect(
      denoise({ model: async (x) => x.map((v, j) => (j === 2 ? NaN : v)), schedule, noise: seededNoise([4], 1) }),
    ).rejects.toThrow(/\[2\] is NaN/);
  });
});
