import { EvalConfigError } from './eval-error.js';
import { scoreRow } from './score-row.js';
import type { TokenGrid } from './token-grid.js';

/** Inputs of {@link BlockAttention.compute}: q, k, v [1, heads, grid.tokens, headDim] row-major. */
export interface BlockAttentionInput {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  heads: number;
  headDim: number;
  grid: TokenGrid;
  /** Softmax scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Video query blocks to evaluate (sorted, distinct); default all. Text query rows are never evaluated: they stay dense. */
  queryBlocks?: Int32Array;
}

/** Quality of one head's mask on the evaluated query rows. */
export interface MaskQuality {
  /** Fraction of video x video token pairs (evaluated query rows) inside active blocks. */
  density: number;
  /** Mean over evaluated query rows of the dense softmax mass inside the mask (text keys always count). */
  recall: number;
  /** ||O_sparse - O_dense||_F / ||O_dense||_F over evaluated query rows. */
  relError: number;
}

/**
 * Exact dense attention decomposed by key block, in float64. For every evaluated query row
 * it keeps, per video key block J (and once for all text keys), the softmax mass P_J and
 * the mass-weighted value sum N_J = sum_{j in J} p_j v_j. The output of ANY block mask is
 * then (N_text + sum_{J active} N_J) / (P_text + sum_{J active} P_J): one O(L * D) pass per
 * row evaluates every method's mask exactly, instead of one sparse attention call each.
 */
export class BlockAttention {
  readonly grid: TokenGrid;
  readonly heads: number;
  readonly headDim: number;
  /** Evaluated video query blocks. */
  readonly queryBlocks: Int32Array;
  /** Evaluated query rows (tokens), in order. */
  readonly rows: Int32Array;
  /** Per head: [rows, blocks + 1] masses (last column: text keys). */
  private readonly mass: Float64Array[];
  /** Per head: [rows, blocks + 1, headDim] mass-weighted value sums. */
  private readonly weighted: Float64Array[];
  /** Per head: [rows, headDim] dense output. */
  private readonly dense: Float64Array[];

  private constructor(grid: TokenGrid, heads: number, headDim: number, queryBlocks: Int32Array, rows: Int32Array) {
    this.grid = grid;
    this.heads = heads;
    this.headDim = headDim;
    this.queryBlocks = queryBlocks;
    this.rows = rows;
    const slots = grid.blocks + 1;
    this.mass = Array.from({ length: heads }, () => new Float64Array(rows.length * slots));
    this.weighted = Array.from({ length: heads }, () => new Float64Array(rows.length * slots * headDim));
    this.dense = Array.from({ length: heads }, () => new Float64Array(rows.length * headDim));
  }

  /** Runs the dense pass. Cost: 2 * heads * rows * tokens * headDim multiply-adds. */
  static compute(input: BlockAttentionInput): BlockAttention {
    const { grid, heads, headDim: D } = input;
    const L = grid.tokens;
    const expected = heads * L * D;
    for (const name of ['q', 'k', 'v'] as const)
      if (input[name].length !== expected)
        throw new EvalConfigError(`${name} has ${input[name].length} elements, expected [1, ${heads}, ${L}, ${D}] = ${expected}`);
    const queryBlocks = input.queryBlocks ?? Int32Array.from({ length: grid.blocks }, (_, i) => i);
    for (let i = 0; i < queryBlocks.length; i++)
      if (!(queryBlocks[i] >= 0 && queryBlocks[i] < grid.blocks) || (i > 0 && queryBlocks[i] <= queryBlocks[i - 1]))
        throw new EvalConfigError(`queryBlocks must be sorted distinct video blocks in [0, ${grid.blocks}), got [${queryBlocks.join(', ')}]`);
    const rowList: number[] = [];
    for (const b of queryBlocks) for (let t = 0; t < grid.blockTokens(b); t++) rowList.push(b * grid.blockSize + t);
    const self = new BlockAttention(grid, heads, D, queryBlocks, Int32Array.from(rowList));
    const scale = input.scale ?? 1 / Math.sqrt(D);
    const { q, k, v } = input;
    const bs = grid.blockSize;
    const Lv = grid.videoTokens;
    const slots = grid.blocks + 1;
    const scores = new Float64Array(L);
    const qRow = new Float64Array(D);
    const acc = new Float64Array(D);
    const D4 = D - (D % 4);
    for (let h = 0; h < heads; h++) {
      const base = h * L * D;
      // One float64 copy per head: the hot loops then read doubles without conversions.
      const kh = Float64Array.from(k.subarray(base, base + L * D));
      const vh = Float64Array.from(v.subarray(base, base + L * D));
      const mass = self.mass[h];
      const weighted = self.weighted[h];
      const dense = self.dense[h];
      for (let r = 0; r < self.rows.length; r++) {
        const qo = base + self.rows[r] * D;
        for (let d = 0; d < D; d++) qRow[d] = q[qo + d] * scale;
        const max = scoreRow(qRow, kh, L, D, scores);
        let z = 0;
        for (let j = 0; j < L; j++) {
          const e = Math.exp(scores[j] - max);
          scores[j] = e;
          z += e;
        }
        const inv = 1 / z;
        const mo = r * slots;
        dense.fill(0, r * D, r * D + D);
        for (let slot = 0; slot < slots; slot++) {
          const j0 = slot < slots - 1 ? slot * bs : Lv;
          const j1 = slot < slots - 1 ? Math.min(Lv, j0 + bs) : L;
          let m = 0;
          for (let j = j0; j < j1; j++) m += scores[j];
          // Four output dims per sweep over the block's keys: independent sums in registers.
          let d = 0;
          for (; d < D4; d += 4) {
            let a0 = 0;
            let a1 = 0;
            let a2 = 0;
            let a3 = 0;
            for (let j = j0, vo = j0 * D + d; j < j1; j++, vo += D) {
              const e = scores[j];
              a0 += e * vh[vo];
              a1 += e * vh[vo + 1];
              a2 += e * vh[vo + 2];
              a3 += e * vh[vo + 3];
            }
            acc[d] = a0;
            acc[d + 1] = a1;
            acc[d + 2] = a2;
            acc[d + 3] = a3;
          }
          for (; d < D; d++) {
            let a = 0;
            for (let j = j0, vo = j0 * D + d; j < j1; j++, vo += D) a += scores[j] * vh[vo];
            acc[d] = a;
          }
          mass[mo + slot] = m * inv;
          const wo = (mo + slot) * D;
          for (let d = 0; d < D; d++) {
            const w = acc[d] * inv;
            weighted[wo + d] = w;
            dense[r * D + d] += w;
          }
        }
      }
    }
    return self;
  }

  /** Dense softmax mass summed over each evaluated query block's rows, [blocks (query), blocks (key)]; rows of unevaluated query blocks are 0. */
  blockMass(head: number): Float64Array {
    const n = this.grid.blocks;
    const slots = n + 1;
    const out = new Float64Array(n * n);
    const mass = this.mass[head];
    for (let r = 0; r < this.rows.length; r++) {
      const I = Math.floor(this.rows[r] / this.grid.blockSize);
      for (let J = 0; J < n; J++) out[I * n + J] += mass[r * slots + J];
    }
    return out;
  }

  /**
   * Density, recall and output error of one head's mask, a 0/1 grid [blocks, blocks] over
   * video blocks (text keys are always on). `rowSubset` restricts the measure to those
   * indices into `rows` (SVG-like sampling); default all evaluated rows.
   */
  quality(head: number, mask: Uint8Array, rowSubset?: Int32Array): MaskQuality {
    const n = this.grid.blocks;
    if (mask.length !== n * n) throw new EvalConfigError(`mask has ${mask.length} cells, expected blocks^2 = ${n * n}`);
    const D = this.headDim;
    const slots = n + 1;
    const mass = this.mass[head];
    const weighted = this.weighted[head];
    const dense = this.dense[head];
    const out = new Float64Array(D);
    let recall = 0;
    let errSq = 0;
    let refSq = 0;
    let pairs = 0;
    const count = rowSubset ? rowSubset.length : this.rows.length;
    const activeTokens = new Float64Array(n);
    for (let I = 0; I < n; I++) for (let J = 0; J < n; J++) if (mask[I * n + J]) activeTokens[I] += this.grid.blockTokens(J);
    for (let c = 0; c < count; c++) {
      const r = rowSubset ? rowSubset[c] : c;
      const I = Math.floor(this.rows[r] / this.grid.blockSize);
      const mo = r * slots;
      let m = mass[mo + n];
      for (let d = 0; d < D; d++) out[d] = weighted[(mo + n) * D + d];
      for (let J = 0; J < n; J++) {
        if (!mask[I * n + J]) continue;
        m += mass[mo + J];
        const wo = (mo + J) * D;
        for (let d = 0; d < D; d++) out[d] += weighted[wo + d];
      }
      // A row with no active key outputs zeros (the Backend contract).
      const inv = m > 0 ? 1 / m : 0;
      for (let d = 0; d < D; d++) {
        const ref = dense[r * D + d];
        const diff = out[d] * inv - ref;
        errSq += diff * diff;
        refSq += ref * ref;
      }
      recall += m;
      pairs += activeTokens[I];
    }
    return {
      density: pairs / (count * this.grid.videoTokens),
      recall: recall / count,
      relError: refSq > 0 ? Math.sqrt(errSq / refSq) : 0,
    };
  }
}
