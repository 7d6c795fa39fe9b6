import { BlockMaskError } from './errors.js';

/** Half-open token range [start, end). */
export type TokenRange = readonly [number, number];

/** Geometry shared by every BlockMask constructor. */
export interface BlockMaskGeometry {
  heads: number;
  /** Query tokens; the last query block may be ragged. */
  qLen: number;
  /** Key tokens; the last key block may be ragged. */
  kLen: number;
  /** Block edge in tokens: 128 (default) or 64. */
  blockSize?: number;
}

/** FlexAttention's block layout: kv_num_blocks [H, nQ] and kv_indices [H, nQ, nK] (rows padded with 0). */
export interface FlexLayout {
  kvNumBlocks: Int32Array;
  kvIndices: Int32Array;
  heads: number;
  nQ: number;
  nK: number;
}

/** Block sizes (tokens per side) that BlockMask and the attention kernels support. */
export const BLOCK_SIZES: readonly number[] = [64, 128];

/**
 * Which (query block, key block) tiles attention computes, per head: a CSR (rowPtr over
 * heads*nQ rows, sorted colIdx) that kernels read directly, with a bitset view for analysis.
 * Token ranges marked always-on (text tokens) are already folded into the CSR: every block
 * they touch is active. The same mask applies to every batch entry.
 */
export class BlockMask {
  readonly heads: number;
  readonly qLen: number;
  readonly kLen: number;
  readonly blockSize: number;
  readonly nQ: number;
  readonly nK: number;
  /** [heads * nQ + 1] offsets into colIdx; row r = head * nQ + queryBlock. */
  readonly rowPtr: Int32Array;
  /** Active key blocks of each row, strictly increasing within a row. */
  readonly colIdx: Int32Array;
  /** Query tokens whose rows are always dense (text queries), if any. */
  readonly denseQueries: TokenRange | undefined;
  /** Key tokens whose columns are always on (text keys), if any. */
  readonly denseKeys: TokenRange | undefined;

  constructor(
    geometry: BlockMaskGeometry,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    dense: { queries?: TokenRange; keys?: TokenRange } = {},
  ) {
    const blockSize = geometry.blockSize ?? 128;
    if (!BLOCK_SIZES.includes(blockSize)) throw new BlockMaskError(`block size ${blockSize} is not one of ${BLOCK_SIZES.join(', ')}`);
    for (const [k, v] of [['heads', geometry.heads], ['qLen', geometry.qLen], ['kLen', geometry.kLen]] as const)
      if (!Number.isInteger(v) || v <= 0) throw new BlockMaskError(`${k} must be a positive integer, got ${v}`);
    this.heads = geometry.heads;
    this.qLen = geometry.qLen;
    this.kLen = geometry.kLen;
    this.blockSize = blockSize;
    this.nQ = Math.ceil(this.qLen / blockSize);
    this.nK = Math.ceil(this.kLen / blockSize);
    this.rowPtr = rowPtr;
    this.colIdx = colIdx;
    this.denseQueries = dense.queries;
    this.denseKeys = dense.keys;
    this.validate();
  }

  private validate(): void {
    const rows = this.heads * this.nQ;
    if (this.rowPtr.length !== rows + 1) throw new BlockMaskError(`rowPtr has ${this.rowPtr.length} entries, expected heads*nQ+1 = ${rows + 1}`);
    if (this.rowPtr[0] !== 0 || this.rowPtr[rows] !== this.colIdx.length)
      throw new BlockMaskError(`rowPtr must start at 0 and end at colIdx.length (${this.colIdx.length}), got ${this.rowPtr[0]}..${this.rowPtr[rows]}`);
    for (let r = 0; r < rows; r++) {
      const a = this.rowPtr[r];
      const b = this.rowPtr[r + 1];
      if (b < a) throw new BlockMaskError(`rowPtr decreases at row ${r}`);
      for (let i = a; i < b; i++) {
        const c = this.colIdx[i];
        if (c < 0 || c >= this.nK) throw new BlockMaskError(`row ${r}: key block ${c} out of range [0, ${this.nK})`);
        if (i > a && c <= this.colIdx[i - 1]) throw new BlockMaskError(`row ${r}: key blocks not strictly increasing`);
      }
    }
    for (const [name, range, len] of [['queries', this.denseQueries, this.qLen], ['keys', this.denseKeys, this.kLen]] as const) {
      if (range && !(range[0] >= 0 && range[0] <= range[1] && range[1] <= len))
        throw new BlockMaskError(`dense ${name} range [${range[0]}, ${range[1]}) outside [0, ${len})`);
    }
  }

  /**
   * Builds a mask from a dense 0/1 grid [heads, nQ, nK] (any nonzero = active), then
   * switches on every block touched by the always-on token ranges.
   */
  static fromDense(geometry: BlockMaskGeometry, grid: ArrayLike<number>, dense: { queries?: TokenRange; keys?: TokenRange } = {}): BlockMask {
    const bs = geometry.blockSize ?? 128;
    const nQ = Math.ceil(geometry.qLen / bs);
    const nK = Math.ceil(geometry.kLen / bs);
    const total = geometry.heads * nQ * nK;
    if (grid.length !== total) throw new BlockMaskError(`dense grid has ${grid.length} cells, expected heads*nQ*nK = ${total}`);
    const on = new Uint8Array(total);
    for (let i = 0; i < total; i++) on[i] = grid[i] ? 1 : 0;
    const [qa, qb] = blockRange(dense.queries, bs);
    const [ka, kb] = blockRange(dense.keys, bs);
    for (let h = 0; h < geometry.heads; h++)
      for (let i = 0; i < nQ; i++) {
        const row = (h * nQ + i) * nK;
        if (i >= qa && i < qb) on.fill(1, row, row + nK);
        else on.fill(1, row + ka, row + Math.min(kb, nK));
      }
    const rowPtr = new Int32Array(geometry.heads * nQ + 1);
    let count = 0;
    for (let i = 0; i < total; i++) count += on[i];
    const colIdx = new Int32Array(count);
    let p = 0;
    for (let r = 0; r < geometry.heads * nQ; r++) {
      for (let j = 0; j < nK; j++) if (on[r * nK + j]) colIdx[p++] = j;
      rowPtr[r + 1] = p;
    }
    return new BlockMask(geometry, rowPtr, colIdx, dense);
  }

  /** Every block active: the dense-equivalent mask. */
  static full(geometry: BlockMaskGeometry): BlockMask {
    const bs = geometry.blockSize ?? 128;
    const n = geometry.heads * Math.ceil(geometry.qLen / bs) * Math.ceil(geometry.kLen / bs);
    return BlockMask.fromDense(geometry, new Uint8Array(n).fill(1));
  }

  /** Reads FlexAttention's (kv_num_blocks, kv_indices); indices past each row's count are ignored. */
  static fromFlex(geometry: BlockMaskGeometry, flex: Pick<FlexLayout, 'kvNumBlocks' | 'kvIndices'>): BlockMask {
    const bs = geometry.blockSize ?? 128;
    const nQ = Math.ceil(geometry.qLen / bs);
    const nK = Math.ceil(geometry.kLen / bs);
    const rows = geometry.heads * nQ;
    if (flex.kvNumBlocks.length !== rows) throw new BlockMaskError(`kv_num_blocks has ${flex.kvNumBlocks.length} entries, expected heads*nQ = ${rows}`);
    const width = flex.kvIndices.length / rows;
    if (!Number.isInteger(width) || width < 1) throw new BlockMaskError(`kv_indices has ${flex.kvIndices.length} entries, not a multiple of ${rows} rows`);
    const grid = new Uint8Array(rows * nK);
    for (let r = 0; r < rows; r++) {
      const cnt = flex.kvNumBlocks[r];
      if (cnt < 0 || cnt > width) throw new BlockMaskError(`row ${r}: kv_num_blocks ${cnt} outside [0, ${width}]`);
      for (let i = 0; i < cnt; i++) {
        const c = flex.kvIndices[r * width + i];
        if (c < 0 || c >= nK) throw new BlockMaskError(`row ${r}: kv index ${c} out of range [0, ${nK})`);
        grid[r * nK + c] = 1;
      }
    }
    return BlockMask.fromDense(geometry, grid);
  }

  /** FlexAttention's layout (kv_indices rows sorted, padded with 0 to nK). */
  toFlex(): FlexLayout {
    const rows = this.heads * this.nQ;
    const kvNumBlocks = new Int32Array(rows);
    const kvIndices = new Int32Array(rows * this.nK);
    for (let r = 0; r < rows; r++) {
      const a = this.rowPtr[r];
      const b = this.rowPtr[r + 1];
      kvNumBlocks[r] = b - a;
      kvIndices.set(this.colIdx.subarray(a, b), r * this.nK);
    }
    return { kvNumBlocks, kvIndices, heads: this.heads, nQ: this.nQ, nK: this.nK };
  }

  /** Dense 0/1 grid [heads, nQ, nK]. */
  toDense(): Uint8Array {
    const out = new Uint8Array(this.heads * this.nQ * this.nK);
    for (let r = 0; r < this.heads * this.nQ; r++)
      for (let i = this.rowPtr[r]; i < this.rowPtr[r + 1]; i++) out[r * this.nK + this.colIdx[i]] = 1;
    return out;
  }

  /** Packed bitset [heads * nQ, ceil(nK / 32)] u32 words, bit j%32 of word j/32. */
  toBitset(): Uint32Array {
    const words = Math.ceil(this.nK / 32);
    const out = new Uint32Array(this.heads * this.nQ * words);
    for (let r = 0; r < this.heads * this.nQ; r++)
      for (let i = this.rowPtr[r]; i < this.rowPtr[r + 1]; i++) {
        const c = this.colIdx[i];
        out[r * words + (c >>> 5)] |= 1 << (c & 31);
      }
    return out;
  }

  /** Whether key block j is active for query block i of head h. */
  isActive(h: number, i: number, j: number): boolean {
    const r = h * this.nQ + i;
    const row = this.colIdx.subarray(this.rowPtr[r], this.rowPtr[r + 1]);
    let lo = 0;
    let hi = row.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (row[mid] < j) lo = mid + 1;
      else hi = mid;
    }
    return lo < row.length && row[lo] === j;
  }

  /** Token extent of query or key block `i` (the last one may be ragged). */
  blockTokens(i: number, axis: 'q' | 'k'): number {
    const len = axis === 'q' ? this.qLen : this.kLen;
    return Math.min(this.blockSize, len - i * this.blockSize);
  }

  /** Fraction of the score matrix (in token pairs, ragged blocks weighted by size) that is computed, per head or overall. */
  density(head?: number): number {
    const heads = head === undefined ? [...Array(this.heads).keys()] : [head];
    let on = 0;
    for (const h of heads)
      for (let i = 0; i < this.nQ; i++) {
        const r = h * this.nQ + i;
        let cols = 0;
        for (let p = this.rowPtr[r]; p < this.rowPtr[r + 1]; p++) cols += this.blockTokens(this.colIdx[p], 'k');
        on += cols * this.blockTokens(i, 'q');
      }
    return on / (heads.length * this.qLen * this.kLen);
  }

  /** Number of active blocks. */
  get activeBlocks(): number {
    return this.colIdx.length;
  }
}

function blockRange(range: TokenRange | undefined, bs: number): [number, number] {
  if (!range || range[1] <= range[0]) return [0, 0];
  return [Math.floor(range[0] / bs), Math.ceil(range[1] / bs)];
}
