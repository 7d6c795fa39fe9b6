/**
 * Staging f16 operands through workgroup memory for the subgroup-matrix kernels.
 *
 * Loads from storage go through `array<vec4<u32>>` (16-byte loads); subgroup-matrix loads
 * from storage were several times slower on NVIDIA (docs/benchmarks.md). Fragments then load
 * from an `array<f16>` in workgroup memory, which must be 16-byte aligned. NVIDIA's Vulkan
 * driver does not keep WGSL's declaration order for workgroup variables, so a lone u32
 * placed before an f16 array leaves it 4-byte aligned and fragment loads from it read
 * garbage (seen on the H100 once Dawn's robustness was off): every workgroup variable of
 * these kernels is a multiple of 16 bytes, scalars included (`array<u32, 4>`).
 */

/** WGSL statements writing the 8 f16 of the vec4<u32> `w` to `arr[at .. at + 8)`. */
export function storeHalves8(arr: string, at: string, w = 'w'): string {
  return [0, 1, 2, 3].map((x) => `{ let h = bitcast<vec2<f16>>(${w}[${x}]); ${arr}[${at} + ${2 * x}u] = h.x; ${arr}[${at} + ${2 * x + 1}u] = h.y; }`).join(' ');
}

/** Row stride (f16) of staged key rows of head_dim `headDim`: 16-byte aligned rows, spread over the banks. */
export function stagedRowStride(headDim: number): number {
  return headDim + 8;
}

/** One storage array whose `rows` key rows a {@link keyRowStaging} moves. */
export interface StagedSource {
  /** The storage array (`array<vec4<u32>>`) and the element offset of its head. */
  src: string;
  base: string;
  /** First destination row in the workgroup array. */
  row0: number;
  /** Name prefix of the invocation's registers. */
  reg: string;
}

/**
 * WGSL moving `rows` consecutive key rows (head_dim `headDim`, from key `kc`) of each source
 * into the f16 workgroup array `dst` (row stride stagedRowStride): invocation `lid` of
 * `threads` moves the 16-byte pieces lid + x * threads through its registers. `decls` declares
 * them (once, before the key loop), `loads(kc)` fills them, `stores` writes them; keeping the
 * two apart lets a kernel load the next step's rows while it computes on the current ones.
 * Keys past Lk repeat the last key (`u.Lk`, `D` in scope).
 */
export function keyRowStaging(o: { threads: number; rows: number; headDim: number; dst: string; sources: readonly StagedSource[] }): {
  decls: string;
  loads: (kc: string) => string;
  stores: string;
} {
  const { threads: T, headDim: D } = o;
  const n = (o.rows * D) / 8;
  const X = [...Array(Math.ceil(n / T)).keys()];
  // pieces that may run past the tiles are guarded
  const guard = (x: number, body: string) => (x * T + T > n ? `if (lid + ${x * T}u < ${n}u) { ${body} }` : `{ ${body} }`);
  const KS = stagedRowStride(D);
  return {
    decls: X.map(
      (x) => `let r${x} = (lid + ${x * T}u) / ${D / 8}u; let dv${x} = (lid + ${x * T}u) % ${D / 8}u * 8u; ${o.sources.map((s) => `var ${s.reg}${x} = vec4<u32>();`).join(' ')}`,
    ).join('\n  '),
    loads: (kc) =>
      X.map((x) => guard(x, `let key = min(${kc} + r${x}, u.Lk - 1u); ${o.sources.map((s) => `${s.reg}${x} = ${s.src}[(${s.base} + key * D + dv${x}) / 8u];`).join(' ')}`)).join('\n    '),
    stores: X.map((x) => guard(x, o.sources.map((s) => storeHalves8(o.dst, `${s.row0 ? `(${s.row0}u + r${x})` : `r${x}`} * ${KS}u + dv${x}`, `${s.reg}${x}`)).join('\n      '))).join('\n    '),
  };
}
