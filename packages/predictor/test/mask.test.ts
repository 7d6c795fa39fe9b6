import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockMask, BlockMaskError, Rng, type TokenRange } from '@mod-dit/tensor';
import { writeSafetensors } from '@mod-dit/tensor/safetensors';
import { BlockLayout, buildMask, selectLines, type Features, type LineBudget } from '../src/index.js';
import { readMaskFile, writeMaskFile } from '../src/mask-file.js';
import { tileIndicator } from './brute-force.js';

/** Features with ties (values drawn from a small set) so tie-breaking is exercised. */
function tiedFeatures(rng: Rng, heads: number, n: number): Features {
  const pick = () => rng.int(0, 9) / 8 - 0.3;
  return {
    heads,
    n,
    diagonals: Float64Array.from({ length: heads * (2 * n - 1) }, pick),
    columns: Float64Array.from({ length: heads * n }, pick),
    tiles: Float64Array.from({ length: heads }, () => rng.uniform() * 2 - 0.5),
    columnScale: 0.5,
  };
}

/** Line l's value: columns first, then diagonals (the reference's concatenation). */
function lineValue(f: Features, h: number, l: number): number {
  const n = f.n;
  return l < n ? f.columns[h * n + l] : f.diagonals[h * (2 * n - 1) + l - n];
}

/** Brute force: line l is in the top k iff fewer than k lines beat it (smaller value, or equal value and lower index). */
function bruteTopK(f: Features, h: number, k: number): Set<number> {
  const count = 3 * f.n - 1;
  const out = new Set<number>();
  for (let l = 0; l < count; l++) {
    let better = 0;
    for (let o = 0; o < count; o++) {
      const a = lineValue(f, h, o);
      const b = lineValue(f, h, l);
      if (a < b || (a === b && o < l)) better++;
    }
    if (better < k) out.add(l);
  }
  return out;
}

/** Brute-force dense grid [heads, nB, nB] of a selection, cell by cell, plus text rows/columns. */
function bruteGrid(layout: BlockLayout, lines: Int32Array[], tileHeads: Uint8Array, textTokens: number): Uint8Array {
  const n = layout.n;
  const bs = layout.blockSize;
  const total = layout.videoTokens + textTokens;
  const nB = Math.ceil(total / bs);
  const e = tileIndicator(layout.videoTokens, layout.tokensPerFrame, bs);
  const grid = new Uint8Array(lines.length * nB * nB);
  const hasText = (blk: number) => textTokens > 0 && (blk + 1) * bs > layout.videoTokens;
  for (let h = 0; h < lines.length; h++) {
    const chosen = new Set(lines[h]);
    for (let i = 0; i < nB; i++)
      for (let j = 0; j < nB; j++) {
        let on = hasText(i) || hasText(j);
        if (i < n && j < n) on ||= chosen.has(j) || chosen.has(n + (j - i) + (n - 1)) || (tileHeads[h] === 1 && e[i * n + j] === 1);
        grid[(h * nB + i) * nB + j] = on ? 1 : 0;
      }
  }
  return grid;
}

function videoDensity(grid: Uint8Array, h: number, nB: number, n: number, weight?: Float32Array): number {
  let on = 0;
  let all = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const w = weight ? 1 - weight[(h * n + i) * n + j] : 1;
      all += w;
      if (grid[(h * nB + i) * nB + j]) on += w;
    }
  return on / all;
}

// ragged video (non-aligned 300-token frames, 64-token blocks: n = 33) with and without 77 text tokens; Wan-480p-like frames
const CASES = [
  { videoTokens: 7 * 300, tokensPerFrame: 300, blockSize: 64, textTokens: 0 },
  { videoTokens: 7 * 300, tokensPerFrame: 300, blockSize: 64, textTokens: 77 },
  { videoTokens: 4 * 1560, tokensPerFrame: 1560, blockSize: 128, textTokens: 130 },
  // n = 64: whole 32-bit words, video ending on a block edge, text exactly one block
  { videoTokens: 8 * 512, tokensPerFrame: 512, blockSize: 64, textTokens: 64 },
];

describe('masks', () => {
  for (const c of CASES) {
    const layout = new BlockLayout(c);
    const heads = 3;
    const f = tiedFeatures(new Rng(c.videoTokens + c.textTokens), heads, layout.n);
    const tag = `(n ${layout.n}, block ${c.blockSize}, text ${c.textTokens})`;

    it(`top-k picks the k smallest lines, ties to the lower index, and switches on exactly their blocks ${tag}`, () => {
      for (const k of [0, 1, 17, 3 * layout.n + 5]) {
        const sel = selectLines(f, layout, { budget: { kind: 'top-k', k }, tileThreshold: 0.5 });
        for (let h = 0; h < heads; h++) {
          expect(new Set(sel.lines[h])).toEqual(bruteTopK(f, h, k));
          expect(sel.tileHeads[h]).toBe(f.tiles[h] <= 0.5 ? 1 : 0);
        }
        const mask = buildMask(f, layout, { budget: { kind: 'top-k', k }, tileThreshold: 0.5, textTokens: c.textTokens });
        const grid = bruteGrid(layout, sel.lines, sel.tileHeads, c.textTokens);
        expect(mask.toDense()).toEqual(grid);
        const text: TokenRange = [c.videoTokens, c.videoTokens + c.textTokens];
        const ref = BlockMask.fromDense({ heads, qLen: text[1], kLen: text[1], blockSize: c.blockSize }, grid, c.textTokens ? { queries: text, keys: text } : {});
        expect(mask.rowPtr).toEqual(ref.rowPtr);
        expect(mask.colIdx).toEqual(ref.colIdx);
        expect(mask.denseQueries).toEqual(ref.denseQueries);
        // text query rows and text key columns: every block on, in every head
        const textBlock = c.textTokens ? Math.floor(c.videoTokens / c.blockSize) : mask.nQ;
        for (let hh = 0; hh < heads; hh++)
          for (let b = textBlock; b < mask.nQ; b++)
            for (let o = 0; o < mask.nK; o++) expect(mask.isActive(hh, b, o) && mask.isActive(hh, o, b)).toBe(true);
      }
      // a line fraction is a top-k of round(fraction * (3n - 1)) lines
      const frac = selectLines(f, layout, { budget: { kind: 'line-fraction', fraction: 0.3 } });
      const k = Math.round(0.3 * (3 * layout.n - 1));
      for (let h = 0; h < heads; h++) expect(new Set(frac.lines[h])).toEqual(bruteTopK(f, h, k));
    });

    it(`density and recall targets stop at the shortest ranked prefix that reaches them ${tag}`, () => {
      const nB = Math.ceil((c.videoTokens + c.textTokens) / c.blockSize);
      const map = new Rng(5).uniforms(heads * layout.n * layout.n, 0, 1);
      const budgets: [LineBudget, Float32Array | undefined, number][] = [
        [{ kind: 'density', density: 0.35 }, undefined, 0.35],
        [{ kind: 'density', density: 0.8 }, undefined, 0.8],
        [{ kind: 'recall', recall: 0.6, map }, map, 0.6],
      ];
      for (const [budget, weight, target] of budgets) {
        const sel = selectLines(f, layout, { budget, tileThreshold: 0.5, textTokens: c.textTokens });
        const all = selectLines(f, layout, { budget: { kind: 'top-k', k: 3 * layout.n }, tileThreshold: 0.5, textTokens: c.textTokens });
        for (let h = 0; h < heads; h++) {
          const k = sel.lines[h].length;
          expect(Array.from(sel.lines[h])).toEqual(Array.from(all.lines[h].subarray(0, k)));
          const got = videoDensity(bruteGrid(layout, sel.lines, sel.tileHeads, c.textTokens), h, nB, layout.n, weight);
          expect(got).toBeGreaterThanOrEqual(target - 1e-12);
          if (k > 0) {
            const fewer = sel.lines.map((l, i) => (i === h ? l.subarray(0, k - 1) : l));
            expect(videoDensity(bruteGrid(layout, fewer, sel.tileHeads, c.textTokens), h, nB, layout.n, weight)).toBeLessThan(target);
          }
        }
      }
    });

    it(`round-trips through the FlexAttention layout and the safetensors file ${tag}`, async () => {
      const mask = buildMask(f, layout, { budget: { kind: 'top-k', k: 9 }, textTokens: c.textTokens });
      const geo = { heads, qLen: mask.qLen, kLen: mask.kLen, blockSize: mask.blockSize };
      const back = BlockMask.fromFlex(geo, mask.toFlex());
      expect(back.rowPtr).toEqual(mask.rowPtr);
      expect(back.colIdx).toEqual(mask.colIdx);
      const path = join(dir, `mask-${c.textTokens}-${c.blockSize}.safetensors`);
      await writeMaskFile(path, { 'layer3.cond': mask }, { run: 'test' });
      const { masks, metadata } = await readMaskFile(path);
      expect(metadata).toEqual({ run: 'test' });
      const read = masks['layer3.cond'];
      expect(read.rowPtr).toEqual(mask.rowPtr);
      expect(read.colIdx).toEqual(mask.colIdx);
      expect(read.denseKeys).toEqual(mask.denseKeys);
      // the file itself, parsed by hand: FlexAttention's names, dtypes and shapes
      const bytes = await readFile(path);
      const headerLen = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
      expect(header['layer3.cond.kv_num_blocks']).toMatchObject({ dtype: 'I32', shape: [heads, mask.nQ] });
      expect(header['layer3.cond.kv_indices']).toMatchObject({ dtype: 'I32', shape: [heads, mask.nQ, mask.nK] });
      const [a, b] = header['layer3.cond.kv_num_blocks'].data_offsets;
      const counts = new Int32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLen + a, bytes.byteOffset + 8 + headerLen + b));
      for (let r = 0; r < heads * mask.nQ; r++) expect(counts[r]).toBe(mask.rowPtr[r + 1] - mask.rowPtr[r]);
    });
  }

  it('a safetensors file without mask metadata is refused with a typed error', async () => {
    const path = join(dir, 'plain.safetensors');
    await writeSafetensors(path, { x: { dtype: 'i32', shape: [2], data: new Int32Array([1, 2]) } });
    await expect(readMaskFile(path)).rejects.toThrow(BlockMaskError);
    await writeFile(join(dir, 'junk.safetensors'), 'not a safetensors file');
    await expect(readMaskFile(join(dir, 'junk.safetensors'))).rejects.toThrow(/junk\.safetensors/);
  });
});

let dir = '';
const ready = mkdtemp(join(tmpdir(), 'mod-dit-predictor-')).then((d) => (dir = d));
await ready;
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
