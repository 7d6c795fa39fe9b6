import type { DType } from '@mod-dit/tensor';
import { WGSL_GROUP_INDEX } from '../gpu-queue.js';
import type { KernelSpec } from '../kernel-cache.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad, wgslOutput, wgslStore } from '../wgsl-dtype.js';

export const ROPE_WORKGROUP = 256;

/**
 * cos/sin of every (axis position, channel pair) in float64 on the host, then f32: angles
 * reach ~100 rad, where evaluating theta^(-2j/d) * pos in f32 on the GPU would cost ~1e-5.
 * `freq` holds each pair's frequency (validateRope3d's). Layout per axis a: grid[a] rows of
 * split[a]/2 (cos, sin) pairs, axes back to back.
 */
export function ropeTable(
  grid: readonly [number, number, number],
  split: readonly [number, number, number],
  freq: Float64Array,
): { table: Float32Array; axisBase: [number, number, number] } {
  const half = split.map((s) => s / 2);
  const sizes = [0, 1, 2].map((a) => grid[a] * half[a]);
  const table = new Float32Array(2 * (sizes[0] + sizes[1] + sizes[2]));
  const axisBase: [number, number, number] = [0, sizes[0], sizes[0] + sizes[1]];
  const firstPair = [0, half[0], half[0] + half[1]];
  for (let a = 0; a < 3; a++)
    for (let pos = 0; pos < grid[a]; pos++)
      for (let j = 0; j < half[a]; j++) {
        const angle = pos * freq[firstPair[a] + j];
        const e = 2 * (axisBase[a] + pos * half[a] + j);
        table[e] = Math.cos(angle);
        table[e + 1] = Math.sin(angle);
      }
  return { table, axisBase };
}

/**
 * Rotates interleaved pairs of x [B, L, H, D] (contiguous): one invocation per pair.
 * Bindings: x, table, out, uniform.
 */
export function rope3dSpec(dtype: DType): KernelSpec {
  return {
    key: `rope3d/${dtype}`,
    wgsl: () => `${WGSL_CONVERSIONS}${WGSL_GROUP_INDEX}${wgslInput('x', 0)}${wgslLoad('x', dtype)}${wgslInput('tab', 1)}${wgslOutput('out', 2, dtype)}${wgslStore('out', dtype)}
struct U { n: u32, base: u32, L: u32, H: u32, half: u32, video: u32, gh: u32, gw: u32,
  h0: u32, h1: u32, base0: u32, base1: u32, base2: u32, p1: u32, p2: u32, offX: u32, offOut: u32, offTab: u32 }
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${ROPE_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let li = group_index(wid, nwg) * ${ROPE_WORKGROUP}u + lid;
  if (li >= u.n) { return; }
  let q = u.base + li;
  let p = q % u.half;
  let l = (q / (u.half * u.H)) % u.L;
  let x0 = ld_x(u.offX + 2u * q);
  let x1 = ld_x(u.offX + 2u * q + 1u);
  var c = 1.0;
  var s = 0.0;
  if (l < u.video) {
    var pos = l / (u.gh * u.gw);
    var e = u.base0 + pos * u.h0 + p;
    if (p >= u.p2) { pos = l % u.gw; e = u.base2 + pos * (u.half - u.p2) + (p - u.p2); }
    else if (p >= u.p1) { pos = (l / u.gw) % u.gh; e = u.base1 + pos * u.h1 + (p - u.p1); }
    c = bitcast<f32>(tab[u.offTab + 2u * e]);
    s = bitcast<f32>(tab[u.offTab + 2u * e + 1u]);
  }
  st_out(u.offOut + 2u * q, x0 * c - x1 * s);
  st_out(u.offOut + 2u * q + 1u, x0 * s + x1 * c);
}
`,
  };
}
