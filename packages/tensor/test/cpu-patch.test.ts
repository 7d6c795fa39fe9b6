import { describe, expect, it } from 'vitest';
import { ShapeError } from '../src/index.js';
import { CpuBackend, FLOATS, Rng, randomTensor, values } from './support/random.js';

const b = new CpuBackend();

describe('cpu patchify / unpatchify', () => {
  for (const dtype of FLOATS)
    for (const channels of ['first', 'last'] as const)
      it(`${dtype} channels ${channels}: element placement and round trip`, async () => {
        const rng = new Rng(channels.length);
        const [B, C, T, H, W] = [2, 3, 2, 4, 6];
        const patch = [1, 2, 3] as const;
        const X = randomTensor(b, rng, [B, C, T, H, W], dtype);
        const tok = b.patchify(X.t, { patch, channels });
        const [gt, gh, gw] = [T, H / 2, W / 3];
        expect(tok.shape).toEqual([B, gt * gh * gw, C * 6]);
        const got = await values(tok);
        for (let bb = 0; bb < B; bb++)
          for (let c = 0; c < C; c++)
            for (let t = 0; t < T; t++)
              for (let h = 0; h < H; h++)
                for (let w = 0; w < W; w++) {
                  const l = (t * gh + Math.floor(h / 2)) * gw + Math.floor(w / 3);
                  const inPatch = (h % 2) * 3 + (w % 3);
                  const vec = channels === 'first' ? c * 6 + inPatch : inPatch * C + c;
                  expect(got[(bb * gt * gh * gw + l) * C * 6 + vec]).toBe(X.x[(((bb * C + c) * T + t) * H + h) * W + w]);
                }
        const back = b.unpatchify(tok, [gt, gh, gw], { patch, channels });
        expect(back.shape).toEqual([B, C, T, H, W]);
        expect(Array.from(await back.read())).toEqual(Array.from(await X.t.read()));
      });

  it('unpatchify∘patchify is the identity on tokens (random strided input)', async () => {
    const X = randomTensor(b, new Rng(8), [1, 4 * 2 * 2, 5], 'bf16');
    const x = X.t.permute([0, 2, 1]); // [1, 5, 16], non-contiguous
    const opts = { patch: [2, 1, 2] as const, channels: 'last' as const };
    const video = b.unpatchify(x, [1, 5, 1], opts);
    expect(video.shape).toEqual([1, 4, 2, 5, 2]);
    expect(await values(b.patchify(video, opts))).toEqual(await values(x));
  });

  it('rejects indivisible extents and wrong token counts', () => {
    const x = randomTensor(b, new Rng(1), [1, 2, 1, 3, 4]).t;
    expect(() => b.patchify(x, { patch: [1, 2, 2], channels: 'first' })).toThrow(/not divisible by patch/);
    const t = randomTensor(b, new Rng(2), [1, 6, 8]).t;
    expect(() => b.unpatchify(t, [1, 2, 2], { patch: [1, 2, 2], channels: 'first' })).toThrow(/grid \[1, 2, 2\] needs 4/);
    expect(() => b.unpatchify(t, [1, 2, 3], { patch: [1, 3, 1], channels: 'first' })).toThrow(ShapeError);
  });
});
