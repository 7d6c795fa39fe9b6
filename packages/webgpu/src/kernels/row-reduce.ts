import type { DType } from '@mod-dit/tensor';
import type { KernelSpec } from '../kernel-cache.js';
import { WGSL_CONVERSIONS, wgslInput, wgslLoad, wgslOutput, wgslStore } from '../wgsl-dtype.js';

export const ROW_WORKGROUP = 256;

/** Row-wise reductions over the last dim: one workgroup per row, f32 tree reductions. */
export type RowOp = 'layerNorm' | 'rmsNorm' | 'softmax';

export interface RowSpecOptions {
  op: RowOp;
  dtype: DType;
  /** dtype of the affine weight / bias when present. */
  weight?: DType;
  bias?: DType;
}

/** WGSL tree reduction of one f32 per invocation over the workgroup (through `red`), combining pairs with `combine`. */
function workgroupReduce(name: string, combine: (a: string, b: string) => string): string {
  return `fn ${name}(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WORKGROUP / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = ${combine('red[lid]', 'red[lid + s]')}; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
}

/**
 * Bindings: x, [weight], [bias], out, uniform { rows, base, C, eps, offX, offOut, offW, offB }.
 * Offsets are window-relative element offsets (see binding-plan.ts).
 */
export function rowReduceSpec(o: RowSpecOptions): KernelSpec {
  return {
    key: `rows/${o.op}/${o.dtype}/w${o.weight ?? '-'}/b${o.bias ?? '-'}`,
    wgsl() {
      const names = ['x', ...(o.weight ? ['w'] : []), ...(o.bias ? ['b'] : [])];
      const dtypes: DType[] = [o.dtype, ...(o.weight ? [o.weight] : []), ...(o.bias ? [o.bias] : [])];
      const decl = names.map((nm, i) => wgslInput(nm, i) + wgslLoad(nm, dtypes[i])).join('') + wgslOutput('out', names.length, o.dtype) + wgslStore('out', o.dtype);
      const affine = `${o.weight ? ' * ld_w(u.offW + c)' : ''}${o.bias ? ' + ld_b(u.offB + c)' : ''}`;
      const passes: Record<RowOp, string> = {
        layerNorm: `
  var s = 0.0;
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { s += ld_x(xo + c); }
  let mean = reduce_sum(s, lid) / f32(C);
  var v = 0.0;
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { let d = ld_x(xo + c) - mean; v += d * d; }
  let inv = inverseSqrt(reduce_sum(v, lid) / f32(C) + u.eps);
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { st_out(oo + c, (ld_x(xo + c) - mean) * inv${affine}); }`,
        rmsNorm: `
  var s = 0.0;
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { let x = ld_x(xo + c); s += x * x; }
  let inv = inverseSqrt(reduce_sum(s, lid) / f32(C) + u.eps);
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { st_out(oo + c, ld_x(xo + c) * inv${affine}); }`,
        softmax: `
  var m = NEG_BIG;
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { m = max(m, ld_x(xo + c)); }
  let rowMax = reduce_max(m, lid);
  var s = 0.0;
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { s += exp(ld_x(xo + c) - rowMax); }
  let inv = 1.0 / reduce_sum(s, lid);
  for (var c = lid; c < C; c += ${ROW_WORKGROUP}u) { st_out(oo + c, exp(ld_x(xo + c) - rowMax) * inv); }`,
      };
      return `${WGSL_CONVERSIONS}${decl}
struct U { rows: u32, base: u32, C: u32, eps: f32, offX: u32, offOut: u32, offW: u32, offB: u32 }
@group(0) @binding(${names.length + 1}) var<uniform> u: U;
var<workgroup> red: array<f32, ${ROW_WORKGROUP}>;
${workgroupReduce('reduce_sum', (a, b) => `${a} + ${b}`)}
${workgroupReduce('reduce_max', (a, b) => `max(${a}, ${b})`)}
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= u.rows) { return; }
  let C = u.C;
  let xo = u.offX + (u.base + row) * C;
  let oo = u.offOut + (u.base + row) * C;
  ${passes[o.op]}
}
`;
    },
  };
}
