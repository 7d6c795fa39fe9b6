import type { DType } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad } from '../wgsl-dtype.js';

/** Query rows handled at once per workgroup (one per invocation) and keys staged per step. */
export const MAP_ROWS = 64;
const BC = 16;

/** Bindings 2-5 of the map passes (after q and k) and their uniform block (filled in WebGPUBackend.attention). */
export const MAP_BINDINGS = `@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> map: array<f32>;
@group(0) @binding(4) var<storage, read> within: array<u32>;
struct U { Lq: u32, Lk: u32, tq: u32, tk: u32, nQ: u32, nK: u32, base: u32, bs: u32, scale: f32, lnTau: f32, offQ: u32, offK: u32, offLse: u32, offMap: u32,
  useWithin: u32, H: u32, wNQ: u32, wWords: u32, nanBits: u32 }
@group(0) @binding(5) var<uniform> u: U;`;

/**
 * The key-block loop both map passes share: for each key block J of the workgroup's query
 * block I (`head`, `I`, `rows` and a workgroup `count: array<atomic<u32>, 4>` in scope), a
 * block outside map.within is written NaN and skipped; otherwise the body counts its entries
 * with p < tau into `n` over keys [k0, k1), and the block's fraction is written.
 */
export function mapBlockLoop(body: string): string {
  return `let wRow = ((head % u.H) * u.wNQ + I) * u.wWords;
  for (var J = 0u; J < u.nK; J++) {
    // uniform per workgroup (read-only storage, workgroup-uniform index): barriers stay legal
    if (u.useWithin == 1u && ((within[wRow + J / 32u] >> (J % 32u)) & 1u) == 0u) {
      if (lid == 0u) { map[u.offMap + (head * u.nQ + I) * u.nK + J] = bitcast<f32>(u.nanBits); }
      continue;
    }
    let k0 = J * u.bs;
    let k1 = min(u.tk, k0 + u.bs);
    var n = 0u;
    ${body}
    atomicAdd(&count[0], n);
    workgroupBarrier();
    if (lid == 0u) {
      map[u.offMap + (head * u.nQ + I) * u.nK + J] = f32(atomicExchange(&count[0], 0u)) / f32(rows * (k1 - k0));
    }
  }`;
}

export interface MapSpecOptions {
  dtype: DType;
  headDim: number;
}

/**
 * Block sparsity map from the final LSE: a second pass over QK^T (no softmax, no P*V), one
 * workgroup per (head, query block I), counting per key block J the scores with
 * s < lse + ln(tau), i.e. p < tau, over the first `tokens` queries and keys. The exact
 * count needs the final LSE, which the attention pass only has at its end; this pass costs
 * about half the FLOPs of the attention. Any block size: rows of a block are taken 64 at a
 * time. With map.within (a bitset) blocks outside it are written NaN and not counted.
 * Bindings: q, k, lse, map, within, uniform.
 */
export function sparsityMapSpec(o: MapSpecOptions): KernelSpec {
  const D = o.headDim;
  return {
    key: `attn-map/${o.dtype}/d${D}`,
    wgsl: () => `${WGSL_CONVERSIONS}${wgslInput('q', 0)}${wgslLoad('q', o.dtype)}${wgslInput('k', 1)}${wgslLoad('k', o.dtype)}
${MAP_BINDINGS}
const D = ${D}u;
var<workgroup> Ks: array<f32, ${BC * D}>;
var<workgroup> count: array<atomic<u32>, 4>;
@compute @workgroup_size(${MAP_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let I = wid.x;
  let head = u.base + wid.y;
  let rows = min(u.bs, u.tq - I * u.bs);
  let kv = u.offK + head * u.Lk * D;
  var qr: array<f32, ${D}>;
  ${mapBlockLoop(`for (var r0 = 0u; r0 < rows; r0 += ${MAP_ROWS}u) {
      let valid = r0 + lid < rows;
      let row = I * u.bs + r0 + lid;
      let qo = u.offQ + (head * u.Lq + row) * D;
      for (var d = 0u; d < D; d++) { qr[d] = select(0.0, ld_q(qo + d) * u.scale, valid); }
      let thr = select(0.0, lse[u.offLse + head * u.Lq + row] + u.lnTau, valid);
      for (var kc = k0; kc < k1; kc += ${BC}u) {
        let nk = min(${BC}u, k1 - kc);
        workgroupBarrier();
        for (var e = lid; e < ${BC}u * D; e += ${MAP_ROWS}u) { Ks[e] = select(0.0, ld_k(kv + kc * D + e), e / D < nk); }
        workgroupBarrier();
        if (valid) {
          for (var kk = 0u; kk < nk; kk++) {
            var s = 0.0;
            for (var d = 0u; d < D; d++) { s += qr[d] * Ks[kk * D + d]; }
            n += select(0u, 1u, s < thr);
          }
        }
      }
    }`)}
}
`,
  };
}
