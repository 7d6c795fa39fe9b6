import { type Shape, broadcastShapes, contiguousStrides, numel } from '@mod-dit/tensor';

/**
 * How a row-major batched C[M, N] = A[M, K] x B (B stored [K, N], or [N, K] with transposeB)
 * maps onto column-major cuBLASLt: C^T = B^T A^T, so cuBLASLt's "A" is our b, its "B" is our a,
 * and its m, n are our N, M. Rows/cols/ld are those of the stored (pre-op) column-major matrices.
 */
export interface LtGemmShape {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  a: { rows: number; cols: number; ld: number };
  b: { rows: number; cols: number; ld: number };
  c: { rows: number; cols: number; ld: number };
}

export function ltGemmShape(M: number, N: number, K: number, transposeB: boolean): LtGemmShape {
  return {
    m: N,
    n: M,
    k: K,
    transA: transposeB,
    a: transposeB ? { rows: K, cols: N, ld: K } : { rows: N, cols: K, ld: N },
    b: { rows: K, cols: M, ld: K },
    c: { rows: N, cols: M, ld: N },
  };
}

/**
 * The batches of a broadcast matmul as cuBLASLt strided batches: `groups` calls, each of
 * `count` matrices at constant element strides, starting at the listed element offsets.
 * A batch that is a single uniform stride (including 0 for a broadcast operand) is one call.
 */
export interface BatchPlan {
  batchShape: number[];
  count: number;
  strideA: number;
  strideB: number;
  strideC: number;
  groups: { offsetA: number; offsetB: number; offsetC: number }[];
}

export function batchPlan(aBatch: Shape, bBatch: Shape, M: number, N: number, K: number): BatchPlan {
  const batchShape = broadcastShapes(aBatch, bBatch, 'matmul batch');
  const total = numel(batchShape);
  const offsets = (own: Shape, matrix: number): number[] => {
    const padded = [...Array(batchShape.length - own.length).fill(1), ...own];
    const strides = contiguousStrides(padded).map((s, i) => (padded[i] === 1 ? 0 : s * matrix));
    const out: number[] = [];
    for (let i = 0; i < total; i++) {
      let rem = i;
      let off = 0;
      for (let ax = batchShape.length - 1; ax >= 0; ax--) {
        off += (rem % batchShape[ax]) * strides[ax];
        rem = Math.floor(rem / batchShape[ax]);
      }
      out.push(off);
    }
    return out;
  };
  const oa = offsets(aBatch, M * K);
  const ob = offsets(bBatch, K * N);
  const uniform = (o: number[]): boolean => o.every((v, i) => v === i * (o[1] ?? 0) || o.length === 1);
  if (total <= 1 || (uniform(oa) && uniform(ob)))
    return { batchShape, count: total, strideA: oa[1] ?? 0, strideB: ob[1] ?? 0, strideC: M * N, groups: [{ offsetA: 0, offsetB: 0, offsetC: 0 }] };
  return {
    batchShape,
    count: 1,
    strideA: 0,
    strideB: 0,
    strideC: 0,
    groups: oa.map((offsetA, i) => ({ offsetA, offsetB: ob[i], offsetC: i * M * N })),
  };
}
