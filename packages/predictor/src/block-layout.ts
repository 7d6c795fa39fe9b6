import { BLOCK_SIZES } from '@mod-dit/tensor';
import { InvalidOptionError } from './errors.js';

/** The video token grid a sparsity map is measured on. */
export interface VideoGeometry {
  /** Video tokens in frame-major (t, h, w) order: frames * tokensPerFrame. The last block may be ragged. */
  videoTokens: number;
  /** Tokens of one latent frame (h * w after patchify). Need not be a multiple of the block size (Wan 480p: 1560). */
  tokensPerFrame: number;
  /** Block edge in tokens: 128 (default) or 64. */
  blockSize?: number;
}

/**
 * The n x n block grid of a video sparsity map and its frame tiles.
 *
 * Frame tiles where frames do not align to blocks: block I and block J are in the same
 * tile when some frame has tokens in both ("a block belongs to every frame its tokens
 * overlap"). Each block row's tile is then one contiguous key-block range
 * [tileStart[I], tileEnd[I]), which is what keeps M^T M countable in O(n). When
 * tokensPerFrame is a multiple of the block size this is exactly the reference's
 * f x f tiles on the diagonal.
 */
export class BlockLayout {
  readonly videoTokens: number;
  readonly tokensPerFrame: number;
  readonly blockSize: number;
  readonly frames: number;
  /** Blocks per side of the map: ceil(videoTokens / blockSize). */
  readonly n: number;
  /** First key block of block row I's frame tile. */
  readonly tileStart: Int32Array;
  /** One past the last key block of block row I's frame tile. */
  readonly tileEnd: Int32Array;
  /** Identity of the geometry: equal keys mean equal M^T M. */
  readonly key: string;

  constructor(geometry: VideoGeometry) {
    const blockSize = geometry.blockSize ?? 128;
    const { videoTokens, tokensPerFrame } = geometry;
    if (!BLOCK_SIZES.includes(blockSize)) throw new InvalidOptionError(`blockSize must be one of ${BLOCK_SIZES.join(', ')}, got ${blockSize}`);
    for (const [name, v] of [['videoTokens', videoTokens], ['tokensPerFrame', tokensPerFrame]] as const)
      if (!Number.isInteger(v) || v <= 0) throw new InvalidOptionError(`${name} must be a positive integer, got ${v}`);
    if (videoTokens % tokensPerFrame !== 0)
      throw new InvalidOptionError(`videoTokens (${videoTokens}) must be a whole number of frames of tokensPerFrame (${tokensPerFrame}) tokens`);
    this.videoTokens = videoTokens;
    this.tokensPerFrame = tokensPerFrame;
    this.blockSize = blockSize;
    this.frames = videoTokens / tokensPerFrame;
    const n = Math.ceil(videoTokens / blockSize);
    this.n = n;
    this.tileStart = new Int32Array(n);
    this.tileEnd = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const firstFrame = Math.floor((i * blockSize) / tokensPerFrame);
      const lastFrame = Math.floor((Math.min((i + 1) * blockSize, videoTokens) - 1) / tokensPerFrame);
      this.tileStart[i] = Math.floor((firstFrame * tokensPerFrame) / blockSize);
      this.tileEnd[i] = Math.floor(((lastFrame + 1) * tokensPerFrame - 1) / blockSize) + 1;
    }
    this.key = `${videoTokens}/${tokensPerFrame}/${blockSize}`;
  }

  /** Unknowns of the linear model: 2n-1 diagonals + n columns + 1 tile weight. */
  get unknowns(): number {
    return 3 * this.n;
  }

  /** Expected length of a map [heads, n, n]. */
  mapLength(heads: number): number {
    return heads * this.n * this.n;
  }
}
