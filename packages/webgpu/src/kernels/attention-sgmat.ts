import type { KernelSpec } from '../kernel-cache.js';
import { ATTENTION_UNIFORMS, keyRangeSnippets } from './attention-key-ranges.js';
import { WGSL_CONVERSIONS } from '../wgsl-dtype.js';

/** Keys per step (four 16-key fragments). */
const BC = 64;
/** A row's running max is only raised when a score exceeds it by more than this (p <= e^8 fits f16). */
const RESCALE_SLACK = 8;
/** 16-row query fragments per workgroup by default. */
export const ATTN_SG_ROW_FRAGS = 1;

export interface AttentionSgSpecOptions {
  headDim: number;
  sparse: boolean;
  /** 16-row query fragments per workgroup (more rows reuse each K/V fragment load, at the cost of registers). */
  rowFrags?: number;
  /** k is given transposed, [B, H, D, Lk]: K^T fragments load row-major (coalesced) instead of column-major. */
  keysTransposed?: boolean;
}

/**
 * EXPERIMENTAL (off by default: paths.experimentalSubgroupMatrixAttention). Measured on the
 * H100 through Dawn/Vulkan: LSE and the sparsity map match the reference, the output O does
 * not (rel. error ~1), although the primitives probed at offset 0 pass on their own
 * (tools/bench/webgpu-sgmat-check.mjs). Unverified lead: P is the only operand loaded from an
 * f16 workgroup array at a non-zero offset (the probe script now covers that case). Kept for
 * the next round of debugging; results must come from the portable kernel until it passes.
 *
 * f16 flash attention on subgroup matrices, one subgroup of 32 per workgroup (WGSL requires
 * subgroup-matrix offsets to be workgroup-uniform). The workgroup holds Q (16*RF x D) as
 * left fragments and O as f32 result fragments; per 64-key step S = Q K^T goes through
 * workgroup memory, where 2 invocations per row apply scale and masking, update the running
 * max lazily (only when it grows by > 8) and write P in f16 for O += P V. When a max moves,
 * O is folded into an f32 workgroup accumulator with the rescale factor and restarted at
 * zero (rare after the first step), so result fragments are only ever stored. Key steps never read past Lk:
 * the last step is moved back to end at Lk and its columns already seen are masked. Needs
 * Lq >= 16*RF and Lk >= 64. Same bindings as the portable kernel.
 */
export function attentionSubgroupMatrixSpec(o: AttentionSgSpecOptions): KernelSpec {
  const D = o.headDim;
  const FD = D / 16;
  const RF = o.rowFrags ?? ATTN_SG_ROW_FRAGS;
  const ROWS = 16 * RF;
  return {
    key: `attn-sgmat/d${D}/${o.sparse ? 'sparse' : 'dense'}/rf${RF}/kt${o.keysTransposed ? 1 : 0}`,
    wgsl() {
      const ns = o.sparse ? 2 : 0;
      const keys = keyRangeSnippets(o.sparse, ROWS, 'lane');
      // Fully unrolled over fragments with one named variable each: arrays of subgroup
      // matrices indexed in loops end up in local memory on NVIDIA.
      const R = [...Array(RF).keys()];
      const Dd = [...Array(FD).keys()];
      const F4 = [0, 1, 2, 3];
      const each = <T>(xs: T[], f: (x: T) => string, sep = '\n  ') => xs.map(f).join(sep);
      const qLoads = each(R, (r) => each(Dd, (d) => `let q${r}_${d} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&q, qo + ${r * 16 * D + d * 16}u, false, D);`));
      const oInit = each(R, (r) => each(Dd, (d) => `var o${r}_${d} = subgroup_matrix_result<f32, 16, 16>();`));
      const sCompute = each(
        F4,
        (f) =>
          each(Dd, (d) => {
            const kt = o.keysTransposed
              ? `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&k, kbase + ${d * 16}u * u.Lk + ks + ${f * 16}u, false, u.Lk)`
              : `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&k, kbase + (ks + ${f * 16}u) * D + ${d * 16}u, true, D)`;
            const mm = each(R, (r) => (d === 0 ? `var s${r}_${f} = subgroupMatrixMultiply<f32>(q${r}_0, kt${f}_${d});` : `s${r}_${f} = subgroupMatrixMultiplyAccumulate(q${r}_${d}, kt${f}_${d}, s${r}_${f});`), '\n      ');
            return `let kt${f}_${d} = ${kt};\n      ${mm}`;
          }, '\n      '),
        '\n      ',
      );
      const sStore = each(R, (r) => each(F4, (f) => `subgroupMatrixStore(&Ssh, ${(r * 4 + f) * 256}u, s${r}_${f}, false, 16u);`, '\n      '), '\n      ');
      // Fold the current epoch's O into the workgroup accumulator Osh: Osh = (Osh + O) * alpha
      // per row, then restart O at zero (no subgroup-matrix result is ever loaded back).
      const fold = each(
        R,
        (r) =>
          each(
            Dd,
            (d) => `subgroupMatrixStore(&Ssh, 0u, o${r}_${d}, false, 16u);
          workgroupBarrier();
          fold_tile(${r * 16}u + row, ${d * 16}u, half, alpha[${r}]);
          workgroupBarrier();
          o${r}_${d} = subgroup_matrix_result<f32, 16, 16>();`,
            '\n          ',
          ),
        '\n          ',
      );
      const pv = each(
        F4,
        (f) =>
          `${each(R, (r) => `let p${r}_${f} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&Psh, ${(r * 4 + f) * 256}u, false, 16u);`, '\n      ')}
      ${each(Dd, (d) => `let v${f}_${d} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&v, vbase + (ks + ${f * 16}u) * D + ${d * 16}u, false, D);\n      ${each(R, (r) => `o${r}_${d} = subgroupMatrixMultiplyAccumulate(p${r}_${f}, v${f}_${d}, o${r}_${d});`, '\n      ')}`, '\n      ')}`,
        '\n      ',
      );
      const epilogue = each(
        R,
        (r) => `{
    let lr = l[${r}] + subgroupShuffleXor(l[${r}], 1u);
    let gr = r0 + ${r * 16}u + row;
    let mine = gr >= rowStart && gr < u.Lq;
    let inv = select(0.0, 1.0 / lr, lr > 0.0);
    ${each(Dd, (d) => `subgroupMatrixStore(&Ssh, 0u, o${r}_${d}, false, 16u);
    workgroupBarrier();
    if (mine) { write_out(u.offOut + (head * u.Lq + gr) * D + ${d * 16}u + half * 8u, ${r * 16}u + row, ${d * 16}u, row, half, inv); }
    workgroupBarrier();`, '\n    ')}
    if (mine && half == 0u) { lse[u.offLse + head * u.Lq + gr] = select(NEG_INF_BITS, bitcast<u32>(m[${r}] + log(lr)), lr > 0.0); }
  }`,
      );
      return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
${WGSL_CONVERSIONS}
@group(0) @binding(0) var<storage, read> q: array<f16>;
@group(0) @binding(1) var<storage, read> k: array<f16>;
@group(0) @binding(2) var<storage, read> v: array<f16>;
${o.sparse ? '@group(0) @binding(3) var<storage, read> rowPtr: array<u32>;\n@group(0) @binding(4) var<storage, read> colIdx: array<u32>;' : ''}
@group(0) @binding(${3 + ns}) var<storage, read_write> out: array<u32>;
@group(0) @binding(${4 + ns}) var<storage, read_write> lse: array<u32>;
${ATTENTION_UNIFORMS}
@group(0) @binding(${5 + ns}) var<uniform> u: U;
const D = ${D}u;
var<workgroup> Ssh: array<f32, ${ROWS * BC}>;
var<workgroup> Psh: array<f16, ${ROWS * BC}>;
${keys.decls}var<workgroup> flagA: atomic<u32>;
var<workgroup> flag: u32;
var<workgroup> Osh: array<f32, ${ROWS * D}>;
// S and P are kept as separate 16x16 tiles (stride 16), one per (row fragment, 16-key
// column): each subgroup-matrix access then lies inside [offset, offset + 16 * 16), which
// robustness checks require (a 16-row access with a 64-element stride at a column offset
// would count as out of bounds of the array).
fn tile_index(r: u32, row: u32, c: u32) -> u32 { return (r * 4u + c / 16u) * 256u + row * 16u + c % 16u; }
// Osh[orow, ocol..] = (Osh + tile row) * a for this invocation's 8 columns of the staged 16x16 tile.
fn fold_tile(orow: u32, ocol: u32, half: u32, a: f32) {
  let tr = orow % 16u;
  for (var c = half * 8u; c < half * 8u + 8u; c++) {
    let i = orow * D + ocol + c;
    Osh[i] = (Osh[i] + Ssh[tr * 16u + c]) * a;
  }
}
// Writes 8 output columns: (Osh + staged tile) * inv, as f16 pairs.
fn write_out(o: u32, orow: u32, ocol: u32, row: u32, half: u32, inv: f32) {
  for (var c = 0u; c < 8u; c += 2u) {
    let i = orow * D + ocol + half * 8u + c;
    let x0 = (Osh[i] + Ssh[row * 16u + half * 8u + c]) * inv;
    let x1 = (Osh[i + 1u] + Ssh[row * 16u + half * 8u + c + 1u]) * inv;
    out[(o + c) / 2u] = f32_to_f16(x0) | (f32_to_f16(x1) << 16u);
  }
}
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let tile = wid.x;
  let head = u.base + wid.y;
  let rowStart = tile * ${ROWS}u;
  let r0 = min(rowStart, u.Lq - ${ROWS}u);
  let qo = u.offQ + (head * u.Lq + r0) * D;
  let kbase = u.offK + head * u.Lk * D;
  let vbase = u.offV + head * u.Lk * D;
  ${qLoads}
  ${oInit}
  // two invocations per row of each 16-row fragment, each owning 32 of the 64 columns of a step
  let row = lane / 2u;
  let half = lane % 2u;
  var m: array<f32, ${RF}>;
  var l: array<f32, ${RF}>;
  var alpha: array<f32, ${RF}>;
  for (var r = 0u; r < ${RF}u; r++) { m[r] = NEG_BIG; }
  ${keys.rows}
  for (var bi = 0u; bi < nblk; bi++) {
    ${keys.block}
    for (var kc = k0; kc < k1; kc += ${BC}u) {
      let ks = min(kc, u.Lk - ${BC}u);
      ${sCompute}
      ${sStore}
      workgroupBarrier();
      for (var r = 0u; r < ${RF}u; r++) {
        var mx = NEG_BIG;
        for (var c = half * 32u; c < half * 32u + 32u; c++) {
          let key = ks + c;
          let si = tile_index(r, row, c);
          var s = Ssh[si] * u.scale;
          if (key < kc || key >= k1) { s = NEG_BIG; }
          Ssh[si] = s;
          mx = max(mx, s);
        }
        mx = max(mx, subgroupShuffleXor(mx, 1u));
        alpha[r] = 1.0;
        if (mx > m[r] + ${RESCALE_SLACK}.0) {
          alpha[r] = exp(m[r] - mx);
          m[r] = mx;
          atomicOr(&flagA, 1u);
        }
        var ls = l[r] * alpha[r];
        for (var c = half * 32u; c < half * 32u + 32u; c++) {
          let si = tile_index(r, row, c);
          let p = exp(Ssh[si] - m[r]);
          ls += p;
          Psh[si] = f16(p);
        }
        l[r] = ls;
      }
      workgroupBarrier();
      if (lane == 0u) { flag = atomicExchange(&flagA, 0u); }
      if (workgroupUniformLoad(&flag) != 0u) {
          ${fold}
      }
      ${pv}
      workgroupBarrier();
    }
  }
  ${epilogue}
}
`;
    },
  };
}
