/**
 * The key loop bounds of the flash-attention kernel (WGSL snippets). Dense: one range
 * [0, Lk). Sparse: the workgroup's BlockMask row (head * nQ + first query row / blockSize)
 * gives `nblk` active key blocks; block `bi` covers [j * bs, min(Lk, (j + 1) * bs)). The
 * CSR values go through workgroupUniformLoad so that loops containing barriers stay uniform;
 * an empty row runs no iteration. Expects a uniform struct `u` with H, nQ, bs, Lk, offRow,
 * offCol. Its workgroup scalars sit in one 16-byte array: see kernels/staging.ts on why.
 */
export interface KeyRangeSnippets {
  /** Declares `nblk` (and `pa` when sparse); runs once before the block loop. */
  rows: string;
  /** Declares `k0`, `k1` for block `bi`; runs at the top of the block loop. */
  block: string;
  /** Workgroup variables the snippets use. */
  decls: string;
}

export function keyRangeSnippets(sparse: boolean, rowsPerGroup: number, lane: string): KeyRangeSnippets {
  if (!sparse) return { rows: 'let nblk = 1u;', block: 'let k0 = 0u; let k1 = u.Lk;', decls: '' };
  return {
    rows: `if (${lane} == 0u) {
    let r = (head % u.H) * u.nQ + (tile * ${rowsPerGroup}u) / u.bs;
    wcsr[0] = rowPtr[u.offRow + r];
    wcsr[1] = rowPtr[u.offRow + r + 1u];
  }
  let pa = workgroupUniformLoad(&wcsr[0]);
  let nblk = workgroupUniformLoad(&wcsr[1]) - pa;`,
    block: `if (${lane} == 0u) { wcsr[2] = colIdx[u.offCol + pa + bi]; }
    let j = workgroupUniformLoad(&wcsr[2]);
    let k0 = j * u.bs;
    let k1 = min(u.Lk, k0 + u.bs);`,
    decls: 'var<workgroup> wcsr: array<u32, 4>;\n',
  };
}

/** Uniform block of the attention kernel (filled in WebGPUBackend.attention). */
export const ATTENTION_UNIFORMS =
  'struct U { Lq: u32, Lk: u32, H: u32, base: u32, scale: f32, nQ: u32, bs: u32, offQ: u32, offK: u32, offV: u32, offOut: u32, offLse: u32, offRow: u32, offCol: u32 }';
