import { BlockAttention, type HeadKind, VideoAttentionSuite, videoMaskGrid } from '@mod-dit/eval';
import { MaskScheduler, type MaskRecord, ScheduleOrderError, type StepKind, stepKind } from '@mod-dit/scheduler';
import { type AttentionOptions, type Backend, type Tensor, fromNumbers, toFloat32 } from '@mod-dit/tensor';
import { type DemoConfig, SCHEDULE, checkDemoConfig } from './demo-config.js';
import { timedAttention } from './timed-attention.js';

/** One head at the shown step. */
export interface HeadResult {
  kind: HeadKind;
  /** Block sparsity map [n, n] of the shown step from the backend's dense pass (1 = every probability < tau). */
  map: Float32Array;
  /** The predicted mask's video blocks [n, n], 0/1. */
  mask: Uint8Array;
  /** Fraction of video x video token pairs the mask computes. */
  density: number;
  /** Mean over query rows of the dense softmax mass inside the mask (float64, exact). */
  recall: number;
  /** ||O_sparse - O_dense||_F / ||O_dense||_F of the backend's two outputs for this head. */
  relError: number;
}

/** Median wall times (ms) of the shown step's attention calls on the backend, and the host-side work. */
export interface DemoTimings {
  dense: number;
  /** Dense attention that also emits the block sparsity map (what a refresh step runs). */
  denseMap: number;
  /** Block-sparse attention under the predicted mask. */
  sparse: number;
  /** Fit + extrapolation + mask building over all observed maps (`MaskScheduler.observe`). */
  predictor: number;
  /** The float64 CPU pass that measures recall (not part of MOD-DiT; the demo's yardstick). */
  reference: number;
}

/** Everything the page shows for one run. */
export interface DemoResult {
  config: DemoConfig;
  backend: string;
  tokens: number;
  /** Blocks per side of the map and mask (n). */
  blocks: number;
  /** What the schedule does at the shown step: 'sparse', or 'dense+map' at a refresh step. */
  stepKind: StepKind;
  /** Dense + map steps whose maps the scheduler fitted up to the shown step. */
  mapSteps: number[];
  /** The shown mask serves steps [fromStep, toStep]; it was built at fromStep - 1. */
  maskSteps: { fromStep: number; toStep: number };
  heads: HeadResult[];
  /** Over all heads: mean density, mean recall, relative error of the whole output. */
  overall: { density: number; recall: number; relError: number };
  timings: DemoTimings;
}

/** Called between stages; the page awaits it to repaint its status line. */
export type ProgressHook = (stage: string) => void | Promise<void>;

/**
 * Replays MOD-DiT's schedule for one attention layer on `backend` up to `config.step` and
 * measures the mask it predicts there. The synthetic q, k, v come from @mod-dit/eval's
 * video-attention suite; every dense + map step of the schedule (warm-up m-2, m-1 and the
 * refreshes) runs on the backend and feeds @mod-dit/scheduler, which fits, extrapolates and
 * builds the masks with @mod-dit/predictor. At the shown step the backend runs dense,
 * dense + map and block-sparse attention under the mask (timed), and a float64 CPU pass
 * gives the attention mass each head's mask keeps. Steps the schedule runs as plain dense or
 * sparse before the shown one change no scheduler state, so they are skipped.
 */
export async function runDemo(backend: Backend, config: DemoConfig, progress: ProgressHook = () => {}): Promise<DemoResult> {
  const c = checkDemoConfig(config);
  const suite = new VideoAttentionSuite({ grid: c.grid, heads: c.heads, headDim: c.headDim, blockSize: c.blockSize, steps: SCHEDULE.steps, seed: c.seed });
  const { grid } = suite;
  const scheduler = new MaskScheduler({
    heads: c.heads,
    geometry: { videoTokens: grid.videoTokens, tokensPerFrame: grid.frameTokens, blockSize: c.blockSize },
    ...SCHEDULE,
    tau: c.tau,
    budget: c.budget,
    recordMasks: true,
  });
  const n = grid.blocks;
  const mapRequest = { tau: c.tau, blockSize: c.blockSize };
  const mapSteps: number[] = [];
  let predictorMs = 0;

  // Every tensor this run makes, freed at the end even when a step throws (GPU buffers
  // would otherwise outlive a failed run: the page keeps its backend).
  const live: Tensor[] = [];
  const keep = <T extends Tensor | undefined>(t: T): T => {
    if (t) live.push(t);
    return t;
  };
  const upload = (step: number): Tensor[] => {
    const s = suite.sample({ step, layer: 0, branch: 0 });
    return [s.q, s.k, s.v].map((x) => keep(backend.upload(fromNumbers(x, c.dtype), s.shape, c.dtype)));
  };
  const observe = async (step: number, map: Tensor): Promise<void> => {
    const values = toFloat32(await backend.read(map), 'f32');
    const t0 = performance.now();
    scheduler.observe({ step, layer: 0, branch: 0 }, values);
    predictorMs += performance.now() - t0;
    mapSteps.push(step);
  };
  const attention = async (q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions) => {
    const t = await timedAttention(backend, q, k, v, opts, c.repeats);
    for (const x of [t.result.out, t.result.lse, t.result.map]) keep(x);
    return t;
  };

  let denseOut: Float32Array;
  let sparseOut: Float32Array;
  let mapValues: Float32Array;
  let record: MaskRecord | undefined;
  let timings: Pick<DemoTimings, 'dense' | 'denseMap' | 'sparse'>;
  try {
    for (let step = 0; step < c.step; step++) {
      if (scheduler.plan({ step, layer: 0, branch: 0 }).kind !== 'dense+map') continue;
      await progress(`step ${step}: dense attention + sparsity map, fit`);
      const [q, k, v] = upload(step);
      const { out, lse, map } = backend.attention(q, k, v, { map: mapRequest });
      for (const t of [out, lse, map]) keep(t);
      await observe(step, map as Tensor);
    }

    await progress(`step ${c.step}: dense, dense + map and sparse attention on ${backend.name}`);
    const plan = scheduler.plan({ step: c.step, layer: 0, branch: 0 });
    const [q, k, v] = upload(c.step);
    const dense = await attention(q, k, v, {});
    const denseMap = await attention(q, k, v, { map: mapRequest });
    const mapTensor = denseMap.result.map as Tensor;
    mapValues = toFloat32(await backend.read(mapTensor), 'f32');
    // A refresh step runs dense in the schedule: show the mask it builds for the next interval.
    if (plan.kind === 'dense+map') await observe(c.step, mapTensor);
    record = scheduler.maskLog.find((r) => (plan.kind === 'sparse' ? r.fromStep <= c.step && c.step <= r.toStep : r.fromStep === c.step + 1));
    if (!record) throw new ScheduleOrderError(`demo: the scheduler logged no mask for step ${c.step} (plan '${plan.kind}')`);
    const sparse = await attention(q, k, v, { mask: record.mask });
    denseOut = toFloat32(await backend.read(dense.result.out), c.dtype);
    sparseOut = toFloat32(await backend.read(sparse.result.out), c.dtype);
    timings = { dense: dense.ms, denseMap: denseMap.ms, sparse: sparse.ms };
  } finally {
    for (const t of live) t.dispose();
  }
  const { mask } = record;

  await progress(`step ${c.step}: float64 reference for recall`);
  const t0 = performance.now();
  const sample = suite.sample({ step: c.step, layer: 0, branch: 0 });
  const reference = BlockAttention.compute({ q: sample.q, k: sample.k, v: sample.v, heads: c.heads, headDim: c.headDim, grid });
  const referenceMs = performance.now() - t0;

  const perHead = grid.tokens * c.headDim;
  let errSq = 0;
  let refSq = 0;
  const heads = sample.heads.map((state, h): HeadResult => {
    const grid01 = videoMaskGrid(mask, h, grid);
    const { density, recall } = reference.quality(h, grid01);
    let e = 0;
    let r = 0;
    for (let i = h * perHead; i < (h + 1) * perHead; i++) {
      const d = sparseOut[i] - denseOut[i];
      e += d * d;
      r += denseOut[i] * denseOut[i];
    }
    errSq += e;
    refSq += r;
    return { kind: state.kind, map: mapValues.slice(h * n * n, (h + 1) * n * n), mask: grid01, density, recall, relError: Math.sqrt(e / r) };
  });
  const mean = (f: (h: HeadResult) => number) => heads.reduce((s, h) => s + f(h), 0) / heads.length;
  return {
    config: c,
    backend: backend.name,
    tokens: grid.tokens,
    blocks: n,
    stepKind: stepKind(scheduler.config, c.step, 0),
    mapSteps,
    maskSteps: { fromStep: record.fromStep, toStep: record.toStep },
    heads,
    overall: { density: mean((h) => h.density), recall: mean((h) => h.recall), relError: Math.sqrt(errSq / refSq) },
    timings: { ...timings, predictor: predictorMs, reference: referenceMs },
  };
}
