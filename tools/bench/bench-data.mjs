// Inputs and outputs of the attention benchmarks as raw bits, the form the PyTorch scripts
// (attention_torch.py, webgpu_attention_torch.py) read back with numpy.fromfile.
import { writeFileSync } from 'node:fs';
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
