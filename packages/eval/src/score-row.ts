/**
 * out[j] = qRow . keys[j] for the `tokens` keys of one head ([tokens, dim] row-major,
 * float64); returns the row maximum. Four independent sums: about twice as fast in V8 as
 * one dependent chain, and this loop is where the evaluation spends its time.
 */
export function scoreRow(qRow: Float64Array, keys: Float64Array, tokens: number, dim: number, out: Float64Array): number {
  const d4 = dim - (dim % 4);
  let max = -Infinity;
  for (let j = 0, ko = 0; j < tokens; j++, ko += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d < d4; d += 4) {
      s0 += qRow[d] * keys[ko + d];
      s1 += qRow[d + 1] * keys[ko + d + 1];
      s2 += qRow[d + 2] * keys[ko + d + 2];
      s3 += qRow[d + 3] * keys[ko + d + 3];
    }
    for (; d < dim; d++) s0 += qRow[d] * keys[ko + d];
    const s = s0 + s1 + s2 + s3;
    out[j] = s;
    if (s > max) max = s;
  }
  return max;
}
