import type { DType } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { MATMUL_UNIFORMS, matmulPrologue } from './matmul-batch.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad } from '../wgsl-dtype.js';

/** Fragments (rows x cols of 16x16 tiles) per workgroup of one subgroup. */
export const SG_FRAGS: readonly [number, number] = [4, 4];
/** Configurations the benchmark compares. */
export const SG_FRAG_CONFIGS: readonly (readonly [number, number])[] = [[4, 4], [2, 8], [8, 2], [4, 2]];

export interface MatmulSgSpecOptions {
  transposeB: boolean;
  bias?: DType;
  /** Fragments per subgroup; default SG_FRAGS. */
  frags?: readonly [number, number];
}

/**
 * f16 GEMM on subgroup matrices (tensor cores through VK_KHR_cooperative_matrix): one
 * subgroup of 32 per workgroup (WGSL's uniformity analysis requires subgroup-matrix offsets
 * to be workgroup-uniform, so several subgroups could not address their own tiles), each
 * accumulating fm x fn f32 16x16 fragments straight from storage (K a multiple of 16,
 * M and N >= 16). Fragments past the last row/column are
 * clamped back inside the matrix (never read out of bounds) and only their own rows/columns
 * are written. Results go through a per-subgroup 16x16 f32 staging tile to f16 words
 * (N even). Same bindings and uniforms as the tiled GEMM.
 */
export function matmulSubgroupMatrixSpec(o: MatmulSgSpecOptions): KernelSpec {
  const [fm, fn] = o.frags ?? SG_FRAGS;
  const tm = 16 * fm;
  const tn = 16 * fn;
  return {
    key: `matmul-sgmat/tb${o.transposeB ? 1 : 0}/bias${o.bias ?? '-'}/${fm}x${fn}`,
    wgsl() {
      const nb = o.bias ? 1 : 0;
      // Fully unrolled over fragments, one named variable each: arrays of subgroup matrices
      // indexed in loops end up in local memory on NVIDIA.
      const I = [...Array(fm).keys()];
      const J = [...Array(fn).keys()];
      const bLoad = (j: number) =>
        o.transposeB
          ? `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&b, bo + cn${j} * u.K + k, true, u.K)`
          : `subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&b, bo + k * u.N + cn${j}, false, u.N)`;
      const lines = (f: (i: number, j: number) => string) => I.flatMap((i) => J.map((j) => f(i, j))).join('\n  ');
      return `enable f16;
enable chromium_experimental_subgroup_matrix;
${WGSL_CONVERSIONS}
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
${o.bias ? wgslInput('bias', 2) + wgslLoad('bias', o.bias) : ''}
@group(0) @binding(${2 + nb}) var<storage, read_write> out: array<u32>;
${MATMUL_UNIFORMS}
@group(0) @binding(${3 + nb}) var<uniform> u: U;
var<workgroup> stage: array<f32, 256>;
// Writes one 16x16 f32 fragment staged at stage[] to out as f16 pairs: rows from rm, columns
// from cn, skipping those below the unclamped origin (they belong to a neighbour).
fn write_fragment(lane: u32, oo: u32, rm: u32, rowMin: u32, cn: u32, colMin: u32) {
  let r = lane / 2u;
  let gm = rm + r;
  if (gm < rowMin || gm >= u.M) { return; }
  for (var c = (lane % 2u) * 8u; c < (lane % 2u) * 8u + 8u; c += 2u) {
    let gn = cn + c;
    if (gn >= colMin && gn < u.N) {
      var v0 = stage[r * 16u + c];
      var v1 = stage[r * 16u + c + 1u];
      ${o.bias ? 'v0 += ld_bias(u.offBias + gn); v1 += ld_bias(u.offBias + gn + 1u);' : ''}
      out[(oo + gm * u.N + gn) / 2u] = f32_to_f16(v0) | (f32_to_f16(v1) << 16u);
    }
  }
}
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  ${matmulPrologue(tm, tn)}
  // fragment origins, clamped inside the matrix so no load leaves it
  ${I.map((i) => `let rm${i} = min(row0 + ${16 * i}u, u.M - 16u);`).join(' ')}
  ${J.map((j) => `let cn${j} = min(col0 + ${16 * j}u, u.N - 16u);`).join(' ')}
  ${lines((i, j) => `var acc${i}_${j} = subgroup_matrix_result<f32, 16, 16>();`)}
  for (var k = 0u; k < u.K; k += 16u) {
    ${I.map((i) => `let a${i} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&a, ao + rm${i} * u.K + k, false, u.K);`).join('\n    ')}
    ${J.map((j) => `let b${j} = ${bLoad(j)};`).join('\n    ')}
    ${lines((i, j) => `acc${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${i}_${j});`)}
  }
  let oo = u.offOut + z * u.M * u.N;
  ${lines(
    (i, j) => `subgroupMatrixStore(&stage, 0u, acc${i}_${j}, false, 16u);
  workgroupBarrier();
  write_fragment(lane, oo, rm${i}, row0 + ${16 * i}u, cn${j}, col0 + ${16 * j}u);
  workgroupBarrier();`,
  )}
}
`;
    },
  };
}
