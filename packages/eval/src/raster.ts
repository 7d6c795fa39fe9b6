import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './bitmap-font.js';
import { EvalConfigError } from './eval-error.js';

/** An RGB colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number];

/** A small RGB drawing surface for the harness's figures; drawing outside the image is clipped. */
export class Raster {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
      throw new EvalConfigError(`raster size must be positive integers, got ${width}x${height}`);
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    this.rect(0, 0, width, height, background);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.pixels[o] = c[0];
    this.pixels[o + 1] = c[1];
    this.pixels[o + 2] = c[2];
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++)
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.set(xx, yy, c);
  }

  /** Straight line (DDA), `thickness` pixels square. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const off = Math.floor((thickness - 1) / 2);
    for (let i = 0; i <= steps; i++) {
      const x = Math.round(x0 + ((x1 - x0) * i) / steps);
      const y = Math.round(y0 + ((y1 - y0) * i) / steps);
      this.rect(x - off, y - off, thickness, thickness, c);
    }
  }

  /** Text in the 5x7 font, top-left at (x, y), each font pixel `scale` pixels wide. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): void {
    for (let i = 0; i < s.length; i++) {
      const rows = glyph(s[i]);
      for (let r = 0; r < GLYPH_HEIGHT; r++)
        for (let b = 0; b < 5; b++) if (rows[r] & (0x10 >> b)) this.rect(x + (i * GLYPH_WIDTH + b) * scale, y + r * scale, scale, scale, c);
    }
  }

  /** Width in pixels of `s` drawn at `scale`. */
  static textWidth(s: string, scale = 1): number {
    return s.length * GLYPH_WIDTH * scale;
  }
}
