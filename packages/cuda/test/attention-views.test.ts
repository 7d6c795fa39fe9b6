import { BlockMask, CpuBackend, type DType, Rng, type Tensor, f32ToBf16, f32ToF16 } from '@mod-dit/tensor';
import { TOLERANCE } from '@mod-dit/tensor/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { cudaAvailability } from '../src/availability.js';
import { createCudaBackend } from '../src/cuda-backend.js';

// Attention on strided q/k/v views (read in place when 16-byte rows allow it, copied otherwise)
// and the [B, Lq, H, D] layout of `out`, against the CPU reference on the same logical values.
const availability = cudaAvailability();
const gpu = availability.available ? createCudaBackend() : undefined;
const ref = new CpuBackend();
afterAll(() => gpu?.destroy());

/** Random storage of `shape` in `dtype` (std 1) on the GPU. */
function storage(rng: Rng, shape: number[], dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const f = Float32Array.from({ length: n }, () => rng.normal());
  const enc = dtype === 'bf16' ? f32ToBf16 : dtype === 'f16' ? f32ToF16 : undefined;
  const data = enc ? Uint16Array.from(f, (x) => enc(x)) : f;
  return gpu!.upload(data, shape, dtype);
}

/** The logical values of a GPU view as a contiguous f32 CPU tensor. */
async function onCpu(t: Tensor): Promise<Tensor> {
  return ref.upload(await t.toFloat32(), t.shape, 'f32');
}

async function expectClose(what: string, got: Tensor, want: Tensor, dtype: DType): Promise<void> {
  const g = await got.toFloat32();
  const w = await want.toFloat32();
  expect(g.length, what).toBe(w.length);
  const tol = TOLERANCE[dtype as keyof typeof TOLERANCE];
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === -Infinity) {
      expect(g[i], `${what}[${i}]`).toBe(-Infinity);
      continue;
    }
    num += (g[i] - w[i]) ** 2;
    den += w[i] ** 2;
    maxAbs = Math.max(maxAbs, Math.abs(g[i] - w[i]));
    maxRef = Math.max(maxRef, Math.abs(w[i]));
  }
  expect(Math.sqrt(num / Math.max(den, 1e-30)), `${what} relative error`).toBeLessThanOrEqual(tol.rel);
  expect(maxAbs, `${what} max abs error`).toBeLessThanOrEqual(tol.abs * Math.max(1, maxRef));
}

/** Runs attention on the GPU views and on the CPU reference, and compares out and lse. */
async function check(what: string, q: Tensor, k: Tensor, v: Tensor, opts: { mask?: BlockMask; scale?: number } = {}): Promise<void> {
  const got = gpu!.attention(q, k, v, opts);
  const want = ref.attention(await onCpu(q), await onCpu(k), await onCpu(v), opts);
  const [B, H, Lq, D] = q.shape;
  // out lives in [B, Lq, H, D] storage: heads merge without a copy
  expect(got.out.shape).toEqual([B, H, Lq, D]);
  expect(got.out.strides).toEqual([Lq * H * D, D, H * D, 1]);
  await expectClose(`${what} out`, got.out, want.out, q.dtype);
  // lse is f32 from f32 scores: tighter than the half-precision outputs
  await expectClose(`${what} lse`, got.lse, want.lse, q.dtype === 'f32' ? 'f32' : 'f16');
}

describe.runIf(gpu)('attention on strided views', () => {
  it('reads permuted [B, L, H, D] views in place (tensor-core kernel, bf16 d128, 64-row mask blocks)', async () => {
    const rng = new Rng(11);
    const [B, H, Lq, Lk, D] = [2, 3, 203, 331, 128];
    const q = storage(rng, [B, Lq, H, D], 'bf16').permute([0, 2, 1, 3]);
    const k = storage(rng, [B, Lk, H, D], 'bf16').permute([0, 2, 1, 3]);
    const v = storage(rng, [B, Lk, H, D], 'bf16').permute([0, 2, 1, 3]);
    await check('permuted dense', q, k, v);
    const grid = Array.from({ length: H * 4 * 6 }, () => (rng.uniform() < 0.5 ? 1 : 0));
    const mask = BlockMask.fromDense({ heads: H, qLen: Lq, kLen: Lk, blockSize: 64 }, grid);
    await check('permuted sparse', q, k, v, { mask });
  });

  it('takes padded rows and head slices in place and copies misaligned ones (f16 d64)', async () => {
    const rng = new Rng(12);
    const [B, H, L, D] = [1, 2, 150, 64];
    // rows padded to 72 elements (144 bytes, 16-byte multiple); heads 1..2 of 4
    const padded = storage(rng, [B, L, 4, 72], 'f16').slice(2, 1, 3).slice(3, 0, D).permute([0, 2, 1, 3]);
    // rows of 66 elements (132 bytes): not 16-byte aligned, so the backend copies
    const odd = storage(rng, [B, L, H, 66], 'f16').slice(3, 1, D + 1).permute([0, 2, 1, 3]);
    // head-major storage sliced to tokens 7..: offset 7 * 64 elements, 896 bytes
    const tokens = storage(rng, [B, H, L + 7, D], 'f16').slice(2, 7);
    await check('padded q, odd k, token-sliced v', padded, odd, tokens);
    await check('odd q, token-sliced k, padded v, scale 0.2', odd, tokens, padded, { scale: 0.2 });
    const mask = BlockMask.fromDense({ heads: H, qLen: L, kLen: L, blockSize: 128 }, [1, 0, 1, 1, 0, 1, 1, 1]);
    await check('strided sparse, 128 blocks', tokens, padded, odd, { mask });
  });

  it('runs the simple kernel (f32, head_dim 20) on strided views in place', async () => {
    const rng = new Rng(13);
    const [B, H, L, D] = [2, 3, 37, 20];
    const q = storage(rng, [B, L, H, D + 3], 'f32').slice(3, 2, D + 2).permute([0, 2, 1, 3]);
    const k = storage(rng, [H, B, L, D], 'f32').permute([1, 0, 2, 3]);
    const v = storage(rng, [B, H, L + 5, D], 'f32').slice(2, 5);
    await check('f32 strided', q, k, v);
    const mask = BlockMask.fromDense({ heads: H, qLen: L, kLen: L, blockSize: 64 }, [1, 0, 1]);
    await check('f32 strided sparse (head 1 empty)', q, k, v, { mask });
  });
});
