import { describe, expect, it } from 'vitest';
import { Rng } from '../src/random.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/dtype.js';

// Independent reference: decode every bit pattern exactly, then check that encoding picks
// the nearest representable value, with ties to the even pattern.
function nearestCheck(encode: (x: number) => number, decode: (b: number) => number, x: number): void {
  const b = encode(x);
  const y = decode(b);
  const up = decode(b + 1);
  const down = decode(b - 1);
  const err = Math.abs(y - x);
  for (const n of [up, down]) {
    if (!Number.isFinite(n)) continue;
    const e = Math.abs(n - x);
    expect(err <= e, `x=${x}: chose ${y}, neighbour ${n} is closer`).toBe(true);
    if (e === err) expect(b & 1, `tie at x=${x} must round to even`).toBe(0);
  }
}

describe('f16/bf16 conversion', () => {
  it('round-trips every finite f16 and bf16 bit pattern', () => {
    for (let b = 0; b < 0x7c00; b++) {
      expect(f32ToF16(f16ToF32(b))).toBe(b);
      expect(f32ToF16(-f16ToF32(b)) & 0x7fff).toBe(b);
    }
    for (let b = 0; b < 0x7f80; b++) expect(f32ToBf16(bf16ToF32(b))).toBe(b);
  });

  it('rounds random values to nearest, ties to even', () => {
    const rng = new Rng(7);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rng.uniform() - 0.5) * 2 ** rng.int(-20, 15));
      nearestCheck(f32ToF16, f16ToF32, x);
      nearestCheck(f32ToBf16, bf16ToF32, x);
    }
    // exact ties: midpoint between 1 and the next f16 (1 + 2^-10)
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80);
  });

  it('saturates to infinity and keeps NaN', () => {
    expect(f32ToF16(70000)).toBe(0x7c00);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
    expect(f16ToF32(f32ToF16(2 ** -24))).toBe(2 ** -24);
  });
});
