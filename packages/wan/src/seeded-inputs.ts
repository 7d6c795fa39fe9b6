import { Rng } from '@mod-dit/tensor';
import type { LatentShape, WanConfig } from './config.js';
import type { WanInputs } from './inputs.js';

/**
 * Stand-in encoder outputs for runs without real embeddings (the CLI's embedded default):
 * N(0, 1) text embeddings of 7 (cond) and 5 (uncond) tokens, and for I2V 9 CLIP tokens and a
 * random conditioning latent. They exercise every code path; they mean nothing.
 */
export function seededInputs(config: WanConfig, seed: number, latent: LatentShape): WanInputs {
  const r = new Rng(seed ^ 0x5eed);
  const rows = Math.min(7, config.textLen);
  const nullRows = Math.min(5, config.textLen);
  const out: WanInputs = { context: r.normals(rows * config.textDim), contextRows: rows, contextNull: r.normals(nullRows * config.textDim), contextNullRows: nullRows };
  if (config.modelType === 'i2v') {
    const plane = latent.frames * latent.height * latent.width;
    Object.assign(out, { clipFea: r.normals(9 * config.imageDim), clipRows: 9, y: r.normals((config.inDim - config.outDim) * plane) });
  }
  return out;
}
