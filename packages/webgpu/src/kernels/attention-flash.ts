import type { DType } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { ATTENTION_UNIFORMS, keyRangeSnippets } from './attention-key-ranges.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad, wgslOutput, wgslStore } from '../wgsl-dtype.js';

/** Query rows per workgroup (one per invocation) and keys staged per step. */
export const ATTN_ROWS = 64;
const BC = 16;

export interface FlashSpecOptions {
  dtype: DType;
  headDim: number;
  /** Block-sparse: key ranges come from the BlockMask CSR of the workgroup's query block. */
  sparse: boolean;
}

/**
 * Portable flash attention (online softmax, f32 state): one workgroup per (head, 64-row
 * query tile), one query row per invocation, K/V staged as f32 in workgroup memory.
 * Dense: one key range [0, Lk). Sparse: the tile's mask row (h * nQ + tile*64/blockSize)
 * lists the key blocks; the loop runs over exactly those, so skipped blocks cost nothing
 * and an empty row writes 0 with lse -inf. Bindings: q, k, v, [rowPtr, colIdx], out, lse, uniform.
 */
export function flashAttentionSpec(o: FlashSpecOptions): KernelSpec {
  const D = o.headDim;
  return {
    key: `attn-flash/${o.dtype}/d${D}/${o.sparse ? 'sparse' : 'dense'}`,
    wgsl() {
      const ns = o.sparse ? 2 : 0;
      const decl =
        ['q', 'k', 'v'].map((n, i) => wgslInput(n, i) + wgslLoad(n, o.dtype)).join('') +
        (o.sparse ? wgslInput('rowPtr', 3) + wgslInput('colIdx', 4) : '') +
        wgslOutput('out', 3 + ns, o.dtype) + wgslStore('out', o.dtype) +
        `@group(0) @binding(${4 + ns}) var<storage, read_write> lse: array<u32>;\n`;
      const keys = keyRangeSnippets(o.sparse, ATTN_ROWS, 'lid');
      return `${WGSL_CONVERSIONS}${decl}
${ATTENTION_UNIFORMS}
@group(0) @binding(${5 + ns}) var<uniform> u: U;
const D = ${D}u;
var<workgroup> Ks: array<f32, ${BC * D}>;
var<workgroup> Vs: array<f32, ${BC * D}>;
${keys.decls}@compute @workgroup_size(${ATTN_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x;
  let head = u.base + wid.y;
  let row = tile * ${ATTN_ROWS}u + lid;
  let valid = row < u.Lq;
  let qo = u.offQ + (head * u.Lq + row) * D;
  let kv = head * u.Lk * D;
  var qr: array<f32, ${D}>;
  var acc: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) { qr[d] = select(0.0, ld_q(qo + d) * u.scale, valid); }
  var m = NEG_BIG;
  var l = 0.0;
  ${keys.rows}
  for (var bi = 0u; bi < nblk; bi++) {
    ${keys.block}
    for (var kc = k0; kc < k1; kc += ${BC}u) {
      let nk = min(${BC}u, k1 - kc);
      workgroupBarrier();
      for (var e = lid; e < ${BC}u * D; e += ${ATTN_ROWS}u) {
        let inside = e / D < nk;
        let g = kv + kc * D + e;
        Ks[e] = select(0.0, ld_k(u.offK + g), inside);
        Vs[e] = select(0.0, ld_v(u.offV + g), inside);
      }
      workgroupBarrier();
      if (valid) {
        for (var kk = 0u; kk < nk; kk++) {
          var s = 0.0;
          for (var d = 0u; d < D; d++) { s += qr[d] * Ks[kk * D + d]; }
          if (s > m) {
            let c = exp(m - s);
            l *= c;
            for (var d = 0u; d < D; d++) { acc[d] *= c; }
            m = s;
          }
          let p = exp(s - m);
          l += p;
          for (var d = 0u; d < D; d++) { acc[d] += p * Vs[kk * D + d]; }
        }
      }
    }
  }
  if (valid) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    let oo = u.offOut + (head * u.Lq + row) * D;
    for (var d = 0u; d < D; d++) { st_out(oo + d, acc[d] * inv); }
    lse[u.offLse + head * u.Lq + row] = select(NEG_INF_BITS, bitcast<u32>(m + log(l)), l > 0.0);
  }
}
`;
    },
  };
}
