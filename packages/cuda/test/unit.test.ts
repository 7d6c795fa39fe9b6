import { Rng, UnsupportedFeatureError } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { attentionViewUsable, longestRowsFirst, selectAttentionKernel } from '../src/attention-plan.js';
import { selectHopperAttentionKernel } from '../src/attention-sm90.js';
import { CudaError, checkCu, checkCublas, cuResultName, isCudaOutOfMemory } from '../src/cuda-error.js';
import { batchPlan, ltGemmShape } from '../src/gemm-plan.js';
import { chooseImage } from '../src/kernel-modules.js';
import { packArgs } from '../src/launch-args.js';
import { OPERAND_MODE, broadcastStrides, fastModes, fitsInt32, mergeLayout, widenCopy } from '../src/strided-layout.js';

describe('kernel argument packing', () => {
  it('writes each argument in its C layout', () => {
    const [p, i, f, d, l, dims] = packArgs([{ ptr: 0x1234_5678_9abc_def0n }, { i32: -7 }, { f32: 0.1 }, { f64: Math.PI }, { i64: 2 ** 40 + 3 }, { dims: [5, -1, 9] }]);
    expect(p.length).toBe(8);
    expect(p.readBigUInt64LE(0)).toBe(0x1234_5678_9abc_def0n);
    expect(i.readInt32LE(0)).toBe(-7);
    expect(f.length).toBe(4);
    expect(f.readFloatLE(0)).toBe(Math.fround(0.1));
    expect(d.readDoubleLE(0)).toBe(Math.PI);
    expect(l.readBigInt64LE(0)).toBe(BigInt(2 ** 40 + 3));
    expect(dims.length).toBe(64);
    expect([0, 1, 2, 3].map((k) => Number(dims.readBigInt64LE(8 * k)))).toEqual([5, -1, 9, 0]);
  });
  it('rejects more than 8 dims', () => {
    expect(() => packArgs([{ dims: [1, 2, 3, 4, 5, 6, 7, 8, 9] }])).toThrow(RangeError);
  });
});

describe('strided layouts', () => {
  it('merges axes every operand walks contiguously and drops extent-1 axes', () => {
    // [2, 3, 1, 4] contiguous output, a permuted operand that is contiguous only over the last two
    const lay = mergeLayout([2, 3, 1, 4], [[12, 4, 4, 1], [4, 8, 99, 1]], 't');
    expect(lay.shape).toEqual([2, 3, 4]);
    expect(lay.strides).toEqual([[12, 4, 1], [4, 8, 1]]);
    const flat = mergeLayout([5, 7, 3], [[21, 3, 1], [21, 3, 1]], 't');
    expect(flat).toEqual({ shape: [105], strides: [[1], [1]] });
  });
  it('gives broadcast axes stride 0', () => {
    expect(broadcastStrides([3, 1], [1, 1], [2, 3, 5])).toEqual([0, 1, 0]);
  });
  it('refuses more than 8 axes with a ShapeError naming the op', () => {
    const shape = [2, 2, 2, 2, 2, 2, 2, 2, 2];
    const odd = shape.map((_, i) => 3 ** i);
    expect(() => mergeLayout(shape, [odd], 'patchify')).toThrow(/patchify.*at most 8/);
  });
});

describe('elementwise fast-path planning', () => {
  it('classifies contiguous, per-row and scalar operands of a merged layout', () => {
    // out [6, 24]; x contiguous, scale [24] (row), shift [1] (scalar): merging keeps [6, 24]
    const lay = mergeLayout([6, 24], [[24, 1], [24, 1], [0, 1], [0, 0]], 't');
    expect(lay.shape).toEqual([6, 24]);
    const { contiguous: c, row: r, scalar: s } = OPERAND_MODE;
    expect(fastModes(lay)).toEqual({ modes: c | (r << 2) | (s << 4), C: 24 });
    // all contiguous: one flat axis
    expect(fastModes(mergeLayout([6, 24], [[24, 1], [24, 1]], 't'))).toEqual({ modes: c, C: 144 });
  });
  it('sends [B, 1, C] broadcasts and transposed operands to the strided path', () => {
    expect(fastModes(mergeLayout([2, 5, 16], [[80, 16, 1], [80, 16, 1], [16, 0, 1]], 't'))).toBeNull();
    expect(fastModes(mergeLayout([6, 7], [[7, 1], [1, 6]], 't'))).toBeNull();
  });
  it('uses 32-bit index math only when the count and every reachable offset stay below 2^31', () => {
    expect(fitsInt32({ shape: [1000, 1000], strides: [[1000, 1], [1, 1000]] })).toBe(true);
    expect(fitsInt32({ shape: [2 ** 16, 2 ** 15], strides: [[2 ** 15, 1]] })).toBe(false);
    expect(fitsInt32({ shape: [3], strides: [[1], [2 ** 30]] })).toBe(false);
    expect(fitsInt32({ shape: [3], strides: [[1], [-(2 ** 29)]] })).toBe(true);
  });
});

describe('copy units', () => {
  it('regroups a bf16 permutation with 8 contiguous inner elements into 16-byte units', () => {
    const lay = { shape: [4, 3, 8], strides: [[24, 8, 1], [8, 32, 1]] };
    expect(widenCopy(lay, 2, [0n, 4096n])).toEqual({ unit: 16, layout: { shape: [4, 3, 1], strides: [[3, 1, 1], [1, 4, 1]] } });
  });
  it('narrows the unit for a misaligned base or an odd inner extent, down to the element', () => {
    const lay = { shape: [4, 3, 8], strides: [[24, 8, 1], [8, 32, 1]] };
    expect(widenCopy(lay, 2, [0n, 4100n]).unit).toBe(4);
    expect(widenCopy(lay, 2, [0n, 4098n])).toEqual({ unit: 2, layout: lay });
    const odd = { shape: [3, 5], strides: [[5, 1], [7, 1]] };
    expect(widenCopy(odd, 4, [0n, 0n]).unit).toBe(4);
  });
  it('keeps the element unit when the inner axis is strided on either side', () => {
    const lay = { shape: [8, 8], strides: [[8, 1], [1, 8]] };
    expect(widenCopy(lay, 1, [0n, 0n]).unit).toBe(1);
  });
});

describe('GEMM planning', () => {
  it('maps row-major C = A B onto column-major cuBLASLt with swapped operands', () => {
    const s = ltGemmShape(5, 7, 3, false);
    expect([s.m, s.n, s.k, s.transA]).toEqual([7, 5, 3, false]);
    expect(s.a).toEqual({ rows: 7, cols: 3, ld: 7 });
    expect(s.b).toEqual({ rows: 3, cols: 5, ld: 3 });
    expect(s.c).toEqual({ rows: 7, cols: 5, ld: 7 });
    expect(ltGemmShape(5, 7, 3, true).a).toEqual({ rows: 3, cols: 7, ld: 3 });
  });
  it('uses one strided batch for uniform strides, a broadcast weight included', () => {
    const p = batchPlan([4, 2], [], 3, 5, 6);
    expect(p).toMatchObject({ batchShape: [4, 2], count: 8, strideA: 18, strideB: 0, strideC: 15 });
    expect(p.groups.length).toBe(1);
  });
  it('splits non-uniform broadcasts into per-matrix calls at the right offsets', () => {
    // a [2, 1], b [1, 3]: batch [2, 3]; a repeats over the inner axis, b over the outer
    const p = batchPlan([2, 1], [1, 3], 2, 2, 2);
    expect(p.groups.map((g) => [g.offsetA, g.offsetB, g.offsetC])).toEqual([
      [0, 0, 0], [0, 4, 4], [0, 8, 8], [4, 0, 12], [4, 4, 16], [4, 8, 20],
    ]);
  });
});

describe('error mapping', () => {
  it('names CUDA and cuBLAS codes and throws typed errors', () => {
    expect(cuResultName(700)).toBe('CUDA_ERROR_ILLEGAL_ADDRESS');
    expect(cuResultName(12345)).toBe('CUDA_ERROR_12345');
    expect(() => checkCu('cuMemAlloc', 2)).toThrow(expect.objectContaining({ code: 'E_CUDA_OOM', cudaName: 'CUDA_ERROR_OUT_OF_MEMORY' }));
    expect(() => checkCublas('cublasLtMatmul', 15)).toThrow(/cublasLtMatmul failed: CUBLAS_STATUS_NOT_SUPPORTED \(15\)/);
    expect(() => checkCu('cuInit', 0)).not.toThrow();
    expect(isCudaOutOfMemory(new CudaError('cuMemAlloc', 2, cuResultName(2)))).toBe(true);
    expect(isCudaOutOfMemory(new CudaError('cuLaunchKernel', 700, cuResultName(700)))).toBe(false);
    expect(isCudaOutOfMemory(new Error('CUDA_ERROR_OUT_OF_MEMORY'))).toBe(false);
  });
});

describe('kernel selection', () => {
  it('loads the sm_90a cubin on Hopper only, PTX elsewhere on Ampere+', () => {
    expect(chooseImage([9, 0]).suffix).toBe('sm_90a.cubin');
    expect(chooseImage([8, 9]).kind).toBe('ptx');
    expect(chooseImage([10, 0]).kind).toBe('ptx');
    expect(() => chooseImage([7, 5])).toThrow(UnsupportedFeatureError);
  });
  it('takes the tensor-core attention for f16/bf16 at head_dim 64/128 and 64/128 blocks only', () => {
    expect(selectAttentionKernel({ dtype: 'bf16', headDim: 128, scale: 0.1 })).toMatchObject({ kind: 'flash', name: 'flash_bf16_d128_r128', rowsPerCta: 128, threads: 128 });
    expect(selectAttentionKernel({ dtype: 'f16', headDim: 64, scale: 0.1, maskBlock: 64 })).toMatchObject({ kind: 'flash', name: 'flash_f16_d64_r64', rowsPerCta: 64 });
    expect(selectAttentionKernel({ dtype: 'bf16', headDim: 128, scale: 0.1, mapBlock: 64, mapKeyBlocks: 37 })).toMatchObject({ name: 'flash_map_bf16_d128_r64', module: 'attention', sharedBytes: (64 + 256) * 128 * 2 + 8 * 37 });
    expect(selectAttentionKernel({ dtype: 'f32', headDim: 128, scale: 0.1 }).kind).toBe('simple');
    expect(selectAttentionKernel({ dtype: 'bf16', headDim: 96, scale: 0.1 }).kind).toBe('simple');
    expect(selectAttentionKernel({ dtype: 'bf16', headDim: 128, scale: 0.1, mapBlock: 32 }).kind).toBe('simple');
    expect(selectAttentionKernel({ dtype: 'bf16', headDim: 128, scale: -0.1 }).kind).toBe('simple');
  });
});

describe('attention kernel routing', () => {
  const cases = [
    { dtype: 'bf16', headDim: 128, scale: 0.1 },
    { dtype: 'f16', headDim: 128, scale: 0.1, maskBlock: 128 },
    { dtype: 'bf16', headDim: 128, scale: 0.1, maskBlock: 64 },
    { dtype: 'bf16', headDim: 64, scale: 0.1, mapBlock: 128, mapKeyBlocks: 9 },
    { dtype: 'f32', headDim: 128, scale: 0.1 },
  ] as const;
  it('prefers the sm_90a kernels only on Hopper and only where they cover the call', () => {
    for (const p of cases) {
      const hopper = selectHopperAttentionKernel(p);
      expect(selectAttentionKernel(p, true)).toEqual(hopper ?? selectAttentionKernel(p, false));
      const plain = selectAttentionKernel(p, false);
      if (plain.kind === 'flash') expect(plain.module).toBe('attention');
    }
  });
});

describe('attention operands in place', () => {
  const B = 2, H = 3, L = 50, D = 128;
  it('accepts permuted [B, L, H, D] views with 16-byte rows', () => {
    // [B, L, H, D] storage viewed as [B, H, L, D]
    expect(attentionViewUsable([B, H, L, D], [L * H * D, D, H * D, 1], 4096n, 2, true)).toBe(true);
  });
  it('rejects rows that are not 16-byte aligned for the tensor-core kernels only', () => {
    // rows of 66 elements start 132 bytes apart; an odd base address
    expect(attentionViewUsable([B, H, L, 64], [L * H * 66, 66, H * 66, 1], 0n, 2, true)).toBe(false);
    expect(attentionViewUsable([B, H, L, 64], [L * H * 66, 66, H * 66, 1], 0n, 2, false)).toBe(true);
    expect(attentionViewUsable([B, H, L, D], [L * H * D, D, H * D, 1], 4098n, 2, true)).toBe(false);
  });
  it('ignores the stride of extent-1 axes and needs a contiguous head_dim', () => {
    expect(attentionViewUsable([1, H, L, D], [7, D, H * D, 1], 0n, 2, true)).toBe(true);
    expect(attentionViewUsable([B, H, L, D], [L * H * D * 2, 2, H * D * 2, 2 * D], 0n, 2, false)).toBe(false);
    expect(attentionViewUsable([B, H, L, 1], [L * H, 1, H, 5], 0n, 4, false)).toBe(true);
  });
  it('copies views whose token stride needs more than 32 bits', () => {
    expect(attentionViewUsable([1, 1, 3, D], [0, 0, 2 ** 31, 1], 0n, 2, true)).toBe(false);
  });
});

describe('sparse CTA order', () => {
  it('orders rows by length class, then head, then length', () => {
    // 2 heads x 3 query blocks, rows of lengths 2, 0, 3 | 7, 1, 2
    const rowPtr = Int32Array.from([0, 2, 2, 5, 12, 13, 15]);
    // classes: 7 -> 2; 2, 3, 2 -> 1; 1 -> 0; 0 -> -1
    expect([...longestRowsFirst(rowPtr, 3)]).toEqual([3, 2, 0, 5, 4, 1]);
  });
  it('is a permutation with non-increasing length classes, head-major within a class', () => {
    const rng = new Rng(3);
    const nQ = 13;
    const lengths = Array.from({ length: 7 * nQ }, () => rng.int(0, 40));
    const rowPtr = Int32Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
    const order = [...longestRowsFirst(rowPtr, nQ)];
    expect([...order].sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    const cls = (r: number) => (lengths[r] > 0 ? Math.floor(Math.log2(lengths[r])) : -1);
    for (let i = 1; i < order.length; i++) {
      const [a, b] = [order[i - 1], order[i]];
      expect(cls(a)).toBeGreaterThanOrEqual(cls(b));
      if (cls(a) === cls(b)) expect(Math.floor(a / nQ)).toBeLessThanOrEqual(Math.floor(b / nQ));
    }
  });
});
