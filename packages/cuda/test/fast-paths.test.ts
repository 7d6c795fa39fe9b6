// Edge cases of the CUDA elementwise, row, RoPE and GEMM-epilogue kernels that the shared
// conformance suite does not pin down: which layouts take the vectorised fast paths, which
// must fall back (odd extents, misaligned views, strided broadcasts, long rows), and mixed
// operand dtypes. Every result is checked against the CPU reference backend on fresh
// Gaussian inputs.
import { type DType, type Shape, Rng, type Tensor, cpuBackend, fromNumbers } from '@mod-dit/tensor';
import { TOLERANCE } from '@mod-dit/tensor/conformance';
import { describe, expect, it } from 'vitest';
import { cudaAvailability } from '../src/availability.js';
import { createCudaBackend } from '../src/cuda-backend.js';

const availability = cudaAvailability();
const gpu = availability.available ? createCudaBackend() : undefined;
const cpu = cpuBackend();
const rng = new Rng(20261127);

interface Pair {
  t: Tensor;
  r: Tensor;
}

function input(shape: Shape, dtype: DType, std = 1, mean = 0): Pair {
  const bits = fromNumbers(rng.normals(shape.reduce((a, b) => a * b, 1), std, mean), dtype);
  return { t: gpu!.upload(bits, shape, dtype), r: cpu.upload(bits, shape, dtype) };
}

function view(p: Pair, fn: (t: Tensor) => Tensor): Pair {
  return { t: fn(p.t), r: fn(p.r) };
}

/** Norm-wise relative error and max-abs error (scaled by the largest reference magnitude) within the output dtype's tolerance. */
async function expectClose(what: string, actual: Tensor, expected: Tensor): Promise<void> {
  expect(actual.dtype, what).toBe(expected.dtype);
  expect(actual.shape, what).toEqual(expected.shape);
  const a = await actual.toFloat32();
  const e = await expected.toFloat32();
  const tol = TOLERANCE[actual.dtype as 'f32' | 'f16' | 'bf16'];
  let diff2 = 0;
  let ref2 = 0;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    diff2 += d * d;
    ref2 += e[i] * e[i];
    maxDiff = Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(e[i]));
  }
  expect(Math.sqrt(diff2 / ref2), `${what}: relative error`).toBeLessThanOrEqual(tol.rel);
  expect(maxDiff, `${what}: max abs error`).toBeLessThanOrEqual(tol.abs * maxRef);
}

async function expectExact(what: string, actual: Tensor, expected: Tensor): Promise<void> {
  expect(actual.shape, what).toEqual(expected.shape);
  expect(Array.from(await actual.toFloat32()), what).toEqual(Array.from(await expected.toFloat32()));
}

/** A contiguous view starting one element into its storage: never 16-byte aligned. */
function misaligned(shape: Shape, dtype: DType): Pair {
  const n = shape.reduce((a, b) => a * b, 1);
  return view(input([n + 1], dtype), (t) => t.slice(0, 1, n + 1).reshape(shape));
}

describe.runIf(gpu)(`CUDA fast paths on ${availability.available ? availability.device : 'no GPU'}`, () => {
  it('binary ops over contiguous, per-row, scalar and strided broadcasts, mixed dtypes', async () => {
    const cases: [string, Pair, Pair][] = [
      ['row broadcast, C % 8 == 0 (vector path)', input([5, 3, 24], 'f32'), input([24], 'bf16')],
      ['row broadcast of a, odd C', input([1, 13], 'bf16'), input([6, 13], 'f32')],
      ['scalar operand', input([4, 16], 'f16'), input([1], 'f32')],
      ['[B, 1, C] over [B, L, C] (strided path)', input([2, 5, 16], 'bf16'), input([2, 1, 16], 'f16')],
      ['transposed operand (strided path)', input([6, 7], 'f32'), view(input([7, 6], 'f32'), (t) => t.transpose())],
      ['misaligned contiguous operand', misaligned([4, 16], 'f32'), input([4, 16], 'bf16')],
    ];
    for (const [what, a, b] of cases)
      for (const op of ['add', 'sub', 'mul'] as const) await expectClose(`${op}: ${what}`, gpu![op](a.t, b.t), cpu[op](a.r, b.r));
  });

  it("ternary ops with each operand's own dtype (Wan's gated residual: x f32, y bf16, gate f32)", async () => {
    const cases: [string, Pair, Pair, Pair][] = [
      ['x f32 + y bf16 * gate [1, 1, C] f32', input([1, 40, 32], 'f32'), input([1, 40, 32], 'bf16'), input([1, 1, 32], 'f32')],
      ['odd C with f16 and bf16 side operands', input([9, 13], 'f32'), input([13], 'f16'), input([1, 13], 'bf16')],
      ['bf16 x with f32 scale [B, 1, C] (strided path)', input([3, 4, 24], 'bf16'), input([3, 1, 24], 'f32'), input([24], 'f32')],
      ['permuted x, scalar side operand', view(input([8, 5], 'f16'), (t) => t.transpose()), input([1], 'f32'), input([8], 'bf16')],
      ['misaligned x', misaligned([3, 16], 'bf16'), input([16], 'bf16'), input([3, 16], 'f32')],
    ];
    for (const [what, x, y, z] of cases) {
      await expectClose(`modulate: ${what}`, gpu!.modulate(x.t, y.t, z.t), cpu.modulate(x.r, y.r, z.r));
      await expectClose(`gatedAdd: ${what}`, gpu!.gatedAdd(x.t, y.t, z.t), cpu.gatedAdd(x.r, y.r, z.r));
    }
  });

  it('copies permuted views exactly in 16-byte units, element units and misaligned', async () => {
    const cases: [string, Pair][] = [
      ['inner 8 x bf16 contiguous (16-byte unit)', view(input([3, 4, 8], 'bf16'), (t) => t.permute([1, 0, 2]))],
      ['inner 5 x f16 (element unit)', view(input([3, 4, 5], 'f16'), (t) => t.permute([1, 0, 2]))],
      ['fully transposed f32', view(input([9, 11], 'f32'), (t) => t.transpose())],
      ['misaligned slice', view(input([6, 17], 'f32'), (t) => t.slice(1, 1, 17))],
    ];
    for (const [what, x] of cases) await expectExact(`contiguous: ${what}`, gpu!.contiguous(x.t), cpu.contiguous(x.r));
    const parts = [input([2, 3, 8], 'bf16'), input([2, 5, 8], 'bf16'), input([2, 1, 8], 'bf16')];
    await expectExact('concat along a middle axis', gpu!.concat(parts.map((p) => p.t), 1), cpu.concat(parts.map((p) => p.r), 1));
  });

  it('casts with a vector body and a scalar tail, aligned or not', async () => {
    for (const [from, to] of [['f32', 'bf16'], ['bf16', 'f32'], ['f16', 'bf16'], ['f32', 'f16']] as const) {
      const a = input([3, 37], from);
      await expectExact(`cast ${from} -> ${to}, 111 elements`, gpu!.cast(a.t, to), cpu.cast(a.r, to));
      const m = misaligned([40], from);
      await expectExact(`cast ${from} -> ${to}, misaligned`, gpu!.cast(m.t, to), cpu.cast(m.r, to));
    }
  });

  it('gelu and silu on vector bodies, tails and misaligned views', async () => {
    for (const x of [input([5, 24], 'bf16'), input([3, 13], 'f32'), misaligned([2, 16], 'f16')]) {
      await expectClose(`gelu ${x.t.dtype} ${x.t.shape}`, gpu!.gelu(x.t), cpu.gelu(x.r));
      await expectClose(`silu ${x.t.dtype} ${x.t.shape}`, gpu!.silu(x.t), cpu.silu(x.r));
    }
  });

  it('row kernels across row lengths: warp per row, several warps, odd C, rows re-read from memory', async () => {
    // C: odd (scalar chunks), 24 (2 chunks per lane), 1536 (Wan-1.3B), 3000 (2 warps), 5132 (4 warps, C % 8 = 4),
    // 40000 (past the register capacity: re-read per pass)
    for (const C of [13, 24, 1536, 3000, 5132, 40000]) {
      const rows = C > 4000 ? 3 : 7;
      const x = input([rows, C], 'f32', 2, 3);
      const w = input([C], 'f32', 0.5, 1);
      const b = input([C], 'bf16');
      await expectClose(`layerNorm C=${C}`, gpu!.layerNorm(x.t, { eps: 1e-6, weight: w.t, bias: b.t }), cpu.layerNorm(x.r, { eps: 1e-6, weight: w.r, bias: b.r }));
      await expectClose(`rmsNorm C=${C}`, gpu!.rmsNorm(x.t, w.t, 1e-6), cpu.rmsNorm(x.r, w.r, 1e-6));
      await expectClose(`softmax C=${C}`, gpu!.softmax(x.t), cpu.softmax(x.r));
      const h = input([rows, C], 'bf16');
      await expectClose(`softmax bf16 C=${C}`, gpu!.softmax(h.t), cpu.softmax(h.r));
    }
  });

  it('layerNorm with fused adaLN: [B, 1, C] and [B, L, 1] modulation, output dtypes, misaligned x', async () => {
    const x = input([2, 9, 48], 'f32', 1, 2);
    const cases: [string, Pair, Pair, DType][] = [
      ['[B, 1, C] scale, [C] shift -> bf16', input([2, 1, 48], 'f32', 0.3), input([48], 'bf16'), 'bf16'],
      ['[B, L, 1] scale (column stride 0) -> f32', input([2, 9, 1], 'f32', 0.3), input([1, 1, 48], 'f32'), 'f32'],
      ['f16 scale and shift -> f16', input([1, 48], 'f16', 0.3), input([2, 1, 48], 'f16'), 'f16'],
    ];
    for (const [what, scale, shift, dtype] of cases)
      await expectClose(
        `layerNorm + modulate: ${what}`,
        gpu!.layerNorm(x.t, { eps: 1e-6, scale: scale.t, shift: shift.t, dtype }),
        cpu.layerNorm(x.r, { eps: 1e-6, scale: scale.r, shift: shift.r, dtype }),
      );
    const m = misaligned([3, 40], 'bf16');
    const s = input([40], 'f32', 0.3);
    await expectClose('misaligned bf16 x -> f32', gpu!.layerNorm(m.t, { eps: 1e-5, scale: s.t, shift: s.t, dtype: 'f32' }), cpu.layerNorm(m.r, { eps: 1e-5, scale: s.r, shift: s.r, dtype: 'f32' }));
  });

  it('rope3d from the cached table: vector and pair paths, text tokens, two geometries', async () => {
    const cases: [string, Pair, [number, number, number], [number, number, number]][] = [
      ['bf16 D=16 (4 pairs per step)', input([2, 11, 3, 16], 'bf16'), [2, 2, 2], [6, 4, 6]],
      ['f32 D=10 (pair at a time)', input([1, 13, 2, 10], 'f32'), [1, 3, 4], [4, 2, 4]],
      ['f16 D=16, other grid', input([1, 20, 2, 16], 'f16'), [2, 3, 3], [6, 4, 6]],
      ['bf16 D=16 again: the first geometry from the cache', input([1, 9, 1, 16], 'bf16'), [2, 2, 2], [6, 4, 6]],
      ['f32 misaligned x', misaligned([1, 6, 2, 16], 'f32'), [1, 2, 3], [8, 4, 4]],
    ];
    for (const [what, x, grid, split] of cases) {
      const opts = { grid, split, theta: 10000 };
      await expectClose(`rope3d ${what}`, gpu!.rope3d(x.t, opts), cpu.rope3d(x.r, opts));
    }
  });

  it('matmul with the GELU epilogue, with and without bias, per dtype', async () => {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      const a = input([2, 33, 24], dtype, 0.5);
      const w = input([40, 24], dtype, 0.5);
      const bias = input([40], dtype);
      const f32 = (p: Pair) => cpu.cast(p.r, 'f32');
      const expected = (withBias: boolean) =>
        cpu.cast(cpu.gelu(cpu.matmul(f32(a), f32(w), { transposeB: true, bias: withBias ? f32(bias) : undefined })), dtype);
      await expectClose(`${dtype} linear + bias + gelu`, gpu!.matmul(a.t, w.t, { transposeB: true, bias: bias.t, activation: 'gelu' }), expected(true));
      await expectClose(`${dtype} linear + gelu`, gpu!.matmul(a.t, w.t, { transposeB: true, activation: 'gelu' }), expected(false));
    }
  });
});
