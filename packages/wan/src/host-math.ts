/**
 * Host-side math the Backend contract does not cover, used once per run on small inputs:
 * Wan's timestep sinusoid (float64 in the reference) and the exact (erf) GELU of the I2V
 * image projection.
 */

/** model.py sinusoidal_embedding_1d for one timestep: [cos(t w_j) | sin(t w_j)], w_j = 10000^(-j/half), in float64. */
export function timestepSinusoid(freqDim: number, t: number): Float64Array {
  const half = freqDim / 2;
  const out = new Float64Array(freqDim);
  for (let j = 0; j < half; j++) {
    const a = t * 10000 ** (-j / half);
    out[j] = Math.cos(a);
    out[half + j] = Math.sin(a);
  }
  return out;
}

/** erf(x) with fractional error below 1.2e-7 everywhere (Chebyshev fit of erfc, Numerical Recipes 6.2). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(poly);
  return x >= 0 ? 1 - erfc : erfc - 1;
}

/** Exact GELU x * Phi(x) (torch.nn.GELU() default). */
export function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Rows of x [rows, n] times W^T (W [m, n], torch Linear layout) plus bias, in float64. */
export function hostLinear(x: ArrayLike<number>, rows: number, w: ArrayLike<number>, bias: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < m; o++) {
      let s = bias[o];
      for (let k = 0; k < n; k++) s += x[r * n + k] * w[o * n + k];
      out[r * m + o] = s;
    }
  return out;
}

/** In-place affine LayerNorm over rows of width n. */
export function hostLayerNorm(x: Float64Array, n: number, weight: ArrayLike<number>, bias: ArrayLike<number>, eps: number): Float64Array {
  for (let r = 0; r < x.length / n; r++) {
    let mean = 0;
    for (let k = 0; k < n; k++) mean += x[r * n + k];
    mean /= n;
    let v = 0;
    for (let k = 0; k < n; k++) v += (x[r * n + k] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + eps);
    for (let k = 0; k < n; k++) x[r * n + k] = (x[r * n + k] - mean) * inv * weight[k] + bias[k];
  }
  return x;
}
