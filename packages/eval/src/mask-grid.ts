import type { BlockMask } from '@mod-dit/tensor';
import { EvalConfigError } from './eval-error.js';
import type { TokenGrid } from './token-grid.js';

/**
 * One head's video x video part of a BlockMask as a 0/1 grid [blocks, blocks]. The mask may
 * extend past the video blocks (text rows and columns, always on); those are dropped here
 * because the evaluation always counts text keys as attended.
 */
export function videoMaskGrid(mask: BlockMask, head: number, grid: TokenGrid): Uint8Array {
  if (mask.blockSize !== grid.blockSize || mask.qLen !== grid.tokens || mask.kLen !== grid.tokens)
    throw new EvalConfigError(
      `mask is for qLen=${mask.qLen}, kLen=${mask.kLen}, blockSize=${mask.blockSize}; the suite has ${grid.tokens} tokens, blockSize ${grid.blockSize}`,
    );
  if (!(head >= 0 && head < mask.heads)) throw new EvalConfigError(`head ${head} out of range [0, ${mask.heads})`);
  const n = grid.blocks;
  const out = new Uint8Array(n * n);
  for (let I = 0; I < n; I++) {
    const r = head * mask.nQ + I;
    for (let p = mask.rowPtr[r]; p < mask.rowPtr[r + 1]; p++) {
      const J = mask.colIdx[p];
      if (J < n) out[I * n + J] = 1;
    }
  }
  return out;
}
