import { type Backend, MATMUL_ACTIVATIONS, type MatmulActivation, type MatmulOptions } from '../backend.js';
import { ModDitError, ShapeError } from '../errors.js';
import { broadcastShapes, fmtShape, numel } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { geluTanh } from './activations.js';
import { checkFloat, checkMinRank, checkSameDType, checkShape } from './checks.js';
import type { MakeTensor } from './copy.js';
import { encode, gatherF32 } from './host.js';

/** Index of each output batch entry in a (broadcast) operand's batch dims. */
function batchIndex(batch: readonly number[], own: readonly number[]): Int32Array {
  const n = numel(batch);
  const out = new Int32Array(n);
  const strides = new Array<number>(batch.length).fill(0);
  let s = 1;
  for (let i = own.length - 1; i >= 0; i--) {
    strides[batch.length - own.length + i] = own[i] === 1 ? 0 : s;
    s *= own[i];
  }
  for (let o = 0; o < n; o++) {
    let rem = o;
    let idx = 0;
    for (let ax = batch.length - 1; ax >= 0; ax--) {
      idx += (rem % batch[ax]) * strides[ax];
      rem = Math.floor(rem / batch[ax]);
    }
    out[o] = idx;
  }
  return out;
}

/** Validated matmul arguments: broadcast batch dims, M, K, N, and the bias if any. */
export interface MatmulGeometry {
  batch: number[];
  m: number;
  k: number;
  n: number;
  transposeB: boolean;
  bias?: Tensor;
  activation?: MatmulActivation;
}

/** Checks matmul arguments against the contract and resolves the geometry. Shared by every backend. */
export function validateMatmul(backend: Backend, a: Tensor, b: Tensor, opts: MatmulOptions = {}): MatmulGeometry {
  checkFloat(backend, 'matmul', 'a', a);
  checkFloat(backend, 'matmul', 'b', b);
  checkMinRank('matmul', 'a', a, 2);
  checkMinRank('matmul', 'b', b, 2);
  checkSameDType('matmul', 'b', b, a.dtype, 'a');
  const transposeB = opts.transposeB === true;
  const [m, k] = a.shape.slice(-2);
  const [kb, n] = transposeB ? [b.shape[b.rank - 1], b.shape[b.rank - 2]] : b.shape.slice(-2);
  if (k !== kb)
    throw new ShapeError(`matmul: inner dims differ: a ${fmtShape(a.shape)} has K=${k}, b ${fmtShape(b.shape)}${transposeB ? ' (transposeB)' : ''} has K=${kb}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul (batch dims of a and b)');
  if (opts.bias !== undefined) {
    checkFloat(backend, 'matmul', 'bias', opts.bias);
    checkShape('matmul', 'bias', opts.bias, [n]);
  }
  const activation = opts.activation;
  if (activation !== undefined && !MATMUL_ACTIVATIONS.includes(activation))
    throw new ModDitError('E_ARGUMENT', `matmul: activation must be one of ${MATMUL_ACTIVATIONS.join(', ')}, got ${String(activation)}`);
  return { batch, m, k, n, transposeB, bias: opts.bias, activation };
}

/** Batched matmul; every dot product accumulates in float64 and rounds once to a's dtype. */
export function matmul(backend: Backend, make: MakeTensor, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { batch, m, k, n, transposeB: tb, bias: biasT, activation } = validateMatmul(backend, a, b, opts);
  const act = activation === 'gelu' ? geluTanh : (v: number) => v;
  const bias = biasT ? gatherF32(biasT) : undefined;
  const A = gatherF32(a);
  const B = gatherF32(b);
  const bBatches = numel(b.shape.slice(0, -2));
  // b as [N, K] rows per batch so the inner loop runs over contiguous memory
  let Bt = B;
  if (!tb) {
    Bt = new Float32Array(B.length);
    for (let z = 0; z < bBatches; z++)
      for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) Bt[z * k * n + c * k + r] = B[z * k * n + r * n + c];
  }
  const aIdx = batchIndex(batch, a.shape.slice(0, -2));
  const bIdx = batchIndex(batch, b.shape.slice(0, -2));
  const out = new Float64Array(numel(batch) * m * n);
  for (let z = 0; z < aIdx.length; z++) {
    const ao = aIdx[z] * m * k;
    const bo = bIdx[z] * n * k;
    const oo = z * m * n;
    for (let i = 0; i < m; i++) {
      const ar = ao + i * k;
      for (let j = 0; j < n; j++) {
        const br = bo + j * k;
        let s = bias ? bias[j] : 0;
        for (let p = 0; p < k; p++) s += A[ar + p] * Bt[br + p];
        out[oo + i * n + j] = act(s);
      }
    }
  }
  return make(encode(out, a.dtype), [...batch, m, n], a.dtype);
}
