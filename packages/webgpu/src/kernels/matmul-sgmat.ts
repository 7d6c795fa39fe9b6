import type { DType, MatmulActivation } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { type FragmentMode, fragmentOps } from './fragments.js';
import { MATMUL_UNIFORMS, matmulPrologue } from './matmul-batch.js';
import { WGSL_ACTIVATIONS } from './strided-map.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad } from '../wgsl-dtype.js';
import { storeHalves8 } from './staging.js';

/** Tiling of the subgroup-matrix GEMM. */
export interface SgMatmulConfig {
  /** Subgroups (of 32) per workgroup, as rows x cols of the output tile. */
  grid: readonly [number, number];
  /** 16x16 fragments per subgroup, as rows x cols. */
  frags: readonly [number, number];
  /**
   * How operand fragments reach the subgroups: `direct`, loaded from storage by each subgroup
   * (reuse only through the caches); `staged`, through workgroup memory 32 of K at a time
   * (16-byte loads from storage), shared by the workgroup's subgroups.
   */
  operands: 'direct' | 'staged';
  /**
   * Staged only (default true): the next 32 of K are loaded into registers before the current
   * ones are multiplied and stored to workgroup memory after; false loads, stores and
   * multiplies each step in turn.
   */
  prefetch?: boolean;
}

/**
 * Default tiling where the device has subgroup matrices: 16 subgroups on 128 x 256 output
 * tiles with prefetch, the fastest or within 5% of it on the Wan GEMMs with Dawn's robustness
 * off and on (H100, 2026-11-27; docs/benchmarks.md).
 */
export const SG_MATMUL_DEFAULT: SgMatmulConfig = { grid: [4, 4], frags: [2, 4], operands: 'staged' };

/**
 * Tilings for devices whose workgroup memory or invocations the configured one exceeds (the
 * default needs ~62 KB; WebGPU guarantees 16 KiB, many adapters give 32): the first that fits
 * is taken, else the tiled kernel runs. 2 x 2 subgroups on 64 x 64 tiles (14 KB; not yet timed
 * on a GPU), then the single-subgroup kernel with fragments from storage (1 KB; 50-58 TFLOP/s
 * on the H100).
 */
export const SG_MATMUL_SMALL: readonly SgMatmulConfig[] = [
  { grid: [2, 2], frags: [2, 2], operands: 'staged' },
  { grid: [1, 1], frags: [4, 4], operands: 'direct' },
];

/** Configurations the device check and the benchmark compare. */
export const SG_MATMUL_CONFIGS: readonly SgMatmulConfig[] = [
  SG_MATMUL_DEFAULT,
  ...SG_MATMUL_SMALL,
  { grid: [2, 2], frags: [4, 4], operands: 'staged', prefetch: false },
  { grid: [2, 2], frags: [4, 4], operands: 'staged' },
  { grid: [2, 4], frags: [4, 4], operands: 'staged' },
  { grid: [4, 4], frags: [4, 2], operands: 'staged' },
  { grid: [4, 4], frags: [2, 2], operands: 'staged' },
];

/** Short name, e.g. `4x4sg-2x4f-st` (`-st-sync`: staged without prefetch). */
export function sgMatmulName(c: SgMatmulConfig): string {
  const operands = c.operands === 'direct' ? 'dir' : c.prefetch === false ? 'st-sync' : 'st';
  return `${c.grid.join('x')}sg-${c.frags.join('x')}f-${operands}`;
}

/** Output tile (rows, cols) of one workgroup. */
export function sgMatmulTile(c: SgMatmulConfig): [number, number] {
  return [16 * c.grid[0] * c.frags[0], 16 * c.grid[1] * c.frags[1]];
}

/** K per staging step. */
const BK = 32;
/** Row padding of the staged tiles (f16): keeps rows 16-byte aligned and spreads banks. */
const PAD = 8;

/** f16 elements of one staged A + B tile. */
function tileElements(c: SgMatmulConfig, transposeB: boolean): number {
  const [tm, tn] = sgMatmulTile(c);
  return tm * (BK + PAD) + (transposeB ? tn * (BK + PAD) : BK * (tn + PAD));
}

/** Workgroup memory of a configuration in bytes. */
export function sgMatmulWorkgroupBytes(c: SgMatmulConfig, transposeB: boolean): number {
  return (c.operands === 'staged' ? 2 * tileElements(c, transposeB) : 0) + c.grid[0] * c.grid[1] * 1024;
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
 * fragments. K a multiple of 16, M and N >= 16, operand offsets multiples of 8 elements,
 * and N % 8 = 0 when b is [K, N] (16-byte rows; the backend checks).
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
  const staged = c.operands === 'staged';
  return {
    key: `matmul-sgmat/${o.fragments}/tb${tb ? 1 : 0}/bias${o.bias ?? '-'}/act${o.activation ?? '-'}/${sgMatmulName(c)}`,
    wgsl() {
      const nb = o.bias ? 1 : 0;
      // Fully unrolled over fragments, one named variable each: arrays of subgroup matrices
      // indexed in loops end up in local memory on NVIDIA.
      const I = [...Array(fm).keys()];
      const J = [...Array(fn).keys()];
      const each = <X>(xs: X[], g: (x: X) => string, sep = '\n    ') => xs.map(g).join(sep);
      const products = (sep: string) => I.flatMap((i) => J.map((j) => f.mma(`acc${i}_${j}`, `a${i}`, `b${j}`))).join(sep);
      const SA = BK + PAD;
      const SB = tb ? BK + PAD : TN + PAD;
      const BOFF = TM * SA; // B's region in a staged tile
      return `${f.header()}${WGSL_CONVERSIONS}${o.activation ? WGSL_ACTIVATIONS : ''}
@group(0) @binding(0) var<storage, read> a: array<${staged ? 'vec4<u32>' : 'f16'}>;
@group(0) @binding(1) var<storage, read> b: array<${staged ? 'vec4<u32>' : 'f16'}>;
${o.bias ? wgslInput('bias', 2) + wgslLoad('bias', o.bias) : ''}
@group(0) @binding(${2 + nb}) var<storage, read_write> out: array<u32>;
${MATMUL_UNIFORMS}
@group(0) @binding(${3 + nb}) var<uniform> u: U;
${staged ? `// A then B of each staged tile (16-byte multiples: kernels/staging.ts)\nvar<workgroup> tiles: array<f16, ${tileElements(c, tb)}>;` : ''}
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
  ${I.map((i) => `let ur${i} = row0 + sr * ${fm * 16}u + ${16 * i}u; let rm${i} = ${staged ? `ur${i}` : `min(ur${i}, u.M - 16u)`};`).join(' ')}
  ${J.map((j) => `let uc${j} = col0 + sc * ${fn * 16}u + ${16 * j}u; let cn${j} = ${staged ? `uc${j}` : `min(uc${j}, u.N - 16u)`};`).join(' ')}
  ${I.flatMap((i) => J.map((j) => f.zero(`acc${i}_${j}`))).join('\n  ')}
  ${staged ? stagedLoop() : directLoop()}
  let oo = u.offOut + z * u.M * u.N;
  ${I.flatMap((i) =>
    J.map(
      (j) => `${f.store('stage', 'sg * 256u', `acc${i}_${j}`, '16u')}
  workgroupBarrier();
  write_fragment(sg * 256u, lane, oo, rm${i}, ur${i}, cn${j}, uc${j});
  workgroupBarrier();`,
    ),
  ).join('\n  ')}
}
`;

      function directLoop(): string {
        return `for (var k = 0u; k < u.K; k += 16u) {
    ${each(I, (i) => f.load('left', `a${i}`, 'a', `ao + rm${i} * u.K + k`, false, 'u.K'))}
    ${each(J, (j) => (tb ? f.load('right', `b${j}`, 'b', `bo + cn${j} * u.K + k`, true, 'u.K') : f.load('right', `b${j}`, 'b', `bo + k * u.N + cn${j}`, false, 'u.N')))}
    ${products('\n    ')}
  }`;
      }

      function stagedLoop(): string {
        // the tile's 16-byte pieces: invocation lid moves piece lid + x * T of A (through wa<x>)
        // and of B (wb<x>); `inTile` guards pieces that may run past the tile, loads outside the
        // matrix give zeros
        const T = NS * 32;
        interface Piece {
          w: string;
          /** Where lid + x * T may run past the tile: the condition that it does not. */
          inTile: string | undefined;
          /** Element offset in the staged tile. */
          tile: string;
          /** Statements loading the piece at K offset `k0` into `w`. */
          load: (k0: string) => string;
        }
        const [nA, nB] = [(TM * BK) / 8, (TN * BK) / 8];
        const kv = BK / 8;
        const piece = (w: string, x: number, n: number, at: (e: string, k0: string) => { decl: string; inside: string; src: string }, tile: (e: string) => string): Piece => {
          const e = `(lid + ${x * T}u)`;
          const inTile = x * T + T > n ? `${e} < ${n}u` : undefined;
          return {
            w,
            inTile,
            tile: tile(e),
            load: (k0) => {
              const g = at(e, k0);
              return `${g.decl}
    var ${w} = vec4<u32>();
    if (${inTile ? `${inTile} && ` : ''}${g.inside}) { ${w} = ${g.src}; }`;
            },
          };
        };
        const pieces: Piece[] = [];
        for (let x = 0; x * T < nA; x++)
          pieces.push(
            piece(`wa${x}`, x, nA, (e, k0) => ({
              decl: `let ra${x} = row0 + ${e} / ${kv}u; let ka${x} = ${k0} + ${e} % ${kv}u * 8u;`,
              inside: `ra${x} < u.M && ka${x} < u.K`,
              src: `a[(ao + ra${x} * u.K + ka${x}) / 8u]`,
            }), (e) => `${e} / ${kv}u * ${SA}u + ${e} % ${kv}u * 8u`),
          );
        for (let x = 0; x * T < nB; x++)
          pieces.push(
            tb
              ? piece(`wb${x}`, x, nB, (e, k0) => ({
                  decl: `let nb${x} = col0 + ${e} / ${kv}u; let kb${x} = ${k0} + ${e} % ${kv}u * 8u;`,
                  inside: `nb${x} < u.N && kb${x} < u.K`,
                  src: `b[(bo + nb${x} * u.K + kb${x}) / 8u]`,
                }), (e) => `${BOFF}u + ${e} / ${kv}u * ${SB}u + ${e} % ${kv}u * 8u`)
              : piece(`wb${x}`, x, nB, (e, k0) => ({
                  decl: `let kb${x} = ${k0} + ${e} / ${TN / 8}u; let nb${x} = col0 + ${e} % ${TN / 8}u * 8u;`,
                  inside: `kb${x} < u.K && nb${x} < u.N`,
                  src: `b[(bo + kb${x} * u.N + nb${x}) / 8u]`,
                }), (e) => `${BOFF}u + ${e} / ${TN / 8}u * ${SB}u + ${e} % ${TN / 8}u * 8u`),
          );
        const loads = (k0: string) => pieces.map((p) => p.load(k0)).join('\n    ');
        const stores = () =>
          pieces
            .map((p) => {
              const st = storeHalves8('tiles', p.tile, p.w);
              return p.inTile ? `if (${p.inTile}) { ${st} }` : st;
            })
            .join('\n    ');
        const step = () =>
          [...Array(BK / 16).keys()]
            .map(
              (kk) => `{
      ${each(I, (i) => f.load('left', `a${i}`, 'tiles', `(sr * ${fm * 16}u + ${i * 16}u) * ${SA}u + ${kk * 16}u`, false, `${SA}u`), '\n      ')}
      ${each(J, (j) =>
        tb
          ? f.load('right', `b${j}`, 'tiles', `${BOFF}u + (sc * ${fn * 16}u + ${j * 16}u) * ${SB}u + ${kk * 16}u`, true, `${SB}u`)
          : f.load('right', `b${j}`, 'tiles', `${BOFF + kk * 16 * SB}u + sc * ${fn * 16}u + ${j * 16}u`, false, `${SB}u`),
      '\n      ')}
      ${products('\n      ')}
    }`,
            )
            .join('\n    ');
        if (c.prefetch === false)
          return `for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    ${loads('k0')}
    ${stores()}
    workgroupBarrier();
    ${step()}
    workgroupBarrier();
  }`;
        // the next tile's pieces are loaded (zero past K) before this tile's products
        return `{
    ${loads('0u')}
    ${stores()}
  }
  workgroupBarrier();
  for (var k0 = 0u; k0 < u.K; k0 += ${BK}u) {
    ${loads(`(k0 + ${BK}u)`)}
    ${step()}
    workgroupBarrier();
    ${stores()}
    workgroupBarrier();
  }`;
      }
    },
  };
}
