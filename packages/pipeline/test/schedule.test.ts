import { describe, expect, it } from 'vitest';
import { flowSchedule, shiftSigma, PipelineOptionError } from '../src/index.js';

// Independent float64 statement of Wan's set_timesteps (fm_solvers_unipc.py): numpy linspace
// from the float32 0.999 down to 0 over N + 1 points, drop the last, shift, t = int(1000 s),
// sigmas cast to float32 with a trailing 0.
function wanReference(steps: number, shift: number) {
  const f32 = new Float32Array([1 - 1 / 1000])[0];
  const step = (0 - f32) / steps;
  const t: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < steps; i++) {
    const u = f32 + i * step;
    const k = (shift * u) / (1 + (shift - 1) * u);
    t.push(Math.trunc(k * 1000));
    s.push(new Float32Array([k])[0]);
  }
  s.push(0);
  return { t, s };
}

describe('flowSchedule', () => {
  it.each([
    [50, 5],
    [7, 3],
    [1, 5],
    [13, 1],
    [40, 7.25],
  ])('matches the float64 formula for %i steps, shift %f', (steps, shift) => {
    const sch = flowSchedule({ steps, shift });
    const ref = wanReference(steps, shift);
    expect(Array.from(sch.timesteps)).toEqual(ref.t);
    expect(Array.from(sch.sigmas)).toEqual(ref.s);
    expect(sch.sigmas[steps]).toBe(0);
    for (let i = 1; i <= steps; i++) expect(sch.sigmas[i]).toBeLessThan(sch.sigmas[i - 1]);
  });

  it('gives Wan 1.3B its known first and last timesteps (50 steps, shift 5)', () => {
    const sch = flowSchedule({ steps: 50, shift: 5 });
    expect(sch.timesteps[0]).toBe(999);
    // shift 5 of the second-to-last linspace point 0.999/50: 5u / (1 + 4u)
    const u = Math.fround(0.999) / 50;
    expect(sch.timesteps[49]).toBe(Math.trunc(((5 * u) / (1 + 4 * u)) * 1000));
  });

  it('without Wan rounding keeps float64 sigmas and fractional timesteps', () => {
    const sch = flowSchedule({ steps: 9, shift: 3, sigmaMax: 1, wanRounding: false });
    for (let i = 0; i < 9; i++) {
      const s = shiftSigma(1 - i / 9, 3);
      expect(sch.sigmas[i]).toBeCloseTo(s, 15);
      expect(sch.timesteps[i]).toBeCloseTo(s * 1000, 10);
    }
  });

  it('rejects bad options with a typed error', () => {
    expect(() => flowSchedule({ steps: 0, shift: 5 })).toThrow(PipelineOptionError);
    expect(() => flowSchedule({ steps: 2.5, shift: 5 })).toThrow(/steps/);
    expect(() => flowSchedule({ steps: 5, shift: -1 })).toThrow(/shift/);
    expect(() => flowSchedule({ steps: 5, shift: 5, sigmaMax: 1.5 })).toThrow(/sigmaMax/);
  });
});
