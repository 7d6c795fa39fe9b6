import { BlockLayout, InvalidOptionError, type FitOptions, type VideoGeometry } from '@mod-dit/predictor';

/** A line budget the scheduler can apply per refresh (the recall target uses the layer's merged map). */
export type ScheduleBudget =
  | { kind: 'top-k'; k: number }
  | { kind: 'line-fraction'; fraction: number }
  | { kind: 'density'; density: number }
  | { kind: 'recall'; recall: number };

/** Everything that fixes a schedule. Plain data: it is stored in snapshots. */
export interface SchedulerConfig {
  /** Attention heads per layer. */
  heads: number;
  /** The video token grid (frame-major), the map's block size included. */
  geometry: VideoGeometry;
  /** Text tokens after the video tokens in the self-attention sequence (HunyuanVideo); always attended. Default 0. */
  textTokens?: number;
  /** Denoising steps. Default 50. */
  steps?: number;
  /** Warm-up m: steps 0..m-3 dense, m-2 and m-1 dense + map. Default 12. */
  warmup?: number;
  /** Refresh interval T: steps t >= m with (t - m) mod T == T - 1 are dense + map. Default 10. */
  interval?: number;
  /** The first `denseLayers` layers are dense at every step (Wan: 1). Default 0. */
  denseLayers?: number;
  /** Probability threshold of the sparsity map. Default 1e-4. */
  tau?: number;
  /** Lines per head. Default top-k 350 (Wan). */
  budget?: ScheduleBudget;
  /** Ridge lambda and column scale of the fit. Defaults: lambda 1, columnScale 0.5 (the reference). */
  fit?: FitOptions;
  /**
   * 'faithful' (default): predicted = cur + (cur - prev) / T. 'step-distance': slope over
   * the true steps between the two observations (1 at warm-up, T at refreshes),
   * extrapolated to the middle of the next interval (T / 2 steps ahead).
   */
  prediction?: 'faithful' | 'step-distance';
  /** Tiles on for heads whose b_d <= this. Default 1 (reference; in effect always on). */
  tileThreshold?: number;
  /** 'warm-up' (default, reference): the tile decision of the first mask is kept for the run. 'every-refresh': re-decided at each refresh. */
  tileDecision?: 'warm-up' | 'every-refresh';
  /**
   * Features of the first warm-up map (step m - 2). 'fit' (default, the spec): fitted like
   * every map. 'zeros': the reference code's behaviour, which returns all-zero features
   * for that step, so the first mask ranks by the step m - 1 fit alone (times 1 + 1/T).
   */
  firstFeatures?: 'fit' | 'zeros';
  /** Keep every issued mask in {@link MaskScheduler.maskLog} (for export). Default false. */
  recordMasks?: boolean;
}

/** A config with every default filled in. */
export type ResolvedConfig = Required<Omit<SchedulerConfig, 'geometry' | 'fit'>> & {
  geometry: Required<VideoGeometry>;
  fit: Required<FitOptions>;
};

/** Models with reference defaults. */
export type ModelName = 'wan' | 'hunyuan-video';

/**
 * Reference defaults per model (reference README): Wan top-k 350 with layer 0 dense;
 * HunyuanVideo top-k 300, no dense layer, text tokens in the joint sequence (pass
 * `textTokens`). These top-k values were tuned on grids of n = 540..900 blocks; on smaller
 * grids they cover most of the map, so prefer a `density` or `line-fraction` budget there.
 */
export function modelDefaults(model: ModelName): Pick<SchedulerConfig, 'budget' | 'denseLayers' | 'tau' | 'warmup' | 'interval' | 'steps'> {
  const common = { tau: 1e-4, warmup: 12, interval: 10, steps: 50 };
  switch (model) {
    case 'wan':
      return { ...common, budget: { kind: 'top-k', k: 350 }, denseLayers: 1 };
    case 'hunyuan-video':
      return { ...common, budget: { kind: 'top-k', k: 300 }, denseLayers: 0 };
    default:
      throw new InvalidOptionError(`unknown model ${String(model)}; expected 'wan' or 'hunyuan-video'`);
  }
}

/** Fills defaults and validates; throws InvalidOptionError naming the field. */
export function resolveConfig(config: SchedulerConfig): ResolvedConfig {
  const r: ResolvedConfig = {
    heads: config.heads,
    geometry: { blockSize: 128, ...config.geometry },
    textTokens: config.textTokens ?? 0,
    steps: config.steps ?? 50,
    warmup: config.warmup ?? 12,
    interval: config.interval ?? 10,
    denseLayers: config.denseLayers ?? 0,
    tau: config.tau ?? 1e-4,
    budget: config.budget ?? { kind: 'top-k', k: 350 },
    fit: { lambda: 1, columnScale: 0.5, ...config.fit },
    prediction: config.prediction ?? 'faithful',
    tileThreshold: config.tileThreshold ?? 1,
    tileDecision: config.tileDecision ?? 'warm-up',
    firstFeatures: config.firstFeatures ?? 'fit',
    recordMasks: config.recordMasks ?? false,
  };
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new InvalidOptionError(`scheduler config: ${name} must be an integer >= ${min}, got ${v}`);
  };
  int('heads', r.heads, 1);
  int('textTokens', r.textTokens, 0);
  int('warmup', r.warmup, 2);
  int('interval', r.interval, 1);
  int('steps', r.steps, r.warmup);
  int('denseLayers', r.denseLayers, 0);
  if (!(r.tau > 0 && r.tau < 1)) throw new InvalidOptionError(`scheduler config: tau must be in (0, 1), got ${r.tau}`);
  const oneOf = (name: string, v: string, allowed: string[]) => {
    if (!allowed.includes(v)) throw new InvalidOptionError(`scheduler config: ${name} must be one of ${allowed.join(', ')}, got ${v}`);
  };
  oneOf('prediction', r.prediction, ['faithful', 'step-distance']);
  oneOf('tileDecision', r.tileDecision, ['warm-up', 'every-refresh']);
  oneOf('firstFeatures', r.firstFeatures, ['fit', 'zeros']);
  oneOf('budget.kind', r.budget.kind, ['top-k', 'line-fraction', 'density', 'recall']);
  new BlockLayout(r.geometry); // validates the geometry
  return r;
}
