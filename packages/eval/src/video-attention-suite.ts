import { Rng } from '@mod-dit/tensor';
import { EvalConfigError } from './eval-error.js';
import { HEAD_KINDS, type HeadKind, HeadProfile, type HeadState } from './head-profile.js';
import { TokenGrid } from './token-grid.js';

/** Options of {@link VideoAttentionSuite}. */
export interface VideoAttentionSuiteOptions {
  /** Video token grid [frames, height, width], frame-major. */
  grid: readonly [number, number, number];
  /** Text tokens appended after the video tokens (joint attention); default 0. */
  textTokens?: number;
  /** Block edge the evaluation uses (64 or 128); default 128. */
  blockSize?: number;
  heads: number;
  /** Head dimension; at least 2 * 3 + 2 = 8 (one frequency per axis, sink and text dims). */
  headDim: number;
  /** Independent layers (each draws its own heads); default 1. */
  layers?: number;
  /** Guidance branches (share head parameters, partly correlated content); default 1. */
  branches?: number;
  /** Denoising steps of the run; default 50. */
  steps?: number;
  seed?: number;
  /** Head kinds, cycled over heads (shifted by one per layer); default all four kinds. */
  kinds?: readonly HeadKind[];
  /** Sink key tokens per layer; default 3. */
  sinkTokens?: number;
}

/** Where in the run an attention call happens. */
export interface AttentionSite {
  step: number;
  layer: number;
  branch: number;
}

/** q, k, v [1, heads, tokens, headDim] (row-major f32) of one attention call, and the heads' designs. */
export interface AttentionSample {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  shape: [1, number, number, number];
  heads: HeadState[];
}

/**
 * Synthetic q, k, v whose attention has the structure video DiTs show. Position enters like
 * 3D RoPE: per axis, cos/sin features of the token coordinate at geometric frequencies, with
 * per-head amplitudes that set each axis's kernel width, so q.k is a sum of per-axis
 * proximity kernels (additive logits = a product of per-axis attention falloffs). A sink
 * dimension makes a few key tokens attractive to every query, a text dimension does the same
 * for text keys. Content noise (smooth over steps) is added to q, k and v. The softmax
 * structure therefore comes from QK^T, not from a painted map. Logits are designed for the
 * default softmax scale 1/sqrt(headDim).
 */
export class VideoAttentionSuite {
  readonly grid: TokenGrid;
  readonly heads: number;
  readonly headDim: number;
  readonly layers: number;
  readonly branches: number;
  readonly steps: number;
  readonly seed: number;
  /** Frequencies per axis (t, h, w); the feature dims are laid out t, h, w pairs, then sink, then text. */
  readonly frequencies: [Float64Array, Float64Array, Float64Array];
  private readonly profiles: HeadProfile[][];
  private readonly sinks: Int32Array[];
  private readonly fields = new Map<number, NoiseFields>();

  constructor(opts: VideoAttentionSuiteOptions) {
    this.grid = new TokenGrid(opts.grid, { textTokens: opts.textTokens, blockSize: opts.blockSize });
    const int = (name: string, v: number | undefined, min: number, dflt: number) => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < min) throw new EvalConfigError(`${name} must be an integer >= ${min}, got ${x}`);
      return x;
    };
    this.heads = int('heads', opts.heads, 1, 1);
    this.headDim = int('headDim', opts.headDim, 8, 8);
    this.layers = int('layers', opts.layers, 1, 1);
    this.branches = int('branches', opts.branches, 1, 1);
    this.steps = int('steps', opts.steps, 1, 50);
    this.seed = opts.seed ?? 0;
    const sinkTokens = int('sinkTokens', opts.sinkTokens, 0, 3);
    if (sinkTokens > this.grid.videoTokens) throw new EvalConfigError(`sinkTokens ${sinkTokens} exceeds the ${this.grid.videoTokens} video tokens`);
    const kinds = opts.kinds ?? HEAD_KINDS;
    if (kinds.length === 0 || kinds.some((k) => !HEAD_KINDS.includes(k)))
      throw new EvalConfigError(`kinds must be a non-empty list of ${HEAD_KINDS.join('|')}, got [${kinds.join(', ')}]`);

    // Pairs per axis: t gets a third (rounded down), h and w split the rest.
    const pairs = Math.floor((this.headDim - 2) / 2);
    const kt = Math.max(1, Math.floor(pairs / 3));
    const kh = Math.max(1, Math.floor((pairs - kt) / 2));
    const kw = pairs - kt - kh;
    const extents = [this.grid.frames, this.grid.height, this.grid.width];
    this.frequencies = [axisFrequencies(kt, extents[0]), axisFrequencies(kh, extents[1]), axisFrequencies(kw, extents[2])];

    this.profiles = [];
    this.sinks = [];
    for (let l = 0; l < this.layers; l++) {
      const rng = new Rng(mixSeed(this.seed, l, 0, 1));
      this.profiles.push(Array.from({ length: this.heads }, (_, h) => new HeadProfile(kinds[(h + l) % kinds.length], rng)));
      const sinks = new Set<number>();
      while (sinks.size < sinkTokens) sinks.add(rng.int(0, this.grid.videoTokens));
      this.sinks.push(Int32Array.from([...sinks].sort((a, b) => a - b)));
    }
  }

  /** Progress in [0, 1] of step `step`. */
  progress(step: number): number {
    return this.steps === 1 ? 1 : step / (this.steps - 1);
  }

  /** The designs of a layer's heads at a step. */
  headStates(step: number, layer: number): HeadState[] {
    this.checkSite({ step, layer, branch: 0 });
    const u = this.progress(step);
    return this.profiles[layer].map((p) => p.at(u));
  }

  /** Sink key tokens of a layer. */
  sinkTokens(layer: number): Int32Array {
    return this.sinks[layer];
  }

  /** Generates the q, k, v of one attention call; the same site always gives the same bits. */
  sample(site: AttentionSite): AttentionSample {
    this.checkSite(site);
    const { tokens, videoTokens } = this.grid;
    const H = this.heads;
    const D = this.headDim;
    const heads = this.headStates(site.step, site.layer);
    const q = new Float32Array(H * tokens * D);
    const k = new Float32Array(H * tokens * D);
    const v = new Float32Array(H * tokens * D);
    // Logits are q.k / sqrt(D): both sides carry D^(1/4) so the designed values come out.
    const gain = Math.pow(D, 0.25);
    // Content noise moves along a great circle between two fixed fields: smooth over steps.
    const angle = (Math.PI / 2) * this.progress(site.step);
    const ca = Math.cos(angle);
    const sa = Math.sin(angle);
    const noises = this.contentNoise(site, ca, sa);
    const sinkDim = D - 2;
    const textDim = D - 1;
    const isSink = new Uint8Array(videoTokens);
    for (const s of this.sinks[site.layer]) isSink[s] = 1;
    const featQ = new Float64Array(D);
    const featK = new Float64Array(D);
    for (let h = 0; h < H; h++) {
      const st = heads[h];
      const amps = this.frequencies.map((f, a) => axisAmplitudes(f, st.beta[a], st.sigma[a]));
      // e_q . e_k over D dims has std s^2 sqrt(D): s^2 = noise / sqrt(D) gives std `noise`.
      const s = Math.sqrt(st.noise / Math.sqrt(D));
      for (let i = 0; i < tokens; i++) {
        featQ.fill(0);
        featK.fill(0);
        if (i < videoTokens) {
          const c = this.grid.coord(i);
          let d = 0;
          for (let a = 0; a < 3; a++) {
            const f = this.frequencies[a];
            for (let m = 0; m < f.length; m++, d += 2) {
              const amp = amps[a][m];
              featQ[d] = featK[d] = amp * Math.cos(f[m] * c[a]);
              featQ[d + 1] = featK[d + 1] = amp * Math.sin(f[m] * c[a]);
            }
          }
          featQ[sinkDim] = Math.sqrt(st.sink);
          featK[sinkDim] = isSink[i] ? Math.sqrt(st.sink) : 0;
        } else {
          featK[textDim] = 1;
        }
        featQ[textDim] = st.text;
        const base = (h * tokens + i) * D;
        for (let d = 0; d < D; d++) {
          q[base + d] = gain * (featQ[d] + s * noises.q[base + d]);
          k[base + d] = gain * (featK[d] + s * noises.k[base + d]);
          v[base + d] = noises.v[base + d];
        }
      }
    }
    return { q, k, v, shape: [1, H, tokens, D], heads };
  }

  private contentNoise(site: AttentionSite, ca: number, sa: number): { q: Float64Array; k: Float64Array; v: Float64Array } {
    const fields = this.noiseFields(site.layer, site.branch);
    const mix = (pair: [Float32Array, Float32Array]) => {
      const out = new Float64Array(pair[0].length);
      for (let i = 0; i < out.length; i++) out[i] = ca * pair[0][i] + sa * pair[1][i];
      return out;
    };
    return { q: mix(fields.q), k: mix(fields.k), v: mix(fields.v) };
  }

  /** The two fixed unit-variance fields per tensor of a (layer, branch), drawn once and cached (every step reuses them). */
  private noiseFields(layer: number, branch: number): NoiseFields {
    const key = layer * this.branches + branch;
    const cached = this.fields.get(key);
    if (cached) return cached;
    const n = this.heads * this.grid.tokens * this.headDim;
    // Branches share 80% of their content (correlation 0.8), like guidance branches of one latent.
    const shared = new Rng(mixSeed(this.seed, layer, 0, 2));
    const own = branch === 0 ? undefined : new Rng(mixSeed(this.seed, layer, branch + 1, 3));
    const field = () => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = own ? 0.8 * shared.normal() + 0.6 * own.normal() : shared.normal();
      return out;
    };
    const pair = (): [Float32Array, Float32Array] => [field(), field()];
    const fields = { q: pair(), k: pair(), v: pair() };
    this.fields.set(key, fields);
    return fields;
  }

  private checkSite(site: AttentionSite): void {
    for (const [name, v, max] of [['step', site.step, this.steps], ['layer', site.layer, this.layers], ['branch', site.branch, this.branches]] as const)
      if (!Number.isInteger(v) || v < 0 || v >= max) throw new EvalConfigError(`${name} ${v} out of range [0, ${max})`);
  }
}

interface NoiseFields {
  q: [Float32Array, Float32Array];
  k: [Float32Array, Float32Array];
  v: [Float32Array, Float32Array];
}

/** Geometric frequencies from pi (one-token detail) down to pi/(2N) (no wrap-around across the axis). */
function axisFrequencies(count: number, extent: number): Float64Array {
  const out = new Float64Array(count);
  const lo = Math.PI / (2 * Math.max(extent, 1));
  for (let m = 0; m < count; m++) out[m] = count === 1 ? lo : Math.PI * Math.pow(lo / Math.PI, m / (count - 1));
  return out;
}

/**
 * Feature amplitudes whose squares sum to beta and weight each frequency by a Gaussian
 * spectrum of width 1/sigma (times the frequency, the quadrature weight of geometric
 * spacing), so sum_m amp_m^2 cos(w_m d) approximates beta * exp(-d^2 / (2 sigma^2)).
 */
function axisAmplitudes(freqs: Float64Array, beta: number, sigma: number): Float64Array {
  const w = Array.from(freqs, (f) => f * Math.exp(-0.5 * (f * sigma) ** 2));
  const total = w.reduce((a, b) => a + b, 0);
  return Float64Array.from(w, (x) => Math.sqrt((beta * x) / total));
}

/** Deterministic 32-bit seed from the run seed and a site (splitmix-style mixing). */
function mixSeed(seed: number, layer: number, branch: number, purpose: number): number {
  let x = (seed ^ Math.imul(layer + 1, 0x9e3779b1) ^ Math.imul(branch + 1, 0x85ebca77) ^ Math.imul(purpose, 0xc2b2ae3d)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
