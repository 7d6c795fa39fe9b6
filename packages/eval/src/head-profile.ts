import type { Rng } from '@mod-dit/tensor';

/** The structural family a synthetic attention head belongs to. */
export type HeadKind = 'spatial' | 'temporal' | 'mixed' | 'sink';

/** Every head kind, in the order reports list them. */
export const HEAD_KINDS: readonly HeadKind[] = ['spatial', 'temporal', 'mixed', 'sink'];

/**
 * A head's logit design at one denoising step. The designed logit between video query x
 * and video key y is sum over axes a of beta[a] * kernel_a(x_a - y_a; sigma[a]) (kernel 1
 * at distance 0, ~0 beyond a few sigma), plus `sink` for sink keys and `text` for text keys;
 * content noise of std ~`noise` (logit units) is added through q and k.
 */
export interface HeadState {
  kind: HeadKind;
  /** Peak logit of the (t, h, w) proximity terms. */
  beta: [number, number, number];
  /** Width of the (t, h, w) proximity kernels: frames, rows, columns. */
  sigma: [number, number, number];
  /** Logit boost of the layer's sink keys. */
  sink: number;
  /** Logit boost of text keys for every query. */
  text: number;
  /** Std of the content-noise logit term q_noise . k_noise (the cross terms add more). */
  noise: number;
}

type Range = readonly [number, number];
interface KindRanges {
  beta: readonly [Range, Range];
  sigma: readonly [Range, Range];
  sink: Range;
}

// Values at the end of denoising (sharpest). [t, spatial] pairs; h and w share a range.
const RANGES: Record<HeadKind, KindRanges> = {
  spatial: { beta: [[5, 7], [3, 5]], sigma: [[0.3, 0.45], [1.5, 3]], sink: [0, 2] },
  temporal: { beta: [[2.5, 4], [4, 6]], sigma: [[1.5, 4], [0.5, 0.8]], sink: [0, 2] },
  mixed: { beta: [[3, 5], [3, 5]], sigma: [[0.8, 1.5], [1.5, 3]], sink: [1, 3] },
  sink: { beta: [[0.5, 1.5], [0.5, 1.5]], sigma: [[1, 3], [3, 6]], sink: [7, 10] },
};

/**
 * A head's parameters over a whole denoising run: kind-specific values at the end of
 * denoising, a sharpening ramp (logits grow and noise falls as the step advances) and a
 * slow per-parameter sinusoidal wander, so the map drifts smoothly from step to step.
 */
export class HeadProfile {
  readonly kind: HeadKind;
  private readonly end: HeadState;
  /** Per-parameter [amplitude, frequency (cycles per run), phase] of the wander. */
  private readonly wander: [number, number, number][];

  constructor(kind: HeadKind, rng: Rng) {
    const r = RANGES[kind];
    const u = (range: Range) => range[0] + (range[1] - range[0]) * rng.uniform();
    const spatialBeta = u(r.beta[1]);
    const spatialSigma = u(r.sigma[1]);
    this.kind = kind;
    this.end = {
      kind,
      beta: [u(r.beta[0]), spatialBeta * (0.9 + 0.2 * rng.uniform()), spatialBeta * (0.9 + 0.2 * rng.uniform())],
      sigma: [u(r.sigma[0]), spatialSigma * (0.85 + 0.3 * rng.uniform()), spatialSigma * (0.85 + 0.3 * rng.uniform())],
      sink: u(r.sink),
      text: u([3, 7]),
      noise: u([0.3, 0.6]),
    };
    this.wander = Array.from({ length: 9 }, () => [0.06 + 0.08 * rng.uniform(), 0.3 + 0.9 * rng.uniform(), 2 * Math.PI * rng.uniform()]);
  }

  /** Parameters at progress `u` in [0, 1] (0 = first, noisiest step; 1 = last step). */
  at(u: number): HeadState {
    const w = (i: number) => {
      const [amp, freq, phase] = this.wander[i];
      return 1 + amp * Math.sin(2 * Math.PI * freq * u + phase);
    };
    // Logits sharpen as noise falls: 60% of their final scale at the first step.
    const sharpen = 0.6 + 0.4 * u;
    // Kernels narrow slightly over the run (coarse layout first, detail later).
    const narrow = 1.2 - 0.2 * u;
    const e = this.end;
    return {
      kind: this.kind,
      beta: [e.beta[0] * sharpen * w(0), e.beta[1] * sharpen * w(1), e.beta[2] * sharpen * w(2)],
      sigma: [e.sigma[0] * narrow * w(3), e.sigma[1] * narrow * w(4), e.sigma[2] * narrow * w(5)],
      sink: e.sink * sharpen * w(6),
      text: e.text * sharpen * w(7),
      noise: e.noise * (1.6 - 0.6 * u) * w(8),
    };
  }
}
