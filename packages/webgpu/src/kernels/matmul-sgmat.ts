import type { DType, MatmulActivation } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { type FragmentMode, fragmentOps } from './fragments.js';
import { MATMUL_UNIFORMS, matmulPrologue } from './matmul-batch.js';
import { WGSL_ACTIVATIONS } from './strided-map.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad } from '../wgsl-dtype.js';

/** Tiling of the subgroup-matrix GEMM. */
export interface SgMatmulConfig {
  /** Subgroups (of 32) per workgroup, as rows x cols of the output tile. */
  grid: readonly [number, number];
  /** 16x16 fragments per subgroup, as rows x cols. */
  frags: readonly [number, number];
  /**
   * Stage A and B through workgroup memory, 32 of K at a time with 16-byte vector loads,
   * shared by the workgroup's subgroups; otherwise each subgroup loads its fragments from
   * storage (reuse only through the caches).
   */
  stage: boolean;
}

/**
 * Default tiling where the device has subgroup matrices: the fastest or within 8% of it on
 * each GEMM of the H100 benchmark (48-57 TFLOP/s, 2026-11-27, tools/bench/webgpu_run.sh).
 */
export const SG_MATMUL_DEFAULT: SgMatmulConfig = { grid: [2, 2], frags: [4, 4], stage: true };

/** Configurations the benchmark compares (the first one is the earlier single-subgroup kernel). */
export const SG_MATMUL_CONFIGS: readonly SgMatmulConfig[] = [
  { grid: [1, 1], frags: [4, 4], stage: false },
  { grid: [2, 2], frags: [2, 4], stage: false },
  { grid: [2, 2], frags: [4, 2], stage: true },
  SG_MATMUL_DEFAULT,
  { grid: [4, 2], frags: [2, 4], stage: true },
  { grid: [2, 4], frags: [4, 2], stage: true },
  { grid: [2, 2], frags: [2, 2], stage: true },
];

/** Short name, e.g. `2x2sg-4x2f-st`. */
export function sgMatmulName(c: SgMatmulConfig): string {
  return `${c.grid.join('x')}sg-${c.frags.join('x')}f-${c.stage ? 'st' : 'dir'}`;
}

/** Output tile (rows, cols) of one workgroup. */
export function sgMatmulTile(c: SgMatmulConfig): [number, number] {
  return [16 * c.grid[0] * c.frags[0], 16 * c.grid[1] * c.frags[1]];
}

/** K per staging step. */
const BK = 32;
/** Row padding of the staged tiles (f16): keeps rows 16-byte aligned and spreads banks. */
const PAD = 8;

/** Workgroup memory of a configuration in bytes. */
export function sgMatmulWorkgroupBytes(c: SgMatmulConfig, transposeB: boolean): number {
  const [tm, tn] = sgMatmulTile(c);
  const ns = c.grid[0] * c.grid[1];
  const staged = c.stage ? 2 * (tm * (BK + PAD) + (transposeB ? tn * (BK + PAD) : BK * (tn + PAD))) : 0;
  return staged + ns * 1024;
}

export interface MatmulSgSpecOptions {
  transposeB: boolean;
  bias?: DType;
  /** Epilogue activation, applied to the f32 result (bias included) before its one rounding. */
  activation?: MatmulActivation;
  config: SgMatmulConfig;
  fragments: FragmentMode;
}

/**
 * f16 GEMM on subgroup matrices (tensor cores through VK_KHR_cooperative_matrix), f32
 * accumulation: each subgroup of the workgroup's grid accumulates its fm x fn 16x16
 * fragments. K a multiple of 16, M and N >= 16, operand offsets multiples of 8 elements;
 * staged tilings also need N % 8 = 0 when b is [K, N] (the backend checks).
 * Direct loads clamp fragments past the last row/column back inside the matrix; staged
 * loads zero-fill them. Only a fragment's own rows/columns are written, through a
 * per-subgroup 16x16 f32 staging tile, as f16 pairs (N even), bias and activation applied.
 * Same bindings and uniforms as the tiled GEMM.
 */
export function matmulSubgroupMatrixSpec(o: MatmulSgSpecOptions): KernelSpec {
  const { config: c, transposeB: tb } = o;
  const [SR, SC] = c.grid;
  const [fm, fn] = c.frags;
  const [TM, TN] = sgMatmulTile(c);
  const NS = SR * SC;
  const f = fragmentOps(o.fragments);
  return {
    key: `matmul-sgmat/${o.fragments}/tb${tb ? 1 : 0}/bias${o.bias ?? '-'}/act${o.activation ?? '-'}/${sgMatmulName(c)}`,
    wgsl() {
      const nb = o.bias ? 1 : 0;
      // Fully unrolled over fragments, one named variable each: arrays of subgroup matrices
      // indexed in loops end up in local memory on NVIDIA.
      const I = [...Array(fm).keys()];
      const J = [...Array(fn).keys()];
      const lines = (g: (i: number, j: number) => string, sep = '\n  ') => I.flatMap((i) => J.map((j) => g(i, j))).join(sep);
      const SA = BK + PAD;
      const SB = tb ? BK + PAD : TN + PAD;
      // writes the 8 f16 of vec4<u32> `w` to workgroup array `arr` from element `at`
      const put8 = (arr: string, at: string) =>
        [0, 1, 2, 3].map((x) => `{ let h = bitcast<vec2<f16>>(w[${x}]); ${arr}[${at} + ${2 * x}u] = h.x; ${arr}[${at} + ${2 * x + 1}u] = h.y; }`).join(' ');
      const stageLoads = `for (var e = lid; e < ${(TM * BK) / 8}u; e += ${NS * 32}u) {
      let r = e / ${BK / 8}u;
      let kv = (e % ${BK / 8}u) * 8u;
      var w = vec4<u32>();
      if (row0 + r < u.M && k0 + kv < u.K) { w = a[(ao + (row0 + r) * u.K + k0 + kv) / 8u]; }
      ${put8('tiles', `r * ${SA}u + kv`)}
    }
    ${
      tb
        ? `for (var e = lid; e < ${(TN * BK) / 8}u; e += ${NS * 32}u) {
      let n = e / ${BK / 8}u;
      let kv = (e % ${BK / 8}u) * 8u;
      var w = vec4<u32>();
      if (col0 + n < u.N && k0 + kv < u.K) { w = b[(bo + (col0 + n) * u.K + k0 + kv) / 8u]; }
      ${put8('tiles', `${TM * SA}u + n * ${SB}u + kv`)}
    }`
        : `for (var e = lid; e < ${(TN * BK) / 8}u; e += ${NS * 32}u) {
      let kr = e / ${TN / 8}u;
      let nv = (e % ${TN / 8}u) * 8u;
      var w = vec4<u32>();
      if (k0 + kr < u.K && col0 + nv < u.N) { w = b[(bo + (k0 + kr) * u.N + col0 + nv) / 8u]; }
      ${put8('tiles', `${TM * SA}u + kr * ${SB}u + nv`)}
    }`
    }`;
      const stagedStep = [...Array(BK / 16).keys()]
        .map(
          (kk) => `{
      ${I.map((i) => f.load('left', `a${i}`, 'tiles', `(sr * ${fm * 16}u + ${i * 16}u) * ${SA}u + ${kk * 16}u`, false, `${SA}u`)).join('\n      ')}
      ${J.map((j) =>
        tb
          ? f.load('right', `b${j}`, 'tiles', `${TM * SA}u + (sc * ${fn * 16}u + ${j * 16}u) * ${SB}u + ${kk * 16}u`, true, `${SB}u`)
          : f.load('right', `b${j}`, 'tiles', `${TM * SA + kk * 16 * SB}u + sc * ${fn * 16}u + ${j * 16}u`, false, `${SB}u`),
      ).join('\n      ')}
      ${lines((i, j) => f.mma(`acc${i}_${j}`, `a${i}`, `b${j}`), '\n      ')}
    }`,
        )
        .join('\n    ');
      const mainLoop = c.stage
        ? `for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    ${stageLoads}
    workgroupBarrier();
    ${stagedStep}
    workgroupBarrier();
  }`
        : `for (var k = 0u; k < u.K; k += 16u) {
    ${I.map((i) => f.load('left', `a${i}`, 'a', `ao + rm${i} * u.K + k`, false, 'u.K')).join('\n    ')}
    ${J.map((j) => (tb ? f.load('right', `b${j}`, 'b', `bo + cn${j} * u.K + k`, true, 'u.K') : f.load('right', `b${j}`, 'b', `bo + k * u.N + cn${j}`, false, 'u.N'))).join('\n    ')}
    ${lines((i, j) => f.mma(`acc${i}_${j}`, `a${i}`, `b${j}`), '\n    ')}
  }`;
      const operand = c.stage ? 'vec4<u32>' : 'f16';
      return `${f.header()}${WGSL_CONVERSIONS}${o.activation ? WGSL_ACTIVATIONS : ''}
@group(0) @binding(0) var<storage, read> a: array<${operand}>;
@group(0) @binding(1) var<storage, read> b: array<${operand}>;
${o.bias ? wgslInput('bias', 2) + wgslLoad('bias', o.bias) : ''}
@group(0) @binding(${2 + nb}) var<storage, read_write> out: array<u32>;
${MATMUL_UNIFORMS}
@group(0) @binding(${3 + nb}) var<uniform> u: U;
${c.stage ? `// A then B in one array, declared first (offset 0 where variables are laid out in order): fragment loads stay 16-byte aligned\nvar<workgroup> tiles: array<f16, ${TM * SA + (tb ? TN * SB : BK * SB)}>;` : ''}
var<workgroup> stage: array<f32, ${NS * 256}>;
// Writes the 16x16 f32 fragment staged at stage[s..s+256] to out as f16 pairs: rows from rm,
// columns from cn, skipping those below the unclamped origin (they belong to a neighbour).
fn write_fragment(s: u32, lane: u32, oo: u32, rm: u32, rowMin: u32, cn: u32, colMin: u32) {
  let r = lane / 2u;
  let gm = rm + r;
  if (gm < rowMin || gm >= u.M) { return; }
  for (var c = (lane % 2u) * 8u; c < (lane % 2u) * 8u + 8u; c += 2u) {
    let gn = cn + c;
    if (gn >= colMin && gn < u.N) {
      var v0 = stage[s + r * 16u + c];
      var v1 = stage[s + r * 16u + c + 1u];
      ${o.bias ? 'v0 += ld_bias(u.offBias + gn); v1 += ld_bias(u.offBias + gn + 1u);' : ''}
      ${o.activation ? `v0 = ${o.activation}(v0); v1 = ${o.activation}(v1);` : ''}
      out[(oo + gm * u.N + gn) / 2u] = f32_to_f16(v0) | (f32_to_f16(v1) << 16u);
    }
  }
}
@compute @workgroup_size(${NS * 32})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${f.params}) {
  ${f.prologue}
  ${matmulPrologue(TM, TN)}
  let sr = sg / ${SC}u;
  let sc = sg % ${SC}u;
  // fragment origins (direct loads: clamped inside the matrix so no load leaves it)
  ${I.map((i) => `let ur${i} = row0 + sr * ${fm * 16}u + ${16 * i}u; let rm${i} = ${c.stage ? `ur${i}` : `min(ur${i}, u.M - 16u)`};`).join(' ')}
  ${J.map((j) => `let uc${j} = col0 + sc * ${fn * 16}u + ${16 * j}u; let cn${j} = ${c.stage ? `uc${j}` : `min(uc${j}, u.N - 16u)`};`).join(' ')}
  ${lines((i, j) => f.zero(`acc${i}_${j}`))}
  ${mainLoop}
  let oo = u.offOut + z * u.M * u.N;
  ${lines(
    (i, j) => `${f.store('stage', 'sg * 256u', `acc${i}_${j}`, '16u')}
  workgroupBarrier();
  write_fragment(sg * 256u, lane, oo, rm${i}, ur${i}, cn${j}, uc${j});
  workgroupBarrier();`,
  )}
}
`;
    },
  };
}
