// M^T s of a sparsity map in plain JavaScript (see projection-simd.ts for the WebAssembly path).

/**
 * Adds M^T s of every head of `map` [heads, n, n] to `out` [heads, 3n] (projectMap's layout:
 * diagonal sums, column sums, tile sum) in plain JavaScript, float64 sums: the path for
 * runtimes without WebAssembly SIMD. `out` must start zeroed.
 */
export function projectMapScalar(map: Float32Array, heads: number, n: number, tileStart: Int32Array, tileEnd: Int32Array, out: Float64Array): void {
  const nd = 2 * n - 1;
  const size = 3 * n;
  for (let h = 0; h < heads; h++) {
    const base = h * size;
    const colBase = base + nd;
    let i = 0;
    for (; i + ROW_GROUP <= n; i += ROW_GROUP) addRowGroup(map, out, (h * n + i) * n, colBase, base + n - 1 - (i + ROW_GROUP - 1), n);
    for (; i < n; i++) {
      const row = (h * n + i) * n;
      const diagBase = base + n - 1 - i;
      for (let j = 0; j < n; j++) {
        const v = map[row + j];
        out[colBase + j] += v;
        out[diagBase + j] += v;
      }
    }
    let tile = 0;
    for (let i = 0; i < n; i++) {
      const row = (h * n + i) * n;
      for (let j = row + tileStart[i], e = row + tileEnd[i]; j < e; j++) tile += map[j];
    }
    out[base + size - 1] = tile;
  }
}

/** Rows handled together by {@link addRowGroup}. */
const ROW_GROUP = 8;

/**
 * Adds 8 consecutive map rows (starting at flat index r0) to the column sums at colBase and
 * the diagonal sums, where diagLast + j is the diagonal of (last row of the group, column j).
 * Each entry is loaded once. Row t's entry at column j lies on the same diagonal as the last
 * row's entry at column j + 7 - t, so the diagonal partial sums ride a 7-deep register
 * pipeline (p0..p6) and each float64 diagonal and column sum is written once per 8 entries.
 */
function addRowGroup(map: Float32Array, out: Float64Array, r0: number, colBase: number, diagLast: number, n: number): void {
  const r1 = r0 + n;
  const r2 = r1 + n;
  const r3 = r2 + n;
  const r4 = r3 + n;
  const r5 = r4 + n;
  const r6 = r5 + n;
  const r7 = r6 + n;
  // p_t: the sum over rows 0..t of the diagonal that reaches row t at the current column
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let p4 = 0;
  let p5 = 0;
  let p6 = 0;
  for (let j = 0; j < n; j++) {
    const v0 = map[r0 + j];
    const v1 = map[r1 + j];
    const v2 = map[r2 + j];
    const v3 = map[r3 + j];
    const v4 = map[r4 + j];
    const v5 = map[r5 + j];
    const v6 = map[r6 + j];
    const v7 = map[r7 + j];
    out[colBase + j] += v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
    out[diagLast + j] += p6 + v7;
    p6 = p5 + v6;
    p5 = p4 + v5;
    p4 = p3 + v4;
    p3 = p2 + v3;
    p2 = p1 + v2;
    p1 = p0 + v1;
    p0 = v0;
  }
  // diagonals that leave the grid before the group's last row
  out[diagLast + n] += p6;
  out[diagLast + n + 1] += p5;
  out[diagLast + n + 2] += p4;
  out[diagLast + n + 3] += p3;
  out[diagLast + n + 4] += p2;
  out[diagLast + n + 5] += p1;
  out[diagLast + n + 6] += p0;
}
