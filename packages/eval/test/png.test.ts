import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { Rng } from '@mod-dit/tensor';
import { describe, expect, it } from 'vitest';
import { EvalConfigError, Raster, maskHeatmapFigure, recallCurveFigure } from '../src/index.js';
import { crc32, encodePng } from '../src/node.js';

interface Chunk {
  type: string;
  data: Buffer;
  crc: number;
}

function chunks(png: Uint8Array): Chunk[] {
  const buf = Buffer.from(png);
  const out: Chunk[] = [];
  let o = 8;
  while (o < buf.length) {
    const len = buf.readUInt32BE(o);
    const type = buf.toString('latin1', o + 4, o + 8);
    out.push({ type, data: buf.subarray(o + 8, o + 8 + len), crc: buf.readUInt32BE(o + 8 + len) });
    expect(buf.readUInt32BE(o + 8 + len)).toBe(zlibCrc32(buf.subarray(o + 4, o + 8 + len)));
    o += 12 + len;
  }
  expect(o).toBe(buf.length);
  return out;
}

/** Decodes our PNGs (8-bit RGB, filter 0 only) back to pixels. */
function decode(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const cs = chunks(png);
  expect(cs.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = cs[0].data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  expect([...ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
  const raw = inflateSync(cs[1].data);
  expect(raw.length).toBe(height * (width * 3 + 1));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  }
  return { width, height, rgb };
}

describe('encodePng', () => {
  it('writes a valid PNG that inflates back to the pixels', () => {
    const rng = new Rng(8);
    for (const [w, h] of [[1, 1], [7, 3], [33, 17]]) {
      const rgb = Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 256));
      const img = decode(encodePng(w, h, rgb));
      expect([img.width, img.height]).toEqual([w, h]);
      expect(Buffer.from(img.rgb).equals(Buffer.from(rgb))).toBe(true);
    }
  });

  it('computes the IEEE CRC-32 that zlib computes', () => {
    const rng = new Rng(2);
    const bytes = Uint8Array.from({ length: 1001 }, () => rng.int(0, 256));
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    expect(crc32(new TextEncoder().encode('IEND'))).toBe(0xae426082);
  });

  it('rejects wrong pixel counts', () => {
    expect(() => encodePng(2, 2, new Uint8Array(11))).toThrow(/got 11 bytes, expected 2x2x3 = 12/);
    expect(() => encodePng(0, 2, new Uint8Array(0))).toThrow(EvalConfigError);
  });
});

describe('figures', () => {
  it('draws a heatmap whose blocks are green where computed and red where mass is missed', () => {
    const n = 4;
    const mass = Float64Array.from({ length: n * n }, (_, c) => (c % 5 === 0 ? 1 : 0.2));
    const mask = Uint8Array.from({ length: n * n }, (_, c) => (c % 5 === 0 ? 1 : 0));
    const fig = maskHeatmapFigure({ title: 'T', rows: n, cols: n, rowLabels: ['H0'], columnLabels: ['S1'], cells: [[{ mass, mask }]] });
    const img = decode(encodePng(fig.width, fig.height, fig.pixels));
    const px = Math.floor(160 / n);
    // documented encoding: brightness v = 1 + log10(share of the row) / 3
    const vDiag = 1 + Math.log10(1 / 1.6) / 3;
    const green = [0, Math.round(60 + 195 * vDiag), Math.round(30 + 90 * vDiag)];
    let first = -1;
    for (let i = 0; i < img.width * img.height && first < 0; i++)
      if (img.rgb[i * 3] === green[0] && img.rgb[i * 3 + 1] === green[1] && img.rgb[i * 3 + 2] === green[2]) first = i;
    expect(first).toBeGreaterThan(0);
    const x0 = first % img.width;
    const y0 = Math.floor(first / img.width);
    const at = (bx: number, by: number) => {
      const o = ((y0 + by * px + 1) * img.width + x0 + bx * px + 1) * 3;
      return [img.rgb[o], img.rgb[o + 1], img.rgb[o + 2]];
    };
    expect(at(1, 1)).toEqual(green); // diagonal: computed
    const vOff = 1 + Math.log10(0.2 / 1.6) / 3;
    expect(at(1, 0)).toEqual([Math.round(255 * vOff), Math.round(30 * vOff), Math.round(30 * vOff)]); // skipped with mass: red
  });

  it('draws recall curves on a canvas with a legend', () => {
    const fig = recallCurveFigure('RECALL', [
      { name: 'ORACLE', colour: [0, 0, 255], points: [[0.1, 0.5], [0.5, 0.9], [1, 1]] },
      { name: 'MOD', colour: [255, 0, 0], points: [[0.3, 0.7]], markers: true },
    ]);
    const img = decode(encodePng(fig.width, fig.height, fig.pixels));
    expect(img.width).toBe(fig.width);
    let blue = 0;
    let red = 0;
    for (let i = 0; i < img.rgb.length; i += 3) {
      if (img.rgb[i] === 0 && img.rgb[i + 1] === 0 && img.rgb[i + 2] === 255) blue++;
      if (img.rgb[i] === 255 && img.rgb[i + 1] === 0 && img.rgb[i + 2] === 0) red++;
    }
    expect(blue).toBeGreaterThan(400); // a 2-px line across most of the plot
    expect(red).toBe(13 * 13 + 14 * 10); // the second series 13x13 marker and its legend swatch
    expect(() => recallCurveFigure('EMPTY', [])).toThrow(EvalConfigError);
    const blank = new Raster(3, 2);
    expect(encodePng(blank.width, blank.height, blank.pixels).length).toBeGreaterThan(8);
  });
});
