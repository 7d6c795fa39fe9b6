import type { DType } from '@mod-dit/tensor';
import { WGSL_GROUP_INDEX } from '../gpu-queue.js';
import type { KernelSpec } from '../kernel-cache.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad, wgslLoadRaw, wgslOutput, wgslStore } from '../wgsl-dtype.js';

/** Highest rank a strided kernel addresses (unpatchify's 8-axis view needs 8). */
export const MAX_RANK = 8;
export const MAP_WORKGROUP = 256;

/** Per-element functions over 0-3 inputs (`copy` moves raw bits; the others compute in f32). */
export type MapOp = 'copy' | 'cast' | 'add' | 'sub' | 'mul' | 'modulate' | 'gatedAdd' | 'gelu' | 'silu';

const EXPR: Record<Exclude<MapOp, 'copy'>, string> = {
  cast: 'ld_in0(a1)',
  add: 'ld_in0(a1) + ld_in1(a2)',
  sub: 'ld_in0(a1) - ld_in1(a2)',
  mul: 'ld_in0(a1) * ld_in1(a2)',
  modulate: 'ld_in0(a1) * (1.0 + ld_in1(a2)) + ld_in2(a3)',
  gatedAdd: 'ld_in0(a1) + ld_in1(a2) * ld_in2(a3)',
  gelu: 'gelu(ld_in0(a1))',
  silu: 'silu(ld_in0(a1))',
};

/** WGSL `gelu` (tanh approximation) and `silu` on f32, shared by the elementwise map and the GEMM epilogues. */
export const WGSL_ACTIVATIONS = /* wgsl */ `
// 0.5 x (1 + tanh u) written as x * sigmoid(2u): no cancellation in 1 + tanh u for x << 0.
// Exponents are clamped so exp stays finite (WGSL may assume finite math).
fn gelu(x: f32) -> f32 {
  let u = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -40.0, 40.0);
  return x / (1.0 + exp(-2.0 * u));
}
fn silu(x: f32) -> f32 { return x / (1.0 + exp(-max(x, -80.0))); }
`;

/**
 * One kernel for every elementwise op and every copy: walks the output's iteration space
 * (row-major over `shape`, up to 8 axes), addresses the output and each input through its
 * own strides (0 on broadcast axes), so views, broadcasting, concat slices and the patchify
 * permutations need no separate shaders. Operand 0 (binding 0) is the output, inputs follow.
 */
export function stridedMapSpec(op: MapOp, out: DType, inputs: readonly DType[]): KernelSpec {
  return {
    key: `map/${op}/${out}/${inputs.join(',')}`,
    wgsl() {
      const n = inputs.length;
      const decl = wgslOutput('out', 0, out) + inputs.map((d, i) => wgslInput(`in${i}`, i + 1)).join('');
      const access = inputs.map((d, i) => (op === 'copy' ? wgslLoadRaw(`in${i}`, d) : wgslLoad(`in${i}`, d))).join('') + wgslStore('out', out);
      const vec4s = 3 + 3 * (n + 1);
      const addrs = Array.from({ length: n + 1 }, (_, k) => `var a${k} = u.v[${3 + 3 * k}u].x;`).join(' ');
      const steps = Array.from({ length: n + 1 }, (_, k) => `a${k} += c * u.v[${4 + 3 * k}u + ax / 4u][ax % 4u];`).join(' ');
      const body = op === 'copy' ? 'put_out(a0, raw_in0(a1));' : `st_out(a0, ${EXPR[op]});`;
      return `${WGSL_CONVERSIONS}${WGSL_ACTIVATIONS}${WGSL_GROUP_INDEX}${decl}
struct U { v: array<vec4<u32>, ${vec4s}> }
@group(0) @binding(${n + 1}) var<uniform> u: U;
${access}
@compute @workgroup_size(${MAP_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let li = group_index(wid, nwg) * ${MAP_WORKGROUP}u + lid;
  if (li >= u.v[0].x) { return; }
  var rem = u.v[0].y + li;
  ${addrs}
  for (var axi = i32(u.v[0].z) - 1; axi >= 0; axi--) {
    let ax = u32(axi);
    let d = u.v[1u + ax / 4u][ax % 4u];
    let c = rem % d;
    rem = rem / d;
    ${steps}
  }
  ${body}
}
`;
    },
  };
}
