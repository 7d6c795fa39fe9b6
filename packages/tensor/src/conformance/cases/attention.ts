import type { SparsityMapRequest } from '../../backend.js';
import { BlockMask, type TokenRange } from '../../block-mask.js';
import type { DType } from '../../dtype.js';
import type { Rng } from '../../random.js';
import { type Check, type CaseContext, type Pair } from '../case-context.js';
import type { CaseSpec, SuiteSize } from '../case-spec.js';
import { type Tolerance, toleranceFor } from '../compare.js';

/** lse is f32 and computed from exact scores whatever the input dtype: tighter than f16/bf16 outputs. */
function lseTolerance(dtype: DType): Tolerance {
  return dtype === 'f32' ? toleranceFor('f32') : { rel: 2e-3, abs: 5e-3, floor: 0 };
}

/** Log-space half-width of the band around ln(tau) where backends may round either way. */
const MAP_EPS: Record<string, number> = { f32: 1e-3, f16: 3e-2, bf16: 3e-2 };

/** q [B, H, Lq, D], k and v [B, H, Lk, D] as permuted views of [B, L, H, D] storage, as a DiT makes them. */
function qkv(c: CaseContext, [B, H, Lq, Lk, D]: readonly number[], std = 1): { q: Pair; k: Pair; v: Pair } {
  const make = (L: number, s: number) => c.permuted([B, L, H, D], [0, 2, 1, 3], s);
  return { q: make(Lq, std), k: make(Lk, std), v: make(Lk, 1) };
}

/** Random block grid with density `p`; query block `emptyRow` of head 0 gets no block at all. */
function randomMask(rng: Rng, heads: number, qLen: number, kLen: number, blockSize: number, p: number, emptyRow?: number, dense?: { queries?: TokenRange; keys?: TokenRange }): BlockMask {
  const nQ = Math.ceil(qLen / blockSize);
  const nK = Math.ceil(kLen / blockSize);
  const grid = new Uint8Array(heads * nQ * nK).map(() => (rng.uniform() < p ? 1 : 0));
  grid[heads * nQ * nK - 1] = 1; // last head: ragged last query block sees the ragged last key block
  if (emptyRow !== undefined) grid.fill(0, emptyRow * nK, (emptyRow + 1) * nK);
  return BlockMask.fromDense({ heads, qLen, kLen, blockSize }, grid, dense);
}

function attentionChecks(c: CaseContext, tag: string, x: { q: Pair; k: Pair; v: Pair }, opts: { scale?: number; mask?: BlockMask }): Check[] {
  const got = c.backend.attention(x.q.t, x.k.t, x.v.t, opts);
  const want = c.ref.attention(c.f32(x.q), c.f32(x.k), c.f32(x.v), opts);
  return [
    c.close(`${tag} out`, got.out, want.out),
    c.close(`${tag} lse`, got.lse, want.lse, { dtype: 'f32', tol: lseTolerance(c.dtype) }),
    { kind: 'zeroRows', what: `${tag} empty rows`, actual: got.out, lse: want.lse },
  ];
}

function mapChecks(c: CaseContext, tag: string, x: { q: Pair; k: Pair; v: Pair }, map: SparsityMapRequest): Check[] {
  const got = c.backend.attention(x.q.t, x.k.t, x.v.t, { map });
  const q = c.f32(x.q);
  const k = c.f32(x.k);
  const want = c.ref.attention(q, k, c.f32(x.v), { map });
  const [, , Lq, D] = q.shape;
  const tokens = map.tokens;
  return [
    c.close(`${tag} out`, got.out, want.out),
    c.close(`${tag} lse`, got.lse, want.lse, { dtype: 'f32', tol: lseTolerance(c.dtype) }),
    {
      kind: 'map',
      what: `${tag} map`,
      actual: got.map ?? got.out,
      expected: want.map as NonNullable<typeof want.map>,
      q,
      k,
      scale: 1 / Math.sqrt(D),
      tau: map.tau,
      blockSize: map.blockSize,
      tq: tokens ?? Lq,
      tk: tokens ?? k.shape[2],
      eps: MAP_EPS[c.dtype] ?? MAP_EPS.f16,
    },
  ];
}

/** Dense (+lse), block-sparse with random masks, full mask == dense, dense + sparsity map. */
export function attentionCases(size: SuiteSize): CaseSpec[] {
  const m = size === 'medium';
  return [
    {
      name: 'attention dense, Lq != Lk, odd head_dim, custom scale',
      per: 'dtype',
      body: (c) => [
        ...attentionChecks(c, 'dense', qkv(c, m ? [1, 2, 2048, 2048, 128] : [1, 2, 37, 70, 8]), {}),
        ...attentionChecks(c, 'dense scale 0.3', qkv(c, m ? [1, 2, 300, 1000, 64] : [2, 1, 1, 5, 3]), { scale: 0.3 }),
      ],
    },
    {
      name: 'attention block-sparse, random masks with empty rows and ragged blocks',
      per: 'dtype',
      body: (c) => {
        const [H, Lq, Lk, D] = m ? [2, 2000, 2000, 128] : [2, 200, 130, 16];
        const x = qkv(c, [1, H, Lq, Lk, D]);
        const x2 = qkv(c, [2, H, Lk, Lq, D]);
        return [
          ...attentionChecks(c, 'sparse block 64', x, { mask: randomMask(c.rng, H, Lq, Lk, 64, 0.4, 1) }),
          ...attentionChecks(c, 'sparse block 128', x2, { mask: randomMask(c.rng, H, Lk, Lq, 128, 0.5, 0) }),
        ];
      },
    },
    {
      name: 'attention block-sparse with always-on text rows and columns',
      per: 'dtype',
      body: (c) => {
        const [H, L, text, D] = m ? [2, 1800, 200, 128] : [3, 180, 20, 8];
        const x = qkv(c, [1, H, L + text, L + text, D]);
        const dense = { queries: [L, L + text] as TokenRange, keys: [L, L + text] as TokenRange };
        return attentionChecks(c, 'sparse + text', x, { mask: randomMask(c.rng, H, L + text, L + text, 64, 0.2, undefined, dense) });
      },
    },
    {
      name: 'attention sparse with BlockMask.full equals dense',
      per: 'dtype',
      body: (c) => {
        const [H, Lq, Lk, D] = m ? [2, 1500, 1100, 128] : [2, 130, 67, 8];
        const x = qkv(c, [1, H, Lq, Lk, D]);
        const full = BlockMask.full({ heads: H, qLen: Lq, kLen: Lk, blockSize: 64 });
        const sparse = c.backend.attention(x.q.t, x.k.t, x.v.t, { mask: full });
        const dense = c.backend.attention(x.q.t, x.k.t, x.v.t);
        return [
          c.close('sparse(full) vs dense out', sparse.out, dense.out),
          c.close('sparse(full) vs dense lse', sparse.lse, dense.lse, { dtype: 'f32', tol: lseTolerance(c.dtype) }),
          ...attentionChecks(c, 'sparse(full) vs reference', x, { mask: full }),
        ];
      },
    },
    {
      name: 'attention dense + sparsity map, ragged blocks, tokens < L, within a mask',
      per: 'dtype',
      body: (c) => {
        const [H, L, D] = m ? [2, 2048, 128] : [2, 200, 16];
        // peaked scores so the map spans 0..1 at this small L
        const x = qkv(c, [1, H, L, L, D], m ? 1.2 : 1.5);
        const y = qkv(c, [1, 1, L, L + 37, D], 1.5);
        return [
          ...mapChecks(c, 'map block 64', x, { tau: m ? 1e-4 : 1e-3, blockSize: 64 }),
          ...mapChecks(c, 'map block 128, tokens', y, { tau: m ? 1e-4 : 1e-3, blockSize: 128, tokens: L - 13 }),
          // a refresh step's map: only the blocks of the active mask, the rest NaN
          ...mapChecks(c, 'map block 64 within a mask', x, { tau: m ? 1e-4 : 1e-3, blockSize: 64, within: randomMask(c.rng, H, L, L, 64, 0.3, 1) }),
          ...mapChecks(c, 'map block 128, tokens, within a mask', y, { tau: m ? 1e-4 : 1e-3, blockSize: 128, tokens: L - 13, within: randomMask(c.rng, 1, L, L + 37, 128, 0.5) }),
        ];
      },
    },
    {
      name: 'attention map boundary: p == tau is not negligible',
      per: 'dtype',
      body: (c) => {
        // one key: p = 1 exactly in any implementation, and tau = 1 must not count it
        const x = qkv(c, [1, 2, 5, 1, 4]);
        const map = { tau: 1, blockSize: 64 };
        const got = c.backend.attention(x.q.t, x.k.t, x.v.t, { map });
        const want = c.ref.attention(c.f32(x.q), c.f32(x.k), c.f32(x.v), { map });
        return [c.exact('map at tau = p = 1', got.map ?? got.out, want.map as NonNullable<typeof want.map>), c.close('out', got.out, want.out)];
      },
    },
  ];
}
