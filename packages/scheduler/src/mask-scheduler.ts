import type { BlockMask } from '@mod-dit/tensor';
import {
  BlockLayout,
  InvalidOptionError,
  buildMask,
  checkMap,
  fitProjections,
  mergeUnderMask,
  predictFeatures,
  projectMap,
  tileHeadsFromFeatures,
  type Features,
  type LineBudget,
  type PredictOptions,
} from '@mod-dit/predictor';
import { resolveConfig, type ResolvedConfig, type SchedulerConfig } from './config.js';
import { ScheduleOrderError } from './errors.js';
import { newLayerState, type Branch, type CallSite, type LayerState } from './layer-state.js';
import { restoreScheduler, snapshotScheduler, type SchedulerSnapshot } from './snapshot.js';
import { stepKind } from './step-plan.js';

/** What the attention call at a site must do. */
export type AttentionPlan =
  | { kind: 'dense' }
  /**
   * Dense attention that also emits the block sparsity map of the first `tokens` (video)
   * tokens; pass it to observe(). At refresh steps `within` is the active mask: observe()
   * reads the map only on its blocks, so pass it on as `map.within` to skip the rest.
   */
  | { kind: 'dense+map'; tau: number; blockSize: number; tokens: number; within?: BlockMask }
  /** Block-sparse attention under `mask` (video + text tokens). */
  | { kind: 'sparse'; mask: BlockMask };

/** An issued mask and the steps it serves (inclusive). */
export interface MaskRecord {
  layer: number;
  branch: Branch;
  fromStep: number;
  toStep: number;
  mask: BlockMask;
}

const BRANCH_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * MOD-DiT's online block masking over one denoising run. For each attention call the
 * adapter asks {@link plan} what to do and, after a dense + map call, hands the map to
 * {@link observe}, which fits, extrapolates and issues the next mask. State is kept per
 * (layer, guidance branch); branches never share features, maps or masks.
 */
export class MaskScheduler {
  readonly config: ResolvedConfig;
  readonly layout: BlockLayout;
  private readonly states = new Map<string, LayerState>();
  private readonly log: MaskRecord[] = [];

  constructor(config: SchedulerConfig) {
    this.config = resolveConfig(config);
    this.layout = new BlockLayout(this.config.geometry);
  }

  /** Tokens of the attention sequence: video then text. */
  get sequenceTokens(): number {
    return this.layout.videoTokens + this.config.textTokens;
  }

  /** Masks issued so far, oldest first (only with `recordMasks`). */
  get maskLog(): readonly MaskRecord[] {
    return this.log;
  }

  /** Tells the attention call at `site` what to do. Throws ScheduleOrderError when a map it needs was never observed. */
  plan(site: CallSite): AttentionPlan {
    const { step, layer, branch } = this.checkSite(site);
    const kind = stepKind(this.config, step, layer);
    if (layer < this.config.denseLayers) return { kind: 'dense' };
    const st = this.state(layer, branch);
    if (st.pending !== null && st.pending !== step)
      throw new ScheduleOrderError(`${where(site)}: the sparsity map of step ${st.pending} was planned but never observed`);
    if (step < st.lastStep) throw new ScheduleOrderError(`${where(site)}: steps must not go backwards (last planned step ${st.lastStep})`);
    const m = this.config.warmup;
    if (kind === 'dense+map' && step === st.lastStep && st.pending === null)
      throw new ScheduleOrderError(`${where(site)}: the sparsity map of this step was already observed; plan each step once`);
    if (kind === 'dense+map' && step === m - 1 && st.historySteps[st.historySteps.length - 1] !== m - 2)
      throw new ScheduleOrderError(`${where(site)}: the warm-up map of step ${m - 2} was never observed`);
    if (step >= m && !st.mask) throw new ScheduleOrderError(`${where(site)}: no mask yet; the warm-up maps of steps ${m - 2} and ${m - 1} were never observed`);
    st.lastStep = step;
    if (kind === 'dense') return { kind };
    if (kind === 'sparse') return { kind, mask: st.mask as BlockMask };
    st.pending = step;
    const map = { kind, tau: this.config.tau, blockSize: this.layout.blockSize, tokens: this.layout.videoTokens } as const;
    return step >= m ? { ...map, within: st.mask as BlockMask } : map;
  }

  /**
   * Takes the block sparsity map [heads, n, n] (Float32Array, query block x key block over
   * the video tokens) that the dense + map call at `site` produced. At the warm-up steps it
   * fits; at m - 1 it issues the first mask; at refresh steps it merges the map into the
   * history under the active mask, refits and issues the mask for the next interval.
   */
  observe(site: CallSite, map: Float32Array): void {
    const { step, layer, branch } = this.checkSite(site);
    const st = layer < this.config.denseLayers ? undefined : this.states.get(key(layer, branch));
    if (!st || st.pending !== step)
      throw new ScheduleOrderError(`${where(site)}: observe() without a dense+map plan for this step${st?.pending != null ? ` (awaiting step ${st.pending})` : ''}`);
    checkMap(map, this.config.heads, this.layout, `sparsity map of ${where(site)}`);
    const m = this.config.warmup;
    // Warm-up maps are copied (the caller may reuse its buffer); a refresh merges in place
    // under the active mask and updates the projections with it. Nothing changes unless the
    // map passed its checks.
    if (step === m - 2 || step === m - 1) {
      const kept = map.slice();
      const projections = projectMap(kept, this.config.heads, this.layout);
      const zeros = step === m - 2 && this.config.firstFeatures === 'zeros';
      const features = zeros ? zeroFeatures(this.config.heads, this.layout.n, this.config.fit.columnScale) : this.fit(projections);
      st.history = step === m - 2 ? [features] : [st.history[st.history.length - 1], features];
      st.historySteps = step === m - 2 ? [step] : [st.historySteps[st.historySteps.length - 1], step];
      st.map = kept;
      st.projections = projections;
    } else {
      mergeUnderMask(st.map as Float32Array, st.projections as Float64Array, map, st.mask as BlockMask, this.config.heads, this.layout);
      st.history = [st.history[st.history.length - 1], this.fit(st.projections as Float64Array)];
      st.historySteps = [st.historySteps[st.historySteps.length - 1], step];
    }
    if (step !== m - 2) this.issueMask(st, step);
    st.pending = null;
  }

  /** A JSON-safe snapshot of the whole state (config, per-site features, maps, masks, log). */
  toJSON(): SchedulerSnapshot {
    return snapshotScheduler(this.config, [...this.states.values()], this.log);
  }

  /** Restores a scheduler from {@link toJSON} output; continuing it gives bit-identical masks. */
  static fromJSON(snapshot: SchedulerSnapshot): MaskScheduler {
    return restoreScheduler(snapshot, (config, states, log) => {
      const s = new MaskScheduler(config);
      for (const st of states) s.states.set(key(st.layer, st.branch), st);
      s.log.push(...log);
      return s;
    });
  }

  private fit(projections: Float64Array): Features {
    return fitProjections(projections, this.config.heads, this.layout, this.config.fit);
  }

  private issueMask(st: LayerState, step: number): void {
    const [prev, cur] = st.history;
    const c = this.config;
    const predictOptions: PredictOptions = {
      interval: c.interval,
      rule: c.prediction === 'faithful' ? { kind: 'faithful' } : { kind: 'step-distance', distance: step - st.historySteps[0] },
    };
    const predicted = predictFeatures(prev, cur, predictOptions);
    const budget: LineBudget = c.budget.kind === 'recall' ? { kind: 'recall', recall: c.budget.recall, map: st.map as Float32Array } : c.budget;
    const frozen = c.tileDecision === 'warm-up' ? st.tileHeads : null;
    const tileHeads = frozen ?? tileHeadsFromFeatures(cur, c.tileThreshold);
    if (c.tileDecision === 'warm-up' && !st.tileHeads) st.tileHeads = tileHeads;
    st.mask = buildMask(predicted, this.layout, { budget, tileHeads, textTokens: c.textTokens });
    st.maskFrom = step + 1;
    const toStep = this.nextMapStep(step) - 1;
    if (c.recordMasks && st.maskFrom <= toStep) this.log.push({ layer: st.layer, branch: st.branch, fromStep: st.maskFrom, toStep, mask: st.mask });
  }

  /** The next dense + map step after `step` (or `steps` when none is left). */
  private nextMapStep(step: number): number {
    for (let t = step + 1; t < this.config.steps; t++) if (stepKind(this.config, t, this.config.denseLayers) === 'dense+map') return t;
    return this.config.steps;
  }

  private state(layer: number, branch: Branch): LayerState {
    const k = key(layer, branch);
    let st = this.states.get(k);
    if (!st) {
      st = newLayerState(layer, branch);
      this.states.set(k, st);
    }
    return st;
  }

  private checkSite(site: CallSite): Required<CallSite> {
    const branch = site.branch ?? 0;
    if (!Number.isInteger(site.step) || site.step < 0 || site.step >= this.config.steps)
      throw new InvalidOptionError(`${where(site)}: step must be an integer in [0, ${this.config.steps}), got ${site.step}`);
    if (!Number.isInteger(site.layer) || site.layer < 0) throw new InvalidOptionError(`${where(site)}: layer must be a non-negative integer, got ${site.layer}`);
    if (!BRANCH_NAME.test(String(branch))) throw new InvalidOptionError(`${where(site)}: branch must be a number or a name of letters, digits, '_' or '-', got ${JSON.stringify(branch)}`);
    return { step: site.step, layer: site.layer, branch };
  }
}

function key(layer: number, branch: Branch): string {
  return `${layer}/${typeof branch}:${branch}`;
}

function where(site: CallSite): string {
  return `step ${site.step}, layer ${site.layer}, branch ${String(site.branch ?? 0)}`;
}

function zeroFeatures(heads: number, n: number, columnScale: number): Features {
  return { heads, n, diagonals: new Float64Array(heads * (2 * n - 1)), columns: new Float64Array(heads * n), tiles: new Float64Array(heads), columnScale };
}
