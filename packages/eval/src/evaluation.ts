import { type Backend, type BlockMask, Rng, cpuBackend, scope } from '@mod-dit/tensor';
import { MaskScheduler, type ScheduleBudget, type SchedulerConfig, type StepKind, stepKind } from '@mod-dit/scheduler';
import { BlockAttention, type MaskQuality } from './block-attention.js';
import { type BlockDistances, blockDistances } from './block-distance.js';
import { EvalConfigError } from './eval-error.js';
import type { HeadKind } from './head-profile.js';
import type { HeatmapCell } from './heatmap-figure.js';
import { videoMaskGrid } from './mask-grid.js';
import { oracleMask } from './oracle-mask.js';
import { exactSparsityMap } from './sparsity-map.js';
import { type SvgPattern, svgMask } from './svg-mask.js';
import { VideoAttentionSuite, type VideoAttentionSuiteOptions } from './video-attention-suite.js';
import { windowMask } from './window-mask.js';

/** One MOD configuration to evaluate: scheduler options on top of the harness's schedule. */
export interface ModVariant {
  name: string;
  budget: ScheduleBudget;
  prediction?: SchedulerConfig['prediction'];
  firstFeatures?: SchedulerConfig['firstFeatures'];
  tileDecision?: SchedulerConfig['tileDecision'];
  /** Ridge lambda / column scale of the fit (default the reference's 1 / 0.5). */
  fit?: SchedulerConfig['fit'];
}

/**
 * The reference's Wan budget (top_k 350 of the 3n - 1 lines of its n = 540 grid) carried
 * over to any geometry as a line fraction: 350 / 1619.
 */
export const REFERENCE_LINE_FRACTION = 350 / (3 * 540 - 1);

/** Default variants: the faithful reference first (the density the baselines are matched to), then the options. */
export const DEFAULT_VARIANTS: readonly ModVariant[] = [
  { name: 'mod', budget: { kind: 'line-fraction', fraction: REFERENCE_LINE_FRACTION } },
  { name: 'mod-step-distance', budget: { kind: 'line-fraction', fraction: REFERENCE_LINE_FRACTION }, prediction: 'step-distance' },
  { name: 'mod-first-zeros', budget: { kind: 'line-fraction', fraction: REFERENCE_LINE_FRACTION }, firstFeatures: 'zeros' },
  { name: 'mod-density-0.25', budget: { kind: 'density', density: 0.25 } },
  { name: 'mod-recall-0.95', budget: { kind: 'recall', recall: 0.95 } },
];

/** Options of {@link runEvaluation}. */
export interface EvalOptions {
  suite: VideoAttentionSuiteOptions;
  /** Warm-up m; default 12. */
  warmup?: number;
  /** Refresh interval T; default 10. */
  interval?: number;
  /** Sparsity-map threshold; default 1e-4. */
  tau?: number;
  /** MOD configurations; the first is the one baselines are matched to. Default {@link DEFAULT_VARIANTS}. */
  variants?: readonly ModVariant[];
  /** Video query blocks evaluated per call, evenly spaced; default all. */
  queryBlocks?: number;
  /** Evaluate every k-th sparse step (counting from the first); default 1 (all). */
  metricEvery?: number;
  /** Query rows an SVG-like method samples per head to classify it; default 32. */
  svgSampleRows?: number;
  /** Densities of the baseline sweeps for the recall-vs-density curves. */
  curveDensities?: readonly number[];
  /** Sweep the curves on every k-th evaluated step; default 5. */
  curveEvery?: number;
  /** Steps (sparse ones) drawn in the mask heatmaps for layer 0, branch 0; default up to 8 spread over the sparse steps. */
  heatmapSteps?: readonly number[];
  /** Backend whose dense attention emits the sparsity maps; default the CPU reference. */
  backend?: Backend;
  /**
   * Who computes the sparsity maps the schedulers observe: 'backend' (default, the dense
   * attention with `map`) or 'harness' ({@link exactSparsityMap}: the same map without the
   * P.V product, for geometries where the reference backend is too slow).
   */
  mapSource?: 'backend' | 'harness';
  /** Progress lines (one per step). */
  onProgress?: (line: string) => void;
}

/** Per-head metrics of one method at one attention call. */
export interface MethodMetrics {
  density: number[];
  recall: number[];
  relError: number[];
}

/** One attention call of the run. */
export interface CallRecord {
  step: number;
  layer: number;
  branch: number;
  /** What the first variant's scheduler did. */
  kind: StepKind;
  /** Metrics per method (MOD variants by name, then oracle, window, svg at the first variant's density; oracle@NAME at other variants' densities). Only on evaluated sparse calls. */
  methods?: Record<string, MethodMetrics>;
  /** The SVG-like classification per head. */
  svgPatterns?: SvgPattern[];
}

/** Aggregate of one method over every evaluated (call, head). */
export interface SummaryRow {
  method: string;
  density: number;
  recall: number;
  /** Mean recall over the worst 10% of (call, head) pairs. */
  recallWorst10: number;
  relError: number;
  /** Mean recall per head kind. */
  recallByKind: Partial<Record<HeadKind, number>>;
  /** For MOD variants: the oracle's mean recall at the variant's own per-head densities. */
  oracleRecall?: number;
}

/** Everything a run measured; plain data (JSON). */
export interface EvalReport {
  suite: Required<Pick<VideoAttentionSuiteOptions, 'grid' | 'heads' | 'headDim' | 'layers' | 'branches' | 'steps' | 'seed'>> & {
    textTokens: number;
    blockSize: number;
    blocks: number;
    videoTokens: number;
  };
  schedule: { warmup: number; interval: number; tau: number; mapSource: 'backend' | 'harness'; metricEvery: number };
  variants: ModVariant[];
  evaluatedQueryBlocks: number[];
  headKinds: HeadKind[][];
  calls: CallRecord[];
  summary: SummaryRow[];
  curves: { densities: number[]; series: Record<string, number[]>; points: Record<string, [number, number]> };
  timings: { totalMs: number; suiteMs: number; mapMs: number; metricsMs: number; schedulerMs: number; mapCalls: number; metricCalls: number };
}

/** Heatmap material for layer 0, branch 0: per head, per drawn step, over the evaluated query blocks. */
export interface HeatmapData {
  steps: number[];
  /** The evaluated query blocks (the rows of every cell). */
  queryBlocks: number[];
  /** Key blocks (the columns of every cell). */
  blocks: number;
  heads: HeadKind[];
  cells: HeatmapCell[][];
}

const DEFAULT_CURVE = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1];

/**
 * Runs a whole denoising schedule over the video-attention suite: per (step, layer, branch)
 * every MOD variant's scheduler plans the call; dense + map calls go through the backend's
 * dense attention with the sparsity map, which every scheduler observes; on sparse calls
 * each variant's mask and the baselines (oracle, static window, SVG-like), matched per head
 * to the first variant's density, are measured against exact dense attention.
 */
export async function runEvaluation(opts: EvalOptions): Promise<{ report: EvalReport; heatmaps: HeatmapData }> {
  const t0 = performance.now();
  const suite = new VideoAttentionSuite(opts.suite);
  const grid = suite.grid;
  const n = grid.blocks;
  const warmup = opts.warmup ?? 12;
  const interval = opts.interval ?? 10;
  const tau = opts.tau ?? 1e-4;
  const variants = [...(opts.variants ?? DEFAULT_VARIANTS)];
  if (variants.length === 0) throw new EvalConfigError('variants: need at least one MOD variant');
  if (new Set(variants.map((v) => v.name)).size !== variants.length) throw new EvalConfigError(`variants: names must be distinct, got ${variants.map((v) => v.name).join(', ')}`);
  const posInt = (name: string, v: number | undefined, dflt: number, max = Infinity) => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < 1 || x > max) throw new EvalConfigError(`${name} must be an integer in [1, ${max}], got ${x}`);
    return x;
  };
  const qCount = posInt('queryBlocks', opts.queryBlocks, n, n);
  const metricEvery = posInt('metricEvery', opts.metricEvery, 1);
  const svgRows = posInt('svgSampleRows', opts.svgSampleRows, 32);
  const curveEvery = posInt('curveEvery', opts.curveEvery, 5);
  const curveDensities = [...(opts.curveDensities ?? DEFAULT_CURVE)];
  if (curveDensities.some((d) => !(d > 0 && d <= 1))) throw new EvalConfigError(`curveDensities must lie in (0, 1], got [${curveDensities.join(', ')}]`);
  const backend = opts.backend ?? cpuBackend();
  const mapSource = opts.mapSource ?? 'backend';
  if (mapSource !== 'backend' && mapSource !== 'harness') throw new EvalConfigError(`mapSource must be 'backend' or 'harness', got ${String(mapSource)}`);
  const queryBlocks = Int32Array.from({ length: qCount }, (_, i) => Math.floor(((i + 0.5) * n) / qCount));
  const dist = blockDistances(grid);
  const H = suite.heads;
  const D = suite.headDim;

  const schedulers = variants.map(
    (v) =>
      new MaskScheduler({
        heads: H,
        geometry: { videoTokens: grid.videoTokens, tokensPerFrame: grid.frameTokens, blockSize: grid.blockSize },
        textTokens: grid.textTokens,
        steps: suite.steps,
        warmup,
        interval,
        denseLayers: 0,
        tau,
        budget: v.budget,
        prediction: v.prediction,
        firstFeatures: v.firstFeatures,
        tileDecision: v.tileDecision,
        fit: v.fit,
      }),
  );

  const sparseSteps: number[] = [];
  for (let s = 0; s < suite.steps; s++) if (stepKind(schedulers[0].config, s, 0) === 'sparse') sparseSteps.push(s);
  const metricSteps = new Set(sparseSteps.filter((_, i) => i % metricEvery === 0));
  const curveSteps = new Set([...metricSteps].filter((_, i) => i % curveEvery === 0));
  const heatSteps = opts.heatmapSteps ? [...opts.heatmapSteps] : spread([...metricSteps], 8);
  for (const s of heatSteps) if (!metricSteps.has(s)) throw new EvalConfigError(`heatmapSteps: step ${s} is not an evaluated sparse step`);

  const timings = { totalMs: 0, suiteMs: 0, mapMs: 0, metricsMs: 0, schedulerMs: 0, mapCalls: 0, metricCalls: 0 };
  const calls: CallRecord[] = [];
  const heatmaps: HeatmapData = {
    steps: heatSteps,
    queryBlocks: [...queryBlocks],
    blocks: n,
    heads: suite.headStates(0, 0).map((h) => h.kind),
    cells: Array.from({ length: H }, () => []),
  };
  const curveSums = { oracle: curveDensities.map(() => 0), window: curveDensities.map(() => 0), svg: curveDensities.map(() => 0) };
  let curveCount = 0;

  for (let step = 0; step < suite.steps; step++) {
    for (let layer = 0; layer < suite.layers; layer++) {
      for (let branch = 0; branch < suite.branches; branch++) {
        const site = { step, layer, branch };
        let t = performance.now();
        const plans = schedulers.map((s) => s.plan(site));
        timings.schedulerMs += performance.now() - t;
        const kind = plans[0].kind;
        if (plans.some((p) => p.kind !== kind)) throw new EvalConfigError(`variants disagree on the kind of step ${step} (they share warm-up and interval)`);
        const record: CallRecord = { step, layer, branch, kind };
        calls.push(record);
        const evaluate = kind === 'sparse' && metricSteps.has(step);
        if (kind === 'dense' || (kind === 'sparse' && !evaluate)) continue;
        t = performance.now();
        const sample = suite.sample(site);
        timings.suiteMs += performance.now() - t;
        if (kind === 'dense+map') {
          t = performance.now();
          const map =
            mapSource === 'harness'
              ? exactSparsityMap(sample.q, sample.k, H, D, grid, tau)
              : await denseMap(backend, sample.q, sample.k, sample.v, [1, H, grid.tokens, D], { tau, blockSize: grid.blockSize, tokens: grid.videoTokens });
          timings.mapMs += performance.now() - t;
          timings.mapCalls++;
          t = performance.now();
          for (const s of schedulers) s.observe(site, map);
          timings.schedulerMs += performance.now() - t;
          continue;
        }
        t = performance.now();
        const attn = BlockAttention.compute({ q: sample.q, k: sample.k, v: sample.v, heads: H, headDim: D, grid, queryBlocks });
        const rng = new Rng(step * 7919 + layer * 131 + branch);
        const sampleRows = Int32Array.from({ length: Math.min(svgRows, attn.rows.length) }, () => rng.int(0, attn.rows.length));
        const masks = plans.map((plan, i) => {
          if (plan.kind !== 'sparse') throw new EvalConfigError(`variant ${variants[i].name}: no mask at sparse step ${step}`);
          return plan.mask;
        });
        const ctx: MeasureContext = { attn, dist, queryBlocks, sampleRows };
        Object.assign(record, measureCall(ctx, variants, masks));
        if (curveSteps.has(step)) {
          sweepCurves(ctx, curveDensities, curveSums);
          curveCount += H;
        }
        if (layer === 0 && branch === 0 && heatSteps.includes(step))
          for (let h = 0; h < H; h++) heatmaps.cells[h].push(heatmapCell(attn.blockMass(h), videoMaskGrid(masks[0], h, grid), queryBlocks, n));
        timings.metricsMs += performance.now() - t;
        timings.metricCalls++;
      }
    }
    opts.onProgress?.(`step ${step + 1}/${suite.steps} ${calls[calls.length - 1].kind}`);
  }

  const headKinds = Array.from({ length: suite.layers }, (_, l) => suite.headStates(0, l).map((h) => h.kind));
  const summary = summarize(calls, headKinds, variants);
  const points: Record<string, [number, number]> = {};
  for (const row of summary) if (variants.some((v) => v.name === row.method)) points[row.method] = [row.density, row.recall];
  timings.totalMs = performance.now() - t0;
  const report: EvalReport = {
    suite: {
      grid: opts.suite.grid,
      heads: H,
      headDim: D,
      layers: suite.layers,
      branches: suite.branches,
      steps: suite.steps,
      seed: suite.seed,
      textTokens: grid.textTokens,
      blockSize: grid.blockSize,
      blocks: n,
      videoTokens: grid.videoTokens,
    },
    schedule: { warmup, interval, tau, mapSource, metricEvery },
    variants,
    evaluatedQueryBlocks: [...queryBlocks],
    headKinds,
    calls,
    summary,
    curves: {
      densities: curveDensities,
      series: Object.fromEntries(Object.entries(curveSums).map(([k, v]) => [k, v.map((x) => (curveCount ? x / curveCount : NaN))])),
      points,
    },
    timings,
  };
  return { report, heatmaps };
}

/** Keeps the evaluated query-block rows of a [n, n] mass grid and mask. */
function heatmapCell(mass: Float64Array, mask: Uint8Array, queryBlocks: Int32Array, n: number): HeatmapCell {
  const cell = { mass: new Float64Array(queryBlocks.length * n), mask: new Uint8Array(queryBlocks.length * n) };
  queryBlocks.forEach((I, r) => {
    cell.mass.set(mass.subarray(I * n, (I + 1) * n), r * n);
    cell.mask.set(mask.subarray(I * n, (I + 1) * n), r * n);
  });
  return cell;
}

/** What measuring one sparse call needs besides the masks. */
interface MeasureContext {
  attn: BlockAttention;
  dist: BlockDistances;
  queryBlocks: Int32Array;
  /** SVG-like profiling rows, indices into attn.rows. */
  sampleRows: Int32Array;
}

/** Every variant's mask and the baselines at the first variant's per-head density, for every head. */
function measureCall(ctx: MeasureContext, variants: readonly ModVariant[], masks: readonly BlockMask[]): { methods: Record<string, MethodMetrics>; svgPatterns: SvgPattern[] } {
  const { attn, dist, queryBlocks, sampleRows } = ctx;
  const grid = attn.grid;
  const methods: Record<string, MethodMetrics> = {};
  const add = (name: string, h: number, q: MaskQuality) => {
    const m = (methods[name] ??= { density: [], recall: [], relError: [] });
    m.density[h] = q.density;
    m.recall[h] = q.recall;
    m.relError[h] = q.relError;
  };
  const svgPatterns: SvgPattern[] = [];
  for (let h = 0; h < attn.heads; h++) {
    const own = variants.map((v, i) => {
      const q = attn.quality(h, videoMaskGrid(masks[i], h, grid));
      add(v.name, h, q);
      if (i > 0) add(`oracle@${v.name}`, h, attn.quality(h, oracleMask(attn, h, q.density)));
      return q;
    });
    const density = own[0].density;
    add('oracle', h, attn.quality(h, oracleMask(attn, h, density)));
    add('window', h, attn.quality(h, windowMask(grid, dist, density, queryBlocks)));
    const svg = svgMask(attn, h, dist, density, sampleRows);
    svgPatterns.push(svg.pattern);
    add('svg', h, attn.quality(h, svg.mask));
  }
  return { methods, svgPatterns };
}

/** Adds every head's baseline recall at each sweep density to `sums`. */
function sweepCurves(ctx: MeasureContext, densities: readonly number[], sums: Record<'oracle' | 'window' | 'svg', number[]>): void {
  const { attn, dist, queryBlocks, sampleRows } = ctx;
  for (let h = 0; h < attn.heads; h++)
    densities.forEach((d, i) => {
      sums.oracle[i] += attn.quality(h, oracleMask(attn, h, d)).recall;
      sums.window[i] += attn.quality(h, windowMask(attn.grid, dist, d, queryBlocks)).recall;
      sums.svg[i] += attn.quality(h, svgMask(attn, h, dist, d, sampleRows).mask).recall;
    });
}

/** The backend's dense attention with the sparsity map, read back as [heads, n, n]. */
async function denseMap(
  backend: Backend,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  shape: [number, number, number, number],
  map: { tau: number; blockSize: number; tokens: number },
): Promise<Float32Array> {
  const tensor = scope(() => {
    const res = backend.attention(backend.upload(q, shape, 'f32'), backend.upload(k, shape, 'f32'), backend.upload(v, shape, 'f32'), { map });
    if (!res.map) throw new EvalConfigError(`backend ${backend.name} returned no sparsity map`);
    return res.map;
  });
  try {
    return await tensor.toFloat32();
  } finally {
    tensor.dispose();
  }
}

function spread(steps: number[], count: number): number[] {
  if (steps.length <= count) return [...steps];
  return Array.from({ length: count }, (_, i) => steps[Math.round((i * (steps.length - 1)) / (count - 1))]);
}

function summarize(calls: CallRecord[], headKinds: HeadKind[][], variants: ModVariant[]): SummaryRow[] {
  const names = [...variants.map((v) => v.name), 'oracle', 'window', 'svg'];
  return names.map((method) => {
    const recalls: number[] = [];
    let density = 0;
    let relError = 0;
    let oracle = 0;
    const byKind: Partial<Record<HeadKind, [number, number]>> = {};
    for (const c of calls) {
      const m = c.methods?.[method];
      if (!m) continue;
      m.recall.forEach((r, h) => {
        recalls.push(r);
        density += m.density[h];
        relError += m.relError[h];
        const kind = headKinds[c.layer][h];
        const acc = (byKind[kind] ??= [0, 0]);
        acc[0] += r;
        acc[1]++;
        const o = c.methods?.[method === variants[0].name ? 'oracle' : `oracle@${method}`];
        if (o) oracle += o.recall[h];
      });
    }
    const count = recalls.length;
    const worst = [...recalls].sort((a, b) => a - b).slice(0, Math.max(1, Math.ceil(count / 10)));
    const row: SummaryRow = {
      method,
      density: density / count,
      recall: recalls.reduce((a, b) => a + b, 0) / count,
      recallWorst10: worst.reduce((a, b) => a + b, 0) / worst.length,
      relError: relError / count,
      recallByKind: Object.fromEntries(Object.entries(byKind).map(([k, [s, c2]]) => [k, s / c2])),
    };
    if (variants.some((v) => v.name === method)) row.oracleRecall = oracle / count;
    return row;
  });
}
