import { toFloat32 } from '@mod-dit/tensor';
import { SafetensorsFile } from '@mod-dit/tensor/safetensors';
import type { LatentShape, WanConfig } from './config.js';
import { WanInputError } from './errors.js';

/** What the DiT needs from the encoders, as host float32 arrays with their row counts. */
export interface WanInputs {
  /** umT5-XXL output for the prompt, [L, textDim] (L <= textLen). */
  context: Float32Array;
  contextRows: number;
  /** umT5-XXL output for the negative prompt, [L', textDim]: the unconditional branch. */
  contextNull?: Float32Array;
  contextNullRows?: number;
  /** I2V: CLIP ViT-H/14 penultimate features [257, imageDim]. */
  clipFea?: Float32Array;
  clipRows?: number;
  /** I2V: conditioning latent [inDim - outDim, T, H, W] (4 mask + 16 VAE channels). */
  y?: Float32Array;
}

/**
 * Reads the DiT inputs from one safetensors file (F32, BF16 or F16):
 * `context` [L, textDim] (required), `context_null` [L', textDim] (needed for guidance),
 * and for I2V `clip_fea` [N, imageDim] and `y` [inDim - outDim, T, H, W]. The names are the
 * variables of Wan's generate code. Throws WanInputError naming the tensor on any mismatch.
 */
export async function readWanInputs(path: string, config: WanConfig, latent: LatentShape): Promise<WanInputs> {
  const file = await SafetensorsFile.open(path);
  try {
    const get = async (name: string, rank: number, check: (shape: readonly number[]) => string | undefined, required: boolean) => {
      if (!file.tensors.has(name)) {
        if (required) throw new WanInputError(`${path}: tensor ${name} is missing`);
        return undefined;
      }
      const t = await file.read(name);
      const problem = t.shape.length !== rank ? `rank ${t.shape.length}, expected ${rank}` : check(t.shape);
      if (problem) throw new WanInputError(`${path} [${name}]: shape [${t.shape.join(', ')}]: ${problem}`);
      if (t.dtype !== 'f32' && t.dtype !== 'bf16' && t.dtype !== 'f16') throw new WanInputError(`${path} [${name}]: dtype ${t.dtype}, expected a float`);
      return { data: Float32Array.from(toFloat32(t.data, t.dtype)), rows: t.shape[0] };
    };
    const text = (s: readonly number[]) =>
      s[1] !== config.textDim ? `expected [L, ${config.textDim}]` : s[0] < 1 || s[0] > config.textLen ? `L must be 1..${config.textLen}` : undefined;
    const ctx = (await get('context', 2, text, true)) as { data: Float32Array; rows: number };
    const nul = await get('context_null', 2, text, false);
    const out: WanInputs = { context: ctx.data, contextRows: ctx.rows };
    if (nul) Object.assign(out, { contextNull: nul.data, contextNullRows: nul.rows });
    if (config.modelType === 'i2v') {
      const clip = (await get('clip_fea', 2, (s) => (s[1] !== config.imageDim ? `expected [N, ${config.imageDim}]` : undefined), true)) as { data: Float32Array; rows: number };
      const extra = config.inDim - config.outDim;
      const want = [extra, latent.frames, latent.height, latent.width];
      const y = (await get('y', 4, (s) => (s.some((d, i) => d !== want[i]) ? `expected [${want.join(', ')}]` : undefined), true)) as { data: Float32Array };
      Object.assign(out, { clipFea: clip.data, clipRows: clip.rows, y: y.data });
    } else {
      for (const name of ['clip_fea', 'y']) if (file.tensors.has(name)) throw new WanInputError(`${path}: ${name} is an image-to-video input, but ${config.name} is text-to-video`);
    }
    return out;
  } finally {
    await file.close();
  }
}

/** Reads a latent tensor (e.g. noise written by another runtime) and checks its shape [C, T, H, W]. */
export async function readLatent(path: string, name: string, latent: LatentShape): Promise<Float32Array> {
  const file = await SafetensorsFile.open(path);
  try {
    if (!file.tensors.has(name)) throw new WanInputError(`${path}: tensor ${name} is missing (have: ${[...file.tensors.keys()].join(', ') || 'none'})`);
    const t = await file.read(name);
    const want = [latent.channels, latent.frames, latent.height, latent.width];
    if (t.shape.length !== 4 || t.shape.some((d, i) => d !== want[i])) throw new WanInputError(`${path} [${name}]: shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
    if (t.dtype !== 'f32' && t.dtype !== 'bf16' && t.dtype !== 'f16') throw new WanInputError(`${path} [${name}]: dtype ${t.dtype}, expected a float`);
    return Float32Array.from(toFloat32(t.data, t.dtype));
  } finally {
    await file.close();
  }
}
