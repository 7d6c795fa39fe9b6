/**
 * WGSL for 16x16 matrix fragments (f16 x f16 -> f32), the building blocks of the
 * subgroup-matrix kernels, in two forms with the same semantics:
 * - `native`: chromium_experimental_subgroup_matrix (tensor cores through
 *   VK_KHR_cooperative_matrix on NVIDIA). The subgroup index is @builtin(subgroup_id).
 * - `emulated`: every group of 32 invocations (local index / 32) plays one subgroup; lane l
 *   holds elements l*8 .. l*8+7 of a row-major result fragment, and whole private copies of
 *   left/right operands (no exchange between lanes, hence no barriers, which lavapipe's
 *   compiler handles slowly). Slow; it exists so that the kernels' logic (tiling, clamping,
 *   softmax, sparse loops) runs on devices without the extension, such as lavapipe in CI.
 *   Kernels may pair lanes 2i and 2i+1 with subgroupShuffleXor: both forms need 'subgroups'.
 *
 * Memory operands are WGSL array names (storage or workgroup, f16 for left/right operands,
 * f32 for stores); offsets and strides are in elements. Kernels keep every offset and every
 * row stride a multiple of 16 bytes (8 f16 / 4 f32), which NVIDIA's cooperative loads and
 * stores need in practice (padded workgroup tiles use strides such as 40 or 136 f16 to spread
 * banks), and the arrays they address 16-byte aligned (kernels/staging.ts).
 */
export type FragmentMode = 'native' | 'emulated';

export interface FragmentOps {
  readonly mode: FragmentMode;
  /** Module-scope WGSL: enables, diagnostics, helpers. */
  header(): string;
  /** Entry-point parameters the operations need (appended after the kernel's own). */
  readonly params: string;
  /** Statement(s) defining `sg` (subgroup index) and `lane` (0..31). */
  readonly prologue: string;
  /** Declares result fragment `name` = 0. */
  zero(name: string): string;
  /** Declares left/right operand `name` loaded from `arr[off + r*stride + c]` (row-major) or `arr[off + c*stride + r]` (column-major). */
  load(kind: 'left' | 'right', name: string, arr: string, off: string, colMajor: boolean, stride: string): string;
  /** Reloads existing result fragment `name` from the f32 array `arr` (row-major, as `store` wrote it). */
  loadAcc(name: string, arr: string, off: string, stride: string): string;
  /** acc += a * b. */
  mma(acc: string, a: string, b: string): string;
  /** Stores result fragment `acc` row-major to the f32 array `arr` at `off` with row stride `stride`. */
  store(arr: string, off: string, acc: string, stride: string): string;
}

const native: FragmentOps = {
  mode: 'native',
  header: () => `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// fragment offsets differ per subgroup (subgroup_id): legal, but beyond Tint's conservative check
diagnostic(off, chromium.subgroup_matrix_uniformity);
`,
  params: ', @builtin(subgroup_id) sgid: u32',
  prologue: 'let sg = sgid; let lane = lid % 32u;',
  zero: (n) => `var ${n} = subgroup_matrix_result<f32, 16, 16>();`,
  load: (kind, n, arr, off, cm, stride) => `let ${n} = subgroupMatrixLoad<subgroup_matrix_${kind}<f16, 16, 16>>(&${arr}, ${off}, ${cm}, ${stride});`,
  mma: (acc, a, b) => `${acc} = subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${acc});`,
  loadAcc: (n, arr, off, stride) => `${n} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&${arr}, ${off}, false, ${stride});`,
  store: (arr, off, acc, stride) => `subgroupMatrixStore(&${arr}, ${off}, ${acc}, false, ${stride});`,
};

const emulated: FragmentOps = {
  mode: 'emulated',
  header: () => `enable f16;
enable subgroups;
// acc += a * b, a and b whole 16x16 row-major copies, acc this lane's 8 elements
fn emu_mma(acc: ptr<function, array<f32, 8>>, a: ptr<function, array<f32, 256>>, b: ptr<function, array<f32, 256>>, lane: u32) {
  let row = lane / 2u;
  let c0 = (lane % 2u) * 8u;
  for (var e = 0u; e < 8u; e++) {
    var x = (*acc)[e];
    for (var k = 0u; k < 16u; k++) { x += (*a)[row * 16u + k] * (*b)[k * 16u + c0 + e]; }
    (*acc)[e] = x;
  }
}
`,
  params: '',
  prologue: 'let sg = lid / 32u; let lane = lid % 32u;',
  zero: (n) => `var ${n} = array<f32, 8>();`,
  load: (_kind, n, arr, off, cm, stride) =>
    `var ${n}: array<f32, 256>;
  for (var e = 0u; e < 256u; e++) { let er = e / 16u; let ec = e % 16u; ${n}[e] = f32(${arr}[${off} + ${cm ? `ec * ${stride} + er` : `er * ${stride} + ec`}]); }`,
  loadAcc: (n, arr, off, stride) =>
    `for (var e = 0u; e < 8u; e++) { let er = (lane * 8u + e) / 16u; let ec = (lane * 8u + e) % 16u; ${n}[e] = ${arr}[${off} + er * ${stride} + ec]; }`,
  mma: (acc, a, b) => `emu_mma(&${acc}, &${a}, &${b}, lane);`,
  store: (arr, off, acc, stride) =>
    `for (var e = 0u; e < 8u; e++) { let er = (lane * 8u + e) / 16u; let ec = (lane * 8u + e) % 16u; ${arr}[${off} + er * ${stride} + ec] = ${acc}[e]; }`,
};

/** The fragment operations of `mode`. */
export function fragmentOps(mode: FragmentMode): FragmentOps {
  return mode === 'native' ? native : emulated;
}

/**
 * S = Q K^T on fragments, for the attention kernels: over the 16-wide slices kd of head_dim,
 * `before(kd)` (if given), then each key fragment n, loaded as right operand `kf` by
 * `kLoad(n, kd)`, multiplied into every query tile t: s<t>_<n> += q<t>_<kd> * kf.
 */
export function scoreProducts(
  f: FragmentOps,
  o: { headDim: number; keys: number; tiles: number; kLoad: (n: number, kd: number) => string; before?: (kd: number) => string },
): string {
  const range = (n: number) => [...Array(n).keys()];
  return range(o.headDim / 16)
    .map(
      (kd) => `${o.before?.(kd) ?? ''}
    ${range(o.keys / 16)
      .map(
        (n) => `{
      ${o.kLoad(n, kd)}
      ${range(o.tiles)
        .map((t) => f.mma(`s${t}_${n}`, `q${t}_${kd}`, 'kf'))
        .join('\n      ')}
    }`,
      )
      .join('\n    ')}`,
    )
    .join('\n    ');
}
