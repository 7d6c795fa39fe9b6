import { BlockMask, ShapeError, type TokenRange } from '@mod-dit/tensor';
import type { BlockLayout } from './block-layout.js';
import { InvalidOptionError } from './errors.js';
import type { Features } from './features.js';
import { type LineSelection, type SelectOptions, selectLines } from './line-selection.js';

/** Options of {@link buildMask}: the selection's, whose `textTokens` (video first, then text: HunyuanVideo's layout) also sizes the mask. */
export type MaskOptions = SelectOptions;

/**
 * Turns a line selection into a BlockMask over the whole sequence (video + text tokens):
 * each chosen column / diagonal switches on a whole block column / diagonal of the video
 * grid, tile heads get every intra-frame tile, text rows and text key columns are always on.
 * Built row by row as 32-bit words straight into CSR, without a dense [heads, nQ, nK] grid:
 * a row's diagonals are the head's diagonal bitset read at offset n - 1 - row.
 */
export function linesToMask(selection: LineSelection, layout: BlockLayout, text: { textTokens?: number } = {}): BlockMask {
  const { heads, n } = selection;
  if (n !== layout.n) throw new ShapeError(`linesToMask: selection has n = ${n}, layout has n = ${layout.n}`);
  const textTokens = text.textTokens ?? 0;
  if (!Number.isInteger(textTokens) || textTokens < 0) throw new InvalidOptionError(`textTokens must be a non-negative integer, got ${textTokens}`);
  const bs = layout.blockSize;
  const tokens = layout.videoTokens + textTokens;
  const nB = Math.ceil(tokens / bs);
  // first block holding any text token: its row is dense and its column always on
  const textBlock = textTokens > 0 ? Math.floor(layout.videoTokens / bs) : nB;
  const words = (nB + 31) >>> 5;
  const videoWords = (n + 31) >>> 5;
  const full = new Uint32Array(words);
  setRange(full, 0, nB);
  const columns = new Uint32Array(words);
  const diagonals = new Uint32Array(((2 * n - 1 + 31) >>> 5) + 1); // +1: reads of word q + 1 stay in range
  const rows = new Uint32Array(nB * words); // one head's rows
  const rowPtr = new Int32Array(heads * nB + 1);
  const headRows: Uint32Array[] = [];
  // pass 1: every row's bits and its count; pass 2 (below) writes colIdx at its exact size
  for (let h = 0; h < heads; h++) {
    columns.fill(0);
    diagonals.fill(0);
    for (const line of selection.lines[h]) {
      if (line < 0 || line >= 3 * n - 1) throw new ShapeError(`head ${h}: line ${line} outside [0, ${3 * n - 1})`);
      if (line < n) columns[line >>> 5] |= 1 << (line & 31);
      else diagonals[(line - n) >>> 5] |= 1 << ((line - n) & 31);
    }
    setRange(columns, textBlock, nB);
    const tiles = selection.tileHeads[h] === 1;
    for (let i = 0; i < nB; i++) {
      const row = rows.subarray(i * words, (i + 1) * words);
      if (i >= textBlock) row.set(full);
      else {
        // bit j of the row's diagonal part = diagonal kk = j + (n - 1 - i), for j < n only
        const shift = n - 1 - i;
        const r = shift & 31;
        for (let w = 0; w < videoWords; w++) {
          const q = (shift >>> 5) + w;
          row[w] = columns[w] | (r === 0 ? diagonals[q] : (diagonals[q] >>> r) | (diagonals[q + 1] << (32 - r)));
        }
        if (n & 31) row[videoWords - 1] = columns[videoWords - 1] | (row[videoWords - 1] & ((1 << (n & 31)) - 1));
        for (let w = videoWords; w < words; w++) row[w] = columns[w];
        if (tiles) setRange(row, layout.tileStart[i], layout.tileEnd[i]);
      }
      let count = 0;
      for (let w = 0; w < words; w++) count += popcount(row[w]);
      rowPtr[h * nB + i + 1] = rowPtr[h * nB + i] + count;
    }
    headRows.push(rows.slice());
  }
  const colIdx = new Int32Array(rowPtr[heads * nB]);
  let nnz = 0;
  for (const bits of headRows)
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w];
      const col = (w % words) << 5;
      while (x !== 0) {
        const low = x & -x;
        colIdx[nnz++] = col + 31 - Math.clz32(low);
        x ^= low;
      }
    }
  const textRange: TokenRange = [layout.videoTokens, tokens];
  return new BlockMask(
    { heads, qLen: tokens, kLen: tokens, blockSize: bs },
    rowPtr,
    colIdx,
    textTokens > 0 ? { queries: textRange, keys: textRange } : {},
  );
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Sets bits [a, b) of a word array. */
function setRange(bits: Uint32Array, a: number, b: number): void {
  for (let j = a; j < b; ) {
    const w = j >>> 5;
    const lo = j & 31;
    const hi = Math.min(32, lo + (b - j));
    bits[w] |= hi === 32 ? (0xffffffff << lo) >>> 0 : ((1 << hi) - (1 << lo)) >>> 0;
    j += hi - lo;
  }
}

/** Selects lines from predicted features and builds the mask: {@link selectLines} then {@link linesToMask}. */
export function buildMask(predicted: Features, layout: BlockLayout, options: MaskOptions): BlockMask {
  return linesToMask(selectLines(predicted, layout, options), layout, options);
}
