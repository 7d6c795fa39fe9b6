// Inputs and outputs of the attention benchmarks as raw bits, the form the PyTorch scripts
// (attention_torch.py, webgpu_attention_torch.py) read back with numpy.fromfile.
import { writeFileSync } from 'node:fs';

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
