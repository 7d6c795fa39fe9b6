// Inputs and outputs of the attention benchmarks as raw bits, the form the PyTorch scripts
// (attention_torch.py, webgpu_attention_torch.py) read back with numpy.fromfile.
import { writeFileSync } from 'node:fs';
import { BlockLayout, buildMask, fitFeatures, predictFeatures } from '@mod-dit/predictor';
import { Rng } from '@mod-dit/tensor';
import { disposeResult } from './timed-calls.mjs';

/** n Gaussian N(0, std) values as 16-bit float bits; `encode` is f32ToBf16 or f32ToF16. */
export function randomHalfBits(rng, n, std, encode) {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = encode(rng.normal() * std);
  return out;
}

/** Writes a tensor's raw elements (its dtype's bits, row-major) to `path`. */
export async function writeTensorBytes(path, t) {
  writeFileSync(path, Buffer.from((await t.read()).buffer));
}

/**
 * One sparse case for the PyTorch side: the mask's FlexAttention layout (mask_<d>_num.bin,
 * mask_<d>_idx.bin) and our output with it (ours_sparse_<d>.bin). Returns the layout.
 */
export async function writeSparseCase(backend, dir, density, mask, q, k, v) {
  const flex = mask.toFlex();
  writeFileSync(`${dir}/mask_${density}_num.bin`, Buffer.from(flex.kvNumBlocks.buffer));
  writeFileSync(`${dir}/mask_${density}_idx.bin`, Buffer.from(flex.kvIndices.buffer));
  const sparse = backend.attention(q, k, v, { mask });
  await writeTensorBytes(`${dir}/ours_sparse_${density}.bin`, sparse.out);
  disposeResult(sparse);
  return flex;
}

/**
 * The predictor's masks for a video shape ({ frames, perFrame, extra? text tokens last }, H
 * heads; frames x perFrame + extra tokens): it fits two synthetic block maps with video structure (frame diagonals, sinks,
 * intra-frame tiles) over the video blocks, extrapolates, and masks each head to the density
 * target (block 128); text rows and columns (if any) are always on. Returns density -> BlockMask
 * (the fit runs on the first call).
 */
export function videoMasks(shape, H) {
  const textTokens = shape.extra ?? 0;
  const layout = new BlockLayout({ videoTokens: shape.frames * shape.perFrame, tokensPerFrame: shape.perFrame, blockSize: 128 });
  const videoMap = (seed) => {
    const rng = new Rng(seed);
    const n = layout.n;
    const map = new Float32Array(H * n * n);
    const frameBlocks = shape.perFrame / 128;
    for (let h = 0; h < H; h++) {
      const diags = [0, ...Array.from({ length: 4 }, () => Math.round(rng.int(1, shape.frames) * frameBlocks) * (rng.uniform() < 0.5 ? -1 : 1))];
      const sinks = Array.from({ length: 3 }, () => rng.int(0, n));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0.98;
          if (diags.some((d) => Math.abs(j - i - d) <= 1) || sinks.includes(j)) s = 0.2 + 0.3 * rng.uniform();
          if (j >= layout.tileStart[i] && j < layout.tileEnd[i]) s = Math.min(s, 0.4 + 0.3 * rng.uniform());
          map[(h * n + i) * n + j] = Math.min(1, Math.max(0, s + 0.02 * (rng.uniform() - 0.5)));
        }
    }
    return map;
  };
  let predicted; // fitted on the first call
  return (density) => {
    predicted ??= predictFeatures(fitFeatures(videoMap(1), H, layout), fitFeatures(videoMap(2), H, layout), { interval: 10 });
    return buildMask(predicted, layout, { budget: { kind: 'density', density }, textTokens });
  };
}
