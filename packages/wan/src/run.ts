import type { Backend } from '@mod-dit/tensor';
import { denoise, denoiseOnDevice, flowSchedule, type ProgressEvent } from '@mod-dit/pipeline';
import { MaskScheduler, type MaskRecord, type SchedulerConfig } from '@mod-dit/scheduler';
import { tokenGrid, type LatentShape } from './config.js';
import { WanInputError } from './errors.js';
import type { WanInputs } from './inputs.js';
import { WanModel, type AttentionCallRecord } from './model.js';
import { OpClock, type OpCategory } from './op-clock.js';
import { wanVelocity } from './velocity.js';
import type { WanWeights } from './weights.js';

/** MOD-DiT settings of a run: the scheduler config without what the run itself fixes. */
export type WanModSettings = Omit<SchedulerConfig, 'heads' | 'geometry' | 'steps' | 'recordMasks' | 'textTokens'> & { blockSize?: number };

/** Options of {@link runWan}. */
export interface WanRunOptions {
  backend: Backend;
  weights: WanWeights;
  inputs: WanInputs;
  latent: LatentShape;
  noise: Float32Array;
  steps: number;
  shift: number;
  guidance: number;
  sampler?: 'unipc' | 'euler';
  /** 'mod': self-attention through MOD-DiT's scheduler; 'dense': plain attention everywhere. */
  attention: 'dense' | 'mod';
  mod?: WanModSettings;
  /** Keep every sparsity map observed at this layer (for mask pictures); default none. */
  keepMapsOfLayer?: number;
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
  /**
   * Drain the device around every timed op (Backend.syncNow), so `timeMs` is a true split on
   * asynchronous backends; costs the CPU/GPU overlap. Ignored by backends without syncNow.
   */
  profile?: boolean;
  /**
   * 'device': latents, guidance and the sampler stay on the backend (denoiseOnDevice; no host
   * round trip per step); 'host': the host loop of denoise(), whose checks read every model
   * output. Default 'device' on GPU backends, 'host' on the CPU backend.
   */
  sampling?: 'host' | 'device';
}

/** Counts of self-attention calls by plan (calls that ran). */
export interface AttentionCounts {
  dense: number;
  'dense+map': number;
  sparse: number;
  /** Dense calls that did not run: layer 0 of the uncond branch, reused from the cond branch (WanForwardArgs.prefix). */
  shared: number;
}

/** What one denoising run did and where its time went. */
export interface WanRunResult {
  latent: Float32Array;
  wallMs: number;
  stepMs: number[];
  /** Mean fraction of self-attention skipped per step, over all of that step's calls (dense calls count 0). */
  sparsity: number[];
  /** Mean sparsity of the sparse calls alone (0 when none). */
  sparseCallSparsity: number;
  calls: AttentionCounts;
  timeMs: Record<OpCategory, number>;
  /** Masks issued (MOD runs), oldest first. */
  masks: readonly MaskRecord[];
  /** Sparsity maps [heads, n, n] observed at `keepMapsOfLayer`, in observation order (MOD runs). */
  maps: { layer: number; branch: string | number; step: number; map: Float32Array }[];
  /** The scheduler's resolved config (MOD runs). */
  scheduler?: MaskScheduler['config'];
}

/**
 * One Wan denoising run: text/image embeddings once, then the flow-matching loop with CFG,
 * every self-attention call planned by MOD-DiT's scheduler (attention 'mod') or dense.
 */
export async function runWan(o: WanRunOptions): Promise<WanRunResult> {
  const config = o.weights.config;
  const grid = tokenGrid(config, o.latent);
  if (o.noise.length !== config.outDim * o.latent.frames * o.latent.height * o.latent.width)
    throw new WanInputError(`noise has ${o.noise.length} values, the latent [${config.outDim}, ${o.latent.frames}, ${o.latent.height}, ${o.latent.width}] needs ${config.outDim * o.latent.frames * o.latent.height * o.latent.width}`);
  const scheduler =
    o.attention === 'mod'
      ? new MaskScheduler({
          denseLayers: 1,
          ...o.mod,
          heads: config.heads,
          geometry: { videoTokens: grid[0] * grid[1] * grid[2], tokensPerFrame: grid[1] * grid[2], blockSize: o.mod?.blockSize ?? 128 },
          steps: o.steps,
          recordMasks: true,
        })
      : undefined;
  const clock = new OpClock(o.profile && o.backend.syncNow ? () => o.backend.syncNow?.() : undefined);
  const calls: AttentionCounts = { dense: 0, 'dense+map': 0, sparse: 0, shared: 0 };
  const perStep = new Map<number, { sum: number; n: number }>();
  let sparseSum = 0;
  const maps: WanRunResult['maps'] = [];
  const onAttention = (r: AttentionCallRecord) => {
    calls[r.shared ? 'shared' : r.kind]++;
    const s = perStep.get(r.step) ?? { sum: 0, n: 0 };
    s.sum += r.sparsity;
    s.n++;
    perStep.set(r.step, s);
    if (r.kind === 'sparse') sparseSum += r.sparsity;
  };
  const model = new WanModel(o.backend, o.weights, { scheduler, clock, onAttention, onMap: (site, map) => {
      if (site.layer === o.keepMapsOfLayer) maps.push({ ...site, map });
    },
  });
  const t0 = performance.now();
  const v = await wanVelocity(model, o.inputs, o.latent, o.guidance !== 1);
  try {
    const stepSparsity = (step: number) => {
      const s = perStep.get(step);
      return s && s.n ? s.sum / s.n : 0;
    };
    const loop = {
      schedule: flowSchedule({ steps: o.steps, shift: o.shift }),
      noise: o.noise,
      guidance: o.guidance,
      sampler: o.sampler ?? 'unipc',
      signal: o.signal,
      onProgress: o.onProgress,
      sparsity: stepSparsity,
      // the device runs the uncond forward right behind the cond one; profiling keeps them apart
      // so that each op's barrier times one forward's op
      concurrentBranches: !o.profile,
    };
    const onDevice = (o.sampling ?? (o.backend.name === 'cpu' ? 'host' : 'device')) === 'device';
    const shape = [config.outDim, o.latent.frames, o.latent.height, o.latent.width];
    const res = onDevice ? await denoiseOnDevice({ ...loop, backend: o.backend, model: v.deviceVelocity, shape }) : await denoise({ ...loop, model: v.velocity });
    return {
      latent: res.latent,
      wallMs: performance.now() - t0,
      stepMs: res.stepMs,
      sparsity: res.sparsity.map((s) => s ?? 0),
      sparseCallSparsity: calls.sparse ? sparseSum / calls.sparse : 0,
      calls,
      timeMs: { ...clock.ms },
      masks: scheduler?.maskLog ?? [],
      maps,
      scheduler: scheduler?.config,
    };
  } finally {
    v.dispose();
  }
}
