import { afterAll, describe, expect, it } from 'vitest';
import { Rng, f16ToF32, f32ToBf16, f32ToF16 } from '@mod-dit/tensor';
import { availability, gpuBackend } from './support.js';

// The WGSL converters (wgsl-dtype.ts) against the host RNE converters, bit for bit.
const gpu = await gpuBackend();
afterAll(() => gpu?.destroy());

/** f32 values that stress rounding: halfway cases, subnormal results, overflow, signed zeros, specials. */
function trickyF32(): Float32Array {
  const rng = new Rng(41);
  const words = new Uint32Array(60000);
  for (let i = 0; i < words.length; i++) {
    const kind = i % 6;
    if (kind === 0) words[i] = rng.nextU32(); // anything, NaNs included
    else if (kind === 1) words[i] = ((rng.int(100, 145) << 23) | (rng.nextU32() & 0x7fffff)) >>> 0; // f16 normal/subnormal range
    else if (kind === 2) words[i] = ((rng.int(100, 145) << 23) | (rng.int(0, 1024) << 13) | 0x1000) >>> 0; // exact f16 halfway
    else if (kind === 3) words[i] = ((rng.nextU32() & 0xffff0000) | 0x8000) >>> 0; // exact bf16 halfway
    else if (kind === 4) words[i] = ((rng.int(0, 2) << 31) | (rng.int(140, 146) << 23) | (rng.nextU32() & 0x7fffff)) >>> 0; // around f16 overflow
    else words[i] = [0, 0x80000000, 0x7f800000, 0xff800000, 1, 0x00800000][rng.int(0, 6)];
  }
  return new Float32Array(words.buffer);
}

describe.skipIf(!availability.available)('WGSL dtype conversions', () => {
  it('f16 -> f32 is exact for all 65536 bit patterns', async () => {
    if (!gpu) return;
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = (await gpu.cast(gpu.upload(all, [65536], 'f16'), 'f32').read()) as Float32Array;
    for (let i = 0; i < 65536; i++) {
      const want = f16ToF32(i);
      if (Number.isNaN(want)) expect(Number.isNaN(got[i])).toBe(true);
      else expect(Object.is(got[i], Math.fround(want)), `bits 0x${i.toString(16)}`).toBe(true);
    }
  });

  it('f32 -> f16 and f32 -> bf16 round to nearest even like the host', async () => {
    if (!gpu) return;
    const x = trickyF32();
    const t = gpu.upload(x, [x.length], 'f32');
    const h = (await gpu.cast(t, 'f16').read()) as Uint16Array;
    const b = (await gpu.cast(t, 'bf16').read()) as Uint16Array;
    let checked = 0;
    for (let i = 0; i < x.length; i++) {
      if (Number.isNaN(x[i])) {
        expect((h[i] & 0x7c00) === 0x7c00 && (h[i] & 0x3ff) !== 0).toBe(true);
        expect((b[i] & 0x7f80) === 0x7f80 && (b[i] & 0x7f) !== 0).toBe(true);
        continue;
      }
      if (h[i] !== f32ToF16(x[i])) expect.fail(`f16 of ${x[i]}: got 0x${h[i].toString(16)}, want 0x${f32ToF16(x[i]).toString(16)}`);
      if (b[i] !== f32ToBf16(x[i])) expect.fail(`bf16 of ${x[i]}: got 0x${b[i].toString(16)}, want 0x${f32ToBf16(x[i]).toString(16)}`);
      checked++;
    }
    expect(checked).toBeGreaterThan(50000);
  });
});
