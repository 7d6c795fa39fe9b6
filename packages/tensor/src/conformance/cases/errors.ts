import { BlockMask } from '../../block-mask.js';
import { BackendMismatchError, BlockMaskError, DTypeError, DisposedTensorError, ModDitError, ShapeError } from '../../errors.js';
import { fromNumbers } from '../../dtype.js';
import type { CaseSpec } from '../case-spec.js';

/** Bad input must raise the typed error before any work: wrong shapes, dtypes, masks, foreign or disposed tensors. */
export function errorCases(): CaseSpec[] {
  return [
    {
      name: 'typed errors: shapes',
      per: 'once',
      body: (c) => {
        const b = c.backend;
        const x = c.input([2, 3, 8]).t;
        c.throws('matmul with K mismatch', ShapeError, () => b.matmul(x, c.input([7, 4]).t));
        c.throws('matmul bias of the wrong length', ShapeError, () => b.matmul(x, c.input([8, 4]).t, { bias: c.input([5]).t }));
        c.throws('add of shapes that do not broadcast', ShapeError, () => b.add(x, c.input([4, 8]).t));
        c.throws('modulate whose scale widens x', ShapeError, () => b.modulate(x, c.input([5, 2, 3, 8]).t, c.input([8]).t));
        c.throws('layerNorm weight of the wrong length', ShapeError, () => b.layerNorm(x, { eps: 1e-6, weight: c.input([7]).t }));
        c.throws('layerNorm scale without shift', ShapeError, () => b.layerNorm(x, { eps: 1e-6, scale: c.input([8]).t }));
        c.throws('layerNorm shift that widens x', ShapeError, () => b.layerNorm(x, { eps: 1e-6, scale: c.input([8]).t, shift: c.input([4, 1, 8]).t }));
        c.throws('residualLayerNorm y that widens x', ShapeError, () => b.residualLayerNorm(x, c.input([4, 2, 3, 8]).t, { eps: 1e-6 }));
        c.throws('residualLayerNorm gate that does not broadcast', ShapeError, () => b.residualLayerNorm(x, x, { eps: 1e-6, gate: c.input([5]).t }));
        c.throws('residualLayerNorm scale without shift', ShapeError, () => b.residualLayerNorm(x, x, { eps: 1e-6, scale: c.input([8]).t }));
        c.throws('rmsNorm weight of the wrong length', ShapeError, () => b.rmsNorm(x, c.input([9]).t, 1e-6));
        c.throws('concat with mismatched extents', ShapeError, () => b.concat([x, c.input([2, 4, 7]).t], 1));
        c.throws('rope3d split not summing to head_dim', ShapeError, () => b.rope3d(c.input([1, 4, 1, 8]).t, { grid: [1, 2, 2], split: [4, 2, 4], theta: 1e4 }));
        c.throws('rope3d odd split', ShapeError, () => b.rope3d(c.input([1, 4, 1, 8]).t, { grid: [1, 2, 2], split: [3, 3, 2], theta: 1e4 }));
        c.throws('rope3d norm weight of the wrong length', ShapeError, () =>
          b.rope3d(c.input([1, 4, 2, 8]).t, { grid: [1, 2, 2], split: [4, 2, 2], theta: 1e4, norm: { weight: c.input([8]).t, eps: 1e-6 } }),
        );
        c.throws('rope3d grid larger than L', ShapeError, () => b.rope3d(c.input([1, 4, 1, 8]).t, { grid: [2, 2, 2], split: [4, 2, 2], theta: 1e4 }));
        c.throws('patchify of indivisible extents', ShapeError, () => b.patchify(c.input([1, 2, 1, 3, 4]).t, { patch: [1, 2, 2], channels: 'first' }));
        c.throws('unpatchify with the wrong token count', ShapeError, () => b.unpatchify(c.input([1, 5, 8]).t, [1, 2, 2], { patch: [1, 2, 2], channels: 'last' }));
        c.throws('upload with a length that does not match the shape', ShapeError, () => b.upload(fromNumbers([1, 2, 3], c.dtype), [2, 2], c.dtype));
        const q = c.input([1, 2, 10, 4]).t;
        const k = c.input([1, 2, 12, 4]).t;
        c.throws('attention k with another head_dim', ShapeError, () => b.attention(q, c.input([1, 2, 12, 5]).t, k));
        c.throws('attention v with another length than k', ShapeError, () => b.attention(q, k, c.input([1, 2, 11, 4]).t));
        c.throws('attention q of rank 3', ShapeError, () => b.attention(c.input([2, 10, 4]).t, k, k));
        return [];
      },
    },
    {
      name: 'typed errors: masks, dtypes, foreign and disposed tensors',
      per: 'once',
      body: (c) => {
        const b = c.backend;
        const q = c.input([1, 2, 10, 4]).t;
        const k = c.input([1, 2, 12, 4]).t;
        const maskErrors = [BlockMaskError, ShapeError];
        c.throwsAny('attention mask for another head count', maskErrors, () => b.attention(q, k, k, { mask: BlockMask.full({ heads: 3, qLen: 10, kLen: 12, blockSize: 64 }) }));
        c.throwsAny('attention mask for another kLen', maskErrors, () => b.attention(q, k, k, { mask: BlockMask.full({ heads: 2, qLen: 10, kLen: 10, blockSize: 64 }) }));
        c.throws('attention with mask and map together', ModDitError, () =>
          b.attention(q, k, k, { mask: BlockMask.full({ heads: 2, qLen: 10, kLen: 12, blockSize: 64 }), map: { tau: 1e-4, blockSize: 64 } }),
        );
        const other = b.floatDTypes.find((d) => d !== c.dtype);
        if (other) {
          c.throws('attention k of another dtype than q', DTypeError, () => b.attention(q, b.cast(k, other), k));
          c.throws('matmul b of another dtype than a', DTypeError, () => b.matmul(q, b.cast(k, other).transpose()));
          c.throws('concat of mixed dtypes', DTypeError, () => b.concat([q, b.cast(q, other)], 0));
        }
        c.throws('layerNorm to an integer dtype', DTypeError, () => b.layerNorm(q, { eps: 1e-6, dtype: 'i32' }));
        c.throws('residualLayerNorm to an integer dtype', DTypeError, () => b.residualLayerNorm(q, q, { eps: 1e-6, dtype: 'i32' }));
        c.throws('matmul with an unknown activation', ModDitError, () => b.matmul(q, k.transpose(), { activation: 'relu' as 'gelu' }));
        const wrongArray = c.dtype === 'f32' ? new Uint16Array(4) : new Float32Array(4);
        c.throws('upload of a host array that does not match the dtype', DTypeError, () => b.upload(wrongArray, [4], c.dtype));
        c.throws('a tensor of another backend', BackendMismatchError, () => b.gelu(c.ref.upload(fromNumbers([1, 2], c.dtype), [2], c.dtype)));
        const dead = c.input([3]).t;
        dead.dispose();
        c.throws('a disposed tensor', DisposedTensorError, () => b.silu(dead));
        return [];
      },
    },
  ];
}
