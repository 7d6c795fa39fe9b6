import type { KernelSpec } from '../kernel-cache.js';
import { ATTENTION_UNIFORMS, keyRangeSnippets } from './attention-key-ranges.js';
import { type FragmentMode, fragmentOps, scoreProducts } from './fragments.js';
import { WGSL_CONVERSIONS } from '../wgsl-dtype.js';
import { keyRowStaging, stagedRowStride } from './staging.js';

/** Tiling of the subgroup-matrix flash attention. */
export interface SgAttentionConfig {
  /** Subgroups (of 32) per workgroup. */
  subgroups: number;
  /** 16-row query tiles per subgroup (1 or 2). */
  mTiles: number;
  /** Keys per step (a multiple of 16). */
  keys: number;
  /** Where P (f16) goes between the softmax and P*V: workgroup memory, or a storage scratch buffer. */
  p: 'workgroup' | 'storage';
  /**
   * How K and V fragments reach the subgroups (default `direct`): `direct`, loaded from storage by each
   * subgroup; `staged`, each step's keys x head_dim tiles of K and V loaded once per
   * workgroup into workgroup memory (16-byte loads) and shared by its subgroups; `prefetch`,
   * staged, with the next step's tiles loaded into registers during this step's products.
   */
  kv?: 'direct' | 'staged' | 'prefetch';
}

/**
 * Default tiling where the device has subgroup matrices: 4 subgroups x 2 query tiles, 16 keys
 * a step, K/V staged with the next step's tiles prefetched into registers. The fastest dense
 * tiling on the H100 (Dawn/Vulkan, Wan-1.3B shape, 2026-11-27, docs/benchmarks.md): 146
 * TFLOP/s with Dawn's robustness off, 132 with it on; within the sparse time bound at every
 * density in both modes.
 */
export const SG_ATTENTION_DEFAULT: SgAttentionConfig = { subgroups: 4, mTiles: 2, keys: 16, p: 'workgroup', kv: 'prefetch' };

/**
 * Tilings of fewer query rows, for block-sparse masks whose block size the configured
 * tiling's rows do not divide (a workgroup's rows must lie in one mask block): the first
 * that fits is taken.
 */
export const SG_ATTENTION_SMALL: readonly SgAttentionConfig[] = [
  { subgroups: 4, mTiles: 1, keys: 16, p: 'workgroup', kv: 'staged' },
  { subgroups: 1, mTiles: 1, keys: 16, p: 'workgroup', kv: 'staged' },
];

/**
 * Configurations the device check and the benchmark compare. Measured slower and dropped
 * (H100, 2026-11-27): 32 keys a step with prefetch on 2 x 2 and 4 x 2 query tiles (33 and 71
 * TFLOP/s dense).
 */
export const SG_ATTENTION_CONFIGS: readonly SgAttentionConfig[] = [
  SG_ATTENTION_DEFAULT,
  { subgroups: 4, mTiles: 2, keys: 16, p: 'workgroup', kv: 'staged' },
  ...SG_ATTENTION_SMALL,
  { subgroups: 1, mTiles: 1, keys: 64, p: 'workgroup' },
  { subgroups: 2, mTiles: 2, keys: 32, p: 'workgroup' },
  { subgroups: 4, mTiles: 1, keys: 64, p: 'storage' },
  { subgroups: 8, mTiles: 1, keys: 32, p: 'workgroup', kv: 'staged' },
  { subgroups: 2, mTiles: 2, keys: 16, p: 'workgroup', kv: 'staged' },
  { subgroups: 4, mTiles: 1, keys: 16, p: 'workgroup', kv: 'prefetch' },
  { subgroups: 8, mTiles: 1, keys: 32, p: 'workgroup', kv: 'prefetch' },
];

/** Short name of a configuration, e.g. `4sg-2m-16k-wg-kvs` (subgroups, query tiles per subgroup, keys per step, P in workgroup memory, K/V staged). */
export function sgAttentionName(c: SgAttentionConfig): string {
  return `${c.subgroups}sg-${c.mTiles}m-${c.keys}k-${c.p === 'workgroup' ? 'wg' : 'st'}${c.kv === 'staged' ? '-kvs' : c.kv === 'prefetch' ? '-kvp' : ''}`;
}

/** Query rows per workgroup. */
export function sgAttentionRows(c: SgAttentionConfig): number {
  return c.subgroups * c.mTiles * 16;
}

/** Workgroup memory of a configuration at head_dim `headDim`, in bytes. */
export function sgAttentionWorkgroupBytes(c: SgAttentionConfig, headDim: number): number {
  const rows = sgAttentionRows(c);
  const kv = c.kv === 'staged' || c.kv === 'prefetch' ? 2 * c.keys * stagedRowStride(headDim) * 2 : 0;
  return kv + rows * c.keys * (4 + (c.p === 'workgroup' ? 2 : 0)) + rows * 4 + 48;
}

/** f16 elements of the storage scratch one workgroup needs (p: 'storage'). */
export function sgAttentionScratchPerGroup(c: SgAttentionConfig): number {
  return sgAttentionRows(c) * c.keys;
}

export interface SgAttentionSpecOptions {
  headDim: number;
  sparse: boolean;
  config: SgAttentionConfig;
  fragments: FragmentMode;
}

/** Scores may exceed the row's reference maximum by this much (log2) before O is rescaled: P <= 2^8. */
const RESCALE_LOG2 = 8;

/**
 * f16 flash attention on 16x16 subgroup-matrix fragments (f32 accumulation), dense + LSE or
 * block-sparse over the BlockMask CSR: one flat loop over (active block, key step) pairs,
 * its bound from the CSR row.
 * One workgroup per (head, rows(config) query rows); each subgroup owns mTiles 16-row tiles
 * of Q (held in registers unless K/V are direct and mTiles > 1). Per step of `keys` keys:
 * K and V fragments straight from storage (`kv: 'direct'`), or the step's K and V tiles
 * staged in workgroup memory by the whole workgroup (`staged`; `prefetch` loads the next
 * step's into registers during this one); S = Q K^T, S to workgroup memory; one or two
 * invocations per row (every lane busy; a pair combines through
 * subgroupShuffleXor(1), which assumes lanes 2i and 2i+1 of local index share a subgroup, as
 * on NVIDIA and lavapipe) compute the row maximum and P = exp2(S * scale*log2e - m) in f16
 * (to workgroup memory or a storage scratch, at offsets that are multiples of 16 rows x keys);
 * then O += P V.
 *
 * The output fragments are opaque, so O is not rescaled on every new row maximum: a row keeps
 * its reference maximum m until a score exceeds m + 8 (log2), so P <= 256 in f16; only then
 * (decided for the whole workgroup, rare after the first steps) are the O fragments stored,
 * scaled per row and reloaded. The first step sets m without rescaling (O is still 0).
 *
 * Query tiles past the last row and key fragments past the last key are clamped back inside
 * (Lq, Lk >= 16, so no load leaves the tensors; staged keys past Lk repeat the last key);
 * clamped duplicate keys get P = 0 and only the tile's own rows are written. Every subgroup-matrix offset is a multiple of 16 elements given
 * q/k/v/out element offsets that are multiples of 8 (the backend checks).
 * Bindings: q (f16), k, v (f16; vec4<u32> where staged), [rowPtr, colIdx], out (f16 pairs as
 * u32), lse, [P scratch], uniform.
 */
export function sgAttentionSpec(o: SgAttentionSpecOptions): KernelSpec {
  const { headDim: D, sparse } = o;
  const { subgroups: NS, mTiles: MT, keys: BC, p } = o.config;
  const f = fragmentOps(o.fragments);
  return {
    key: `attn-sgmat/${o.fragments}/d${D}/${sparse ? 'sparse' : 'dense'}/${sgAttentionName(o.config)}`,
    wgsl() {
      const ROWS = MT * 16;
      const R = NS * ROWS;
      const ND = D / 16;
      const NF = BC / 16;
      const T = [...Array(MT).keys()];
      const Dn = [...Array(ND).keys()];
      const Nf = [...Array(NF).keys()];
      const ns = sparse ? 2 : 0;
      const keys = keyRangeSnippets(sparse, R, 'lid');
      const storageP = p === 'storage';
      const staged = o.config.kv === 'staged' || o.config.kv === 'prefetch';
      const prefetch = o.config.kv === 'prefetch';
      const KS = stagedRowStride(D);
      const pArr = storageP ? 'pscr' : 'pwg';
      // P region of subgroup g: storage scratch is per workgroup of the dispatch
      const pBase = (g: string) => (storageP ? `(wgi * ${NS}u + ${g}) * ${ROWS * BC}u` : `${g} * ${ROWS * BC}u`);
      const barrier = storageP ? 'storageBarrier();\n    workgroupBarrier();' : 'workgroupBarrier();';
      // Q stays in registers for the whole key loop (with per-subgroup K and V loads, only at one tile per subgroup: registers)
      const qHeld = MT === 1 || staged;
      // row phase: LPR invocations per row (all 32 lanes busy), each CPL columns, starting at a
      // lane-rotated column so that the lanes of a subgroup read different banks
      const LPR = 32 / ROWS;
      const CPL = BC / LPR;
      const rowLoop = (checked: boolean, body: string, needOk = false) => `for (var c = 0u; c < ${CPL}u; c++) {
          let col = part * ${CPL}u + (c + lane) % ${CPL}u;${
            checked
              ? `
          ${
            staged
              ? 'let ok = kc + col < k1;'
              : `let un = kc + (col / 16u) * 16u;
          let key = min(un, u.Lk - 16u) + col % 16u;
          let ok = key >= un && key < k1;`
          }
          ${needOk ? body : `if (ok) { ${body} }`}`
              : `
          ${body}`
          }
        }`;
      const each = <X>(xs: X[], fn: (x: X) => string, sep = '\n    ') => xs.map(fn).join(sep);
      const qLoad = (t: number, kd: number) => f.load('left', `q${t}_${kd}`, 'q', `qb + rm${t} * D + ${kd * 16}u`, false, 'D');
      const sStep = scoreProducts(f, {
        headDim: D,
        keys: BC,
        tiles: MT,
        kLoad: (n, kd) =>
          staged ? f.load('right', 'kf', 'kvs', `${n * 16 * KS + kd * 16}u`, true, `${KS}u`) : f.load('right', 'kf', 'k', `kb + on${n} * D + ${kd * 16}u`, true, 'D'),
        before: qHeld ? undefined : (kd) => each(T, (t) => qLoad(t, kd)),
      });
      const pvStep = Dn.map(
        (dn) => `${each(Nf, (n) => `{
      ${staged ? f.load('right', 'vf', 'kvs', `${(BC + n * 16) * KS + dn * 16}u`, false, `${KS}u`) : f.load('right', 'vf', 'v', `vb + on${n} * D + ${dn * 16}u`, false, 'D')}
      ${each(T, (t) => f.mma(`o${t}_${dn}`, `p${t}_${n}`, 'vf'), '\n      ')}
    }`)}`,
      ).join('\n    ');
      // staged K/V: the step's BC x D tiles of K, then V, in kvs
      const kvStaging = keyRowStaging({
        threads: NS * 32,
        rows: BC,
        headDim: D,
        dst: 'kvs',
        sources: [
          { src: 'k', base: 'kb', row0: 0, reg: 'wk' },
          { src: 'v', base: 'vb', row0: BC, reg: 'wv' },
        ],
      });
      const { loads: kvLoads, stores: kvStores } = kvStaging;
      /** Active key block of flat sparse step `st`. */
      const csr = (st: string) => `colIdx[u.offCol + pa + ${st} / cpb]`;
      // O fragments through the subgroup's S area (16x16, stride 16), each lane scaling 8 elements by its row's factor
      const throughScratch = (t: number, dn: number, body: string) => `${f.store('sscr', `sg * ${ROWS * BC}u`, `o${t}_${dn}`, '16u')}
    workgroupBarrier();
    for (var e = 0u; e < 8u; e++) {
      let i = lane * 8u + e;
      ${body}
    }
    workgroupBarrier();`;
      return `${f.header()}${WGSL_CONVERSIONS}
@group(0) @binding(0) var<storage, read> q: array<f16>;
@group(0) @binding(1) var<storage, read> k: array<${staged ? 'vec4<u32>' : 'f16'}>;
@group(0) @binding(2) var<storage, read> v: array<${staged ? 'vec4<u32>' : 'f16'}>;
${sparse ? '@group(0) @binding(3) var<storage, read> rowPtr: array<u32>;\n@group(0) @binding(4) var<storage, read> colIdx: array<u32>;' : ''}
@group(0) @binding(${3 + ns}) var<storage, read_write> out: array<u32>;
@group(0) @binding(${4 + ns}) var<storage, read_write> lse: array<u32>;
${storageP ? `@group(0) @binding(${5 + ns}) var<storage, read_write> pscr: array<f16>;` : ''}
${ATTENTION_UNIFORMS}
@group(0) @binding(${(storageP ? 6 : 5) + ns}) var<uniform> u: U;
const D = ${D}u;
const BC = ${BC}u;
const ROWS = ${ROWS}u;
${storageP ? '' : `// 16-byte multiples, like every workgroup variable here (kernels/staging.ts)\nvar<workgroup> pwg: array<f16, ${NS * ROWS * BC}>;`}
var<workgroup> sscr: array<f32, ${NS * ROWS * BC}>;
${staged ? `// this step's K rows, then its V rows (16-byte multiples: kernels/staging.ts)
var<workgroup> kvs: array<f16, ${2 * BC * KS}>;` : ''}
var<workgroup> rowf: array<f32, ${NS * ROWS}>;
// scalars in 16-byte arrays (kernels/staging.ts says why): [0] is the flag
var<workgroup> flagA: array<atomic<u32>, 4>;
var<workgroup> flagU: array<u32, 4>;
${keys.decls}
@compute @workgroup_size(${NS * 32})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${f.params}) {
  ${f.prologue}
  let wgi = wid.y * nwg.x + wid.x;
  let tile = wid.x;
  let head = u.base + wid.y;
  let qb = u.offQ + head * u.Lq * D;
  let kb = u.offK + head * u.Lk * D;
  let vb = u.offV + head * u.Lk * D;
  // fragment side (subgroup sg): origins of its query tiles, clamped inside [0, Lq)
  ${each(T, (t) => `let rm${t} = min(tile * ${R}u + (sg * ${MT}u + ${t}u) * 16u, u.Lq - 16u);`, ' ')}
  // row side (invocation lid): region lsg, row \`lane\` of it when lane < ROWS
  let lsg = lid / 32u;
  let rho = lane / ${LPR}u;
  let part = lane % ${LPR}u;
  let lorg = tile * ${R}u + (lsg * ${MT}u + rho / 16u) * 16u;
  let grow = min(lorg, u.Lq - 16u) + rho % 16u;
  let own = part == 0u && grow >= lorg && grow < u.Lq;
  let sc = u.scale * 1.4426950408889634;
  var m = NEG_BIG;
  var l = 0.0;
  ${qHeld ? each(T.flatMap((t) => Dn.map((kd) => qLoad(t, kd))), (x) => x, '\n  ') : ''}
  ${each(T.flatMap((t) => Dn.map((dn) => f.zero(`o${t}_${dn}`))), (x) => x, '\n  ')}
  ${keys.rows}
  ${staged ? kvStaging.decls : ''}
  ${
    sparse
      ? `// one flat loop over (active key block, step of BC keys in it); steps past a ragged
  // last block have no valid key and change nothing
  let cpb = (u.bs + BC - 1u) / BC;
  ${
    staged
      ? `let last = nblk * cpb - 1u;
  // blocks of steps st and st + 1, read by every invocation a step ahead: no barrier and no
  // wait on the CSR in the loop (only plain loads and masks use them, so they need not be uniform)
  var jA = 0u;
  var jB = 0u;
  if (nblk > 0u) {
    jA = ${csr('0u')};
    jB = ${csr('min(1u, last)')};
    ${prefetch ? kvLoads('jA * u.bs') : ''}
  }`
      : ''
  }
  for (var st = 0u; st < nblk * cpb; st++) {
    ${staged ? 'let j = jA;' : `if (lid == 0u) { wcsr[2] = ${csr('st')}; }\n    let j = workgroupUniformLoad(&wcsr[2]);`}
    let k1 = min(u.Lk, j * u.bs + u.bs);
    let kc = j * u.bs + (st % cpb) * BC;
    {`
      : `${prefetch ? kvLoads('0u') : ''}
  for (var bi = 0u; bi < nblk; bi++) {
    ${keys.block}
    for (var kc = k0; kc < k1; kc += BC) {`
  }
    ${
      staged
        ? `// this step's keys into workgroup memory once the last step's fragments are read
    workgroupBarrier();
    ${prefetch ? kvStores : `${kvLoads('kc')}\n    ${kvStores}`}
    workgroupBarrier();
    ${prefetch ? (sparse ? `{ let sn = min(st + 1u, last); ${kvLoads('jB * u.bs + (sn % cpb) * BC')} }` : kvLoads('kc + BC')) : ''}
    ${sparse ? `jA = jB;\n    jB = ${csr('min(st + 2u, last)')};` : ''}`
        : `// key fragment origins, clamped inside [0, Lk); duplicates are masked below
    ${each(Nf, (n) => `let on${n} = min(kc + ${16 * n}u, u.Lk - 16u);`, ' ')}`
    }
    ${each(T.flatMap((t) => Nf.map((n) => f.zero(`s${t}_${n}`))), (x) => x)}
    ${sStep}
    ${each(T.flatMap((t) => Nf.map((n) => f.store('sscr', `sg * ${ROWS * BC}u + ${t * 16 * BC + n * 16}u`, `s${t}_${n}`, 'BC'))), (x) => x)}
    workgroupBarrier();
    {
      let sb = lsg * ${ROWS * BC}u + rho * BC;
      let pb = ${pBase('lsg')} + rho * BC;
      let full = kc + BC <= k1;
      var mx = NEG_BIG;
      if (full) {
        ${rowLoop(false, 'mx = max(mx, sscr[sb + col] * sc);')}
      } else {
        ${rowLoop(true, 'mx = max(mx, sscr[sb + col] * sc);')}
      }
      ${LPR === 2 ? 'mx = max(mx, subgroupShuffleXor(mx, 1u));' : ''}
      var alpha = 1.0;
      if (m == NEG_BIG) {
        m = mx;
      } else if (mx > m + ${RESCALE_LOG2}.0) {
        alpha = exp2(m - mx);
        m = mx;
        atomicOr(&flagA[0], 1u);
      }
      var sum = 0.0;
      if (full) {
        ${rowLoop(false, `let ph = f16(exp2(sscr[sb + col] * sc - m)); ${pArr}[pb + col] = ph; sum += f32(ph);`)}
      } else {
        ${rowLoop(true, `let ph = f16(select(0.0, exp2(sscr[sb + col] * sc - m), ok)); ${pArr}[pb + col] = ph; sum += f32(ph);`, true)}
      }
      ${LPR === 2 ? 'sum += subgroupShuffleXor(sum, 1u);' : ''}
      l = l * alpha + sum;
      if (part == 0u) { rowf[lsg * ROWS + rho] = alpha; }
    }
    ${barrier}
    if (lid == 0u) { flagU[0] = atomicExchange(&flagA[0], 0u); }
    if (workgroupUniformLoad(&flagU[0]) != 0u) {
    ${T.flatMap((t) => Dn.map((dn) => `${throughScratch(t, dn, `sscr[lsg * ${ROWS * BC}u + i] *= rowf[lsg * ROWS + ${t * 16}u + i / 16u];`)}
    ${f.loadAcc(`o${t}_${dn}`, 'sscr', `sg * ${ROWS * BC}u`, '16u')}
    workgroupBarrier();`)).join('\n    ')}
    }
    ${each(T.flatMap((t) => Nf.map((n) => f.load('left', `p${t}_${n}`, pArr, `${pBase('sg')} + ${t * 16 * BC + n * 16}u`, false, 'BC'))), (x) => x)}
    ${pvStep}
    }
  }
  if (part == 0u) { rowf[lsg * ROWS + rho] = select(0.0, 1.0 / l, l > 0.0); }
  if (own) { lse[u.offLse + head * u.Lq + grow] = select(NEG_INF_BITS, bitcast<u32>((m + log2(l)) * 0.6931471805599453), l > 0.0); }
  workgroupBarrier();
  let ob = u.offOut + head * u.Lq * D;
  ${T.flatMap((t) =>
    Dn.map((dn) =>
      throughScratch(
        t,
        dn,
        `if (e % 2u == 1u) { continue; }
      let org = tile * ${R}u + (lsg * ${MT}u + ${t}u) * 16u;
      let gr = min(org, u.Lq - 16u) + i / 16u;
      if (gr >= org && gr < u.Lq) {
        let fac = rowf[lsg * ROWS + ${t * 16}u + i / 16u];
        let x = lsg * ${ROWS * BC}u + i;
        out[(ob + gr * D + ${dn * 16}u + i % 16u) / 2u] = f32_to_f16(sscr[x] * fac) | (f32_to_f16(sscr[x + 1u] * fac) << 16u);
      }`,
      ),
    ),
  ).join('\n  ')}
}
`;
    },
  };
}
