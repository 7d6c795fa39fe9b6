// Independent references for the predictor tests: the design matrix M formed explicitly
// from token-level frame membership, dense float64 normal equations and a dense Cholesky.

/** Frames (set) each block's tokens fall in, computed token by token. */
function blockFrames(videoTokens: number, tokensPerFrame: number, blockSize: number): Set<number>[] {
  const n = Math.ceil(videoTokens / blockSize);
  const out: Set<number>[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Set<number>();
    for (let t = i * blockSize; t < Math.min((i + 1) * blockSize, videoTokens); t++) s.add(Math.floor(t / tokensPerFrame));
    out.push(s);
  }
  return out;
}

/** Whether blocks i and j share a frame: the tile indicator E. */
export function tileIndicator(videoTokens: number, tokensPerFrame: number, blockSize: number): Uint8Array {
  const frames = blockFrames(videoTokens, tokensPerFrame, blockSize);
  const n = frames.length;
  const e = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) e[i * n + j] = [...frames[i]].some((f) => frames[j].has(f)) ? 1 : 0;
  return e;
}

/** M [n*n, 3n]: column kk = diagonal k = kk - (n-1), column 2n-1+j = block column j, last = tiles. */
export function designMatrix(videoTokens: number, tokensPerFrame: number, blockSize: number): { m: Float64Array; rows: number; cols: number; n: number } {
  const e = tileIndicator(videoTokens, tokensPerFrame, blockSize);
  const n = Math.ceil(videoTokens / blockSize);
  const cols = 3 * n;
  const rows = n * n;
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const r = i * n + j;
      m[r * cols + (j - i + n - 1)] = 1;
      m[r * cols + 2 * n - 1 + j] = 1;
      m[r * cols + cols - 1] = e[r];
    }
  return { m, rows, cols, n };
}

/** M^T M + lambda I by explicit products. */
export function bruteGram(d: { m: Float64Array; rows: number; cols: number }, lambda: number): Float64Array {
  const { m, rows, cols } = d;
  const a = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++)
    for (let p = 0; p < cols; p++) {
      const v = m[r * cols + p];
      if (v === 0) continue;
      for (let q = 0; q < cols; q++) a[p * cols + q] += v * m[r * cols + q];
    }
  for (let p = 0; p < cols; p++) a[p * cols + p] += lambda;
  return a;
}

/** M^T s per head, [heads, cols]. */
export function bruteProject(d: { m: Float64Array; rows: number; cols: number }, map: ArrayLike<number>, heads: number): Float64Array {
  const { m, rows, cols } = d;
  const out = new Float64Array(heads * cols);
  for (let h = 0; h < heads; h++)
    for (let r = 0; r < rows; r++) {
      const s = map[h * rows + r];
      for (let p = 0; p < cols; p++) out[h * cols + p] += m[r * cols + p] * s;
    }
  return out;
}

/** Dense float64 Cholesky solve of A x = b for each of `heads` right-hand sides [heads, size]. */
export function denseSolve(a: Float64Array, size: number, rhs: Float64Array, heads: number): Float64Array {
  const l = new Float64Array(size * size);
  for (let i = 0; i < size; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * size + j];
      for (let k = 0; k < j; k++) s -= l[i * size + k] * l[j * size + k];
      l[i * size + j] = i === j ? Math.sqrt(s) : s / l[j * size + j];
    }
  const out = new Float64Array(heads * size);
  for (let h = 0; h < heads; h++) {
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      let s = rhs[h * size + i];
      for (let k = 0; k < i; k++) s -= l[i * size + k] * y[k];
      y[i] = s / l[i * size + i];
    }
    for (let i = size - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < size; k++) s -= l[k * size + i] * out[h * size + k];
      out[h * size + i] = s / l[i * size + i];
    }
  }
  return out;
}

/** Largest |a - b| / max(1, |b|). */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return e;
}
