import { WanInputError } from './errors.js';

/** Architecture of one Wan2.1 DiT (wan/modules/model.py WanModel arguments). */
export interface WanConfig {
  readonly name: string;
  readonly modelType: 't2v' | 'i2v';
  readonly patch: readonly [number, number, number];
  /** Text tokens the context is zero-padded to (512). */
  readonly textLen: number;
  /** Input channels: 16 latent (+ 20 conditioning for I2V). */
  readonly inDim: number;
  readonly dim: number;
  readonly ffnDim: number;
  /** Width of the timestep sinusoid (256). */
  readonly freqDim: number;
  /** Width of the text embeddings (umT5-XXL: 4096). */
  readonly textDim: number;
  readonly outDim: number;
  readonly heads: number;
  readonly layers: number;
  readonly eps: number;
  /** Width of the CLIP image features (1280); I2V only. */
  readonly imageDim: number;
}

/** Sampling defaults of the official generate.py for a model. */
export interface WanSamplingDefaults {
  readonly steps: number;
  readonly shift: number;
  readonly guidance: number;
}

const BASE = { patch: [1, 2, 2] as const, textLen: 512, inDim: 16, freqDim: 256, textDim: 4096, outDim: 16, eps: 1e-6, imageDim: 1280 };

/**
 * The released Wan2.1 DiTs, and two tiny Wan-shaped models (the golden fixture's and the CLI's
 * embedded default). head_dim 32 for the tiny ones gives the uneven RoPE split [12, 10, 10].
 */
export const WAN_CONFIGS: Readonly<Record<string, WanConfig>> = {
  't2v-1.3B': { ...BASE, name: 't2v-1.3B', modelType: 't2v', dim: 1536, ffnDim: 8960, heads: 12, layers: 30 },
  't2v-14B': { ...BASE, name: 't2v-14B', modelType: 't2v', dim: 5120, ffnDim: 13824, heads: 40, layers: 40 },
  'i2v-14B': { ...BASE, name: 'i2v-14B', modelType: 'i2v', inDim: 36, dim: 5120, ffnDim: 13824, heads: 40, layers: 40 },
  'tiny-t2v': { ...BASE, name: 'tiny-t2v', modelType: 't2v', dim: 64, ffnDim: 88, heads: 2, layers: 2, textLen: 16, textDim: 32 },
  'tiny-i2v': { ...BASE, name: 'tiny-i2v', modelType: 'i2v', dim: 64, ffnDim: 88, heads: 2, layers: 2, textLen: 16, textDim: 32, inDim: 36, imageDim: 24 },
};

/** generate.py: 50 steps for T2V (40 for I2V), shift 5 (3 for I2V at 480p), guidance 5. */
export function samplingDefaults(config: WanConfig, latentHeight?: number): WanSamplingDefaults {
  if (config.modelType === 'i2v') return { steps: 40, shift: latentHeight === 60 || latentHeight === 104 ? 3 : 5, guidance: 5 };
  return { steps: 50, shift: 5, guidance: 5 };
}

/** Looks a config up by name; throws WanInputError listing the known names. */
export function wanConfig(name: string): WanConfig {
  const c = WAN_CONFIGS[name];
  if (!c) throw new WanInputError(`unknown Wan model ${JSON.stringify(name)}; known: ${Object.keys(WAN_CONFIGS).join(', ')}`);
  return c;
}

/** model.py's RoPE split of head_dim d: [d - 4(d/6), 2(d/6), 2(d/6)] for (t, h, w); [44, 42, 42] at d = 128. */
export function ropeSplit(headDim: number): [number, number, number] {
  const d6 = Math.floor(headDim / 6);
  return [headDim - 4 * d6, 2 * d6, 2 * d6];
}

/** Latent geometry of a video: VAE stride (4, 8, 8), 16 channels, frames = 4k + 1. */
export interface LatentShape {
  readonly channels: number;
  readonly frames: number;
  readonly height: number;
  readonly width: number;
}

/** Latent of a width x height x frames video; throws WanInputError when it does not divide. */
export function latentForVideo(width: number, height: number, frames: number, channels = 16): LatentShape {
  if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % 4 !== 0) throw new WanInputError(`frames must be 4k + 1 (the VAE's temporal stride), got ${frames}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width % 16 || height % 16 || width <= 0 || height <= 0)
    throw new WanInputError(`video size ${width}x${height} must be positive multiples of 16 (VAE stride 8 x patch 2)`);
  return { channels, frames: (frames - 1) / 4 + 1, height: height / 8, width: width / 8 };
}

/** Token grid [t, h, w] of a latent after the (1, 2, 2) patch; throws WanInputError when it does not divide. */
export function tokenGrid(config: WanConfig, latent: LatentShape): [number, number, number] {
  const [pt, ph, pw] = config.patch;
  if (latent.frames % pt || latent.height % ph || latent.width % pw)
    throw new WanInputError(`latent [${latent.frames}, ${latent.height}, ${latent.width}] is not divisible by the patch [${pt}, ${ph}, ${pw}]`);
  return [latent.frames / pt, latent.height / ph, latent.width / pw];
}
