/** Float64 brute-force attention for one head, written independently of the package code. */
export function denseProbabilities(q: Float32Array, k: Float32Array, head: number, tokens: number, dim: number, row: number, keep?: (j: number) => boolean): Float64Array {
  const base = head * tokens * dim;
  const s = new Float64Array(tokens);
  let max = -Infinity;
  for (let j = 0; j < tokens; j++) {
    if (keep && !keep(j)) {
      s[j] = -Infinity;
      continue;
    }
    let acc = 0;
    for (let d = 0; d < dim; d++) acc += q[base + row * dim + d] * k[base + j * dim + d];
    s[j] = acc / Math.sqrt(dim);
    max = Math.max(max, s[j]);
  }
  const p = new Float64Array(tokens);
  if (max === -Infinity) return p;
  let z = 0;
  for (let j = 0; j < tokens; j++) z += p[j] = Math.exp(s[j] - max);
  for (let j = 0; j < tokens; j++) p[j] /= z;
  return p;
}

/** Output row = sum_j p_j v_j for one head. */
export function outputRow(p: Float64Array, v: Float32Array, head: number, tokens: number, dim: number): Float64Array {
  const out = new Float64Array(dim);
  for (let j = 0; j < tokens; j++) for (let d = 0; d < dim; d++) out[d] += p[j] * v[(head * tokens + j) * dim + d];
  return out;
}
