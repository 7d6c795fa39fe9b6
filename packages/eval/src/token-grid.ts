import { EvalConfigError } from './eval-error.js';

/**
 * A video token grid in frame-major (t, h, w) order, optionally followed by text tokens
 * (joint attention), cut into blocks of `blockSize` tokens. Blocks cover the video tokens
 * only (the last one may be ragged, and blocks may straddle frames when a frame is not a
 * multiple of the block size); text tokens are never blocked: they stay dense.
 */
export class TokenGrid {
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly textTokens: number;
  readonly blockSize: number;
  /** Tokens per frame (height * width). */
  readonly frameTokens: number;
  /** Video tokens (frames * height * width). */
  readonly videoTokens: number;
  /** All tokens: video then text. */
  readonly tokens: number;
  /** Video blocks (ceil(videoTokens / blockSize)). */
  readonly blocks: number;

  constructor(grid: readonly [number, number, number], opts: { textTokens?: number; blockSize?: number } = {}) {
    const [frames, height, width] = grid;
    for (const [name, v] of [['frames', frames], ['height', height], ['width', width]] as const)
      if (!Number.isInteger(v) || v < 1) throw new EvalConfigError(`grid ${name} must be a positive integer, got ${v}`);
    const textTokens = opts.textTokens ?? 0;
    if (!Number.isInteger(textTokens) || textTokens < 0) throw new EvalConfigError(`textTokens must be a non-negative integer, got ${textTokens}`);
    const blockSize = opts.blockSize ?? 128;
    if (blockSize !== 64 && blockSize !== 128) throw new EvalConfigError(`blockSize must be 64 or 128, got ${blockSize}`);
    this.frames = frames;
    this.height = height;
    this.width = width;
    this.textTokens = textTokens;
    this.blockSize = blockSize;
    this.frameTokens = height * width;
    this.videoTokens = frames * this.frameTokens;
    this.tokens = this.videoTokens + textTokens;
    this.blocks = Math.ceil(this.videoTokens / blockSize);
  }

  /** (t, h, w) of video token `i`. */
  coord(i: number): [number, number, number] {
    const t = Math.floor(i / this.frameTokens);
    const r = i - t * this.frameTokens;
    return [t, Math.floor(r / this.width), r % this.width];
  }

  /** Tokens in video block `b` (the last one may be ragged). */
  blockTokens(b: number): number {
    return Math.min(this.blockSize, this.videoTokens - b * this.blockSize);
  }

  /** Mean (t, h, w) of each video block's tokens, [blocks * 3]: where a block "is" for window-style masks. */
  blockCenters(): Float64Array {
    const out = new Float64Array(this.blocks * 3);
    for (let i = 0; i < this.videoTokens; i++) {
      const b = Math.floor(i / this.blockSize);
      const [t, h, w] = this.coord(i);
      out[b * 3] += t;
      out[b * 3 + 1] += h;
      out[b * 3 + 2] += w;
    }
    for (let b = 0; b < this.blocks; b++) for (let a = 0; a < 3; a++) out[b * 3 + a] /= this.blockTokens(b);
    return out;
  }
}
