import type { KernelSpec } from '../kernel-cache.js';
import { type FragmentMode, fragmentOps, scoreProducts } from './fragments.js';
import { MAP_BINDINGS, mapBlockLoop } from './sparsity-map.js';
import { keyRowStaging, stagedRowStride } from './staging.js';
import { WGSL_CONVERSIONS } from '../wgsl-dtype.js';

/** Subgroups per workgroup of the subgroup-matrix map pass. */
const NS = 4;
/** Keys per step. */
const BC = 32;

/** Whether the subgroup-matrix map pass takes this block size (its rows split into 16-row tiles over 4 subgroups). */
export function sgMapBlockSize(blockSize: number): boolean {
  return blockSize % (16 * NS) === 0 && blockSize <= 128;
}

export interface SgMapSpecOptions {
  headDim: number;
  blockSize: number;
  fragments: FragmentMode;
}

/**
 * The block sparsity map of kernels/sparsity-map.ts (same bindings, uniforms and result),
 * with QK^T on 16x16 subgroup-matrix fragments (f16 in, f32 accumulation): one workgroup per
 * (head, query block I), 4 subgroups each holding blockSize / 64 16-row tiles of Q in
 * registers; per step of 32 keys the workgroup stages K in workgroup memory (16-byte loads),
 * each subgroup computes its S tiles, stores them to workgroup memory, and its lanes count
 * s * scale < lse + ln(tau) against per-row thresholds set once (NEG_BIG for rows outside the
 * first `tokens` queries, and for rows a clamped last tile repeats). Keys past the block's end
 * (or past the first `tokens` keys) are not counted; staged keys past Lk repeat the last key.
 * f16 q and k, head_dim a multiple of 16 up to 128, Lq >= 16, q/k offsets multiples of 8
 * elements (the backend checks). Bindings: q (f16), k (vec4<u32>), lse, map, within, uniform.
 */
export function sgMapSpec(o: SgMapSpecOptions): KernelSpec {
  const { headDim: D, blockSize: BS } = o;
  const MT = BS / (16 * NS);
  const f = fragmentOps(o.fragments);
  return {
    key: `attn-map-sgmat/${o.fragments}/d${D}/bs${BS}`,
    wgsl() {
      const ND = D / 16;
      const NF = BC / 16;
      const KS = stagedRowStride(D);
      const kStaging = keyRowStaging({ threads: NS * 32, rows: BC, headDim: D, dst: 'ks', sources: [{ src: 'k', base: 'kb', row0: 0, reg: 'wk' }] });
      const T = [...Array(MT).keys()];
      const each = <X>(xs: X[], g: (x: X) => string, sep = '\n    ') => xs.map(g).join(sep);
      const tiles = (g: (t: number, n: number) => string, sep = '\n    ') => T.flatMap((t) => [...Array(NF).keys()].map((n) => g(t, n))).join(sep);
      const REGION = MT * 16 * BC; // one subgroup's S tiles
      return `${f.header()}${WGSL_CONVERSIONS}
@group(0) @binding(0) var<storage, read> q: array<f16>;
@group(0) @binding(1) var<storage, read> k: array<vec4<u32>>;
${MAP_BINDINGS}
const D = ${D}u;
// every workgroup variable a multiple of 16 bytes (kernels/staging.ts)
var<workgroup> ks: array<f16, ${BC * KS}>;
var<workgroup> sscr: array<f32, ${NS * REGION}>;
var<workgroup> thr: array<f32, ${BS}>;
var<workgroup> count: array<atomic<u32>, 4>;
@compute @workgroup_size(${NS * 32})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32${f.params}) {
  ${f.prologue}
  let I = wid.x;
  let head = u.base + wid.y;
  let rows = min(u.bs, u.tq - I * u.bs);
  let kb = u.offK + head * u.Lk * D;
  let qb = u.offQ + head * u.Lq * D;
  // per-row thresholds, by slot (tile * 16 + row in the tile) of the clamped Q tiles
  for (var slot = lid; slot < ${BS}u; slot += ${NS * 32}u) {
    let org = I * u.bs + (slot / 16u) * 16u;
    let row = min(org, u.Lq - 16u) + slot % 16u;
    let valid = row >= org && row < I * u.bs + rows;
    thr[slot] = select(NEG_BIG, lse[u.offLse + head * u.Lq + min(row, u.Lq - 1u)] + u.lnTau, valid);
  }
  ${each(T, (t) => `let rm${t} = min(I * u.bs + (sg * ${MT}u + ${t}u) * 16u, u.Lq - 16u);`, ' ')}
  ${T.flatMap((t) => [...Array(ND).keys()].map((kd) => f.load('left', `q${t}_${kd}`, 'q', `qb + rm${t} * D + ${kd * 16}u`, false, 'D'))).join('\n  ')}
  ${kStaging.decls}
  ${mapBlockLoop(`for (var kc = k0; kc < k1; kc += ${BC}u) {
      workgroupBarrier();
      ${kStaging.loads('kc')}
      ${kStaging.stores}
      workgroupBarrier();
      ${tiles((t, n) => f.zero(`s${t}_${n}`))}
      ${scoreProducts(f, { headDim: D, keys: BC, tiles: MT, kLoad: (n, kd) => f.load('right', 'kf', 'ks', `${n * 16 * KS + kd * 16}u`, true, `${KS}u`) })}
      ${tiles((t, n) => f.store('sscr', `sg * ${REGION}u + ${t * 16 * BC + n * 16}u`, `s${t}_${n}`, `${BC}u`), '\n      ')}
      workgroupBarrier();
      // this subgroup's S region: lane l counts elements l, l + 32, ...
      for (var i = lane; i < ${REGION}u; i += 32u) {
        let slot = (sg * ${MT}u + i / ${16 * BC}u) * 16u + (i / ${BC}u) % 16u;
        let ok = kc + i % ${BC}u < k1;
        n += select(0u, 1u, ok && sscr[sg * ${REGION}u + i] * u.scale < thr[slot]);
      }
    }`)}
}
`;
    },
  };
}
