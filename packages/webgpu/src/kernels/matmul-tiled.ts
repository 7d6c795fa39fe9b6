import type { DType, MatmulActivation } from '@mod-dit/tensor';
import { WGSL_GROUP_INDEX } from '../gpu-queue.js';
import type { KernelSpec } from '../kernel-cache.js';
import { MATMUL_UNIFORMS, matmulPrologue } from './matmul-batch.js';
import { WGSL_ACTIVATIONS } from './strided-map.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad, wgslOutput, wgslStore } from '../wgsl-dtype.js';

/** Output tile edge and K step of the SIMT GEMM: 16x16 invocations x 4x4 outputs each. */
export const TILE = 64;
const BK = 16;

export interface MatmulSpecOptions {
  dtype: DType;
  transposeB: boolean;
  bias?: DType;
  /** Epilogue activation, applied to the f32 result (bias included) before its one rounding. */
  activation?: MatmulActivation;
}

/**
 * Portable tiled GEMM (any float dtype, f32 accumulation), a and b staged through workgroup
 * memory as f32. Workgroup t of a chunk covers (batch z, row tile) = divmod(chunkBase + t,
 * rowTiles); grid z is the column tile. Batch offsets come from up to 4 broadcast batch axes.
 * Bindings: a, b, [bias], out, uniform.
 */
export function matmulTiledSpec(o: MatmulSpecOptions): KernelSpec {
  return {
    key: `matmul-tiled/${o.dtype}/tb${o.transposeB ? 1 : 0}/bias${o.bias ?? '-'}/act${o.activation ?? '-'}`,
    wgsl() {
      const nb = o.bias ? 1 : 0;
      const decl =
        wgslInput('a', 0) + wgslLoad('a', o.dtype) + wgslInput('b', 1) + wgslLoad('b', o.dtype) +
        (o.bias ? wgslInput('bias', 2) + wgslLoad('bias', o.bias) : '') +
        wgslOutput('out', 2 + nb, o.dtype) + wgslStore('out', o.dtype);
      const loadB = o.transposeB
        ? `let n = e / ${BK}u; let kk = e % ${BK}u; let gn = col0 + n; let gk = kt + kk;
      Bs[kk * ${TILE}u + n] = select(0.0, ld_b(bo + gn * u.K + gk), gn < u.N && gk < u.K);`
        : `let kk = e / ${TILE}u; let n = e % ${TILE}u; let gn = col0 + n; let gk = kt + kk;
      Bs[kk * ${TILE}u + n] = select(0.0, ld_b(bo + gk * u.N + gn), gn < u.N && gk < u.K);`;
      return `${WGSL_CONVERSIONS}${o.activation ? WGSL_ACTIVATIONS : ''}${WGSL_GROUP_INDEX}${decl}
${MATMUL_UNIFORMS}
@group(0) @binding(${3 + nb}) var<uniform> u: U;
var<workgroup> As: array<f32, ${BK * TILE}>;
var<workgroup> Bs: array<f32, ${BK * TILE}>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${matmulPrologue(TILE, TILE)}
  var acc: array<array<f32, 4>, 4>;
  for (var kt = 0u; kt < u.K; kt += ${BK}u) {
    for (var i = 0u; i < 4u; i++) {
      let e = lid + i * 256u;
      let m = e / ${BK}u; let kk = e % ${BK}u; let gm = row0 + m; let gk = kt + kk;
      As[kk * ${TILE}u + m] = select(0.0, ld_a(ao + gm * u.K + gk), gm < u.M && gk < u.K);
    }
    for (var i = 0u; i < 4u; i++) {
      let e = lid + i * 256u;
      ${loadB}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { av[i] = As[kk * ${TILE}u + lid3.y * 4u + i]; bv[i] = Bs[kk * ${TILE}u + lid3.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] += av[i] * bv[j]; } }
    }
    workgroupBarrier();
  }
  let oo = u.offOut + z * u.M * u.N;
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + lid3.y * 4u + i;
    if (gm >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid3.x * 4u + j;
      if (gn >= u.N) { continue; }
      let v = acc[i][j]${o.bias ? ' + ld_bias(u.offBias + gn)' : ''};
      st_out(oo + gm * u.N + gn, ${o.activation ? `${o.activation}(v)` : 'v'});
    }
  }
}
`;
    },
  };
}
