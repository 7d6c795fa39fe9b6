import type { BlockMask } from '@mod-dit/tensor';
import type { Features } from '@mod-dit/predictor';

/** Guidance branch name: e.g. 'cond' / 'uncond', or 0 / 1. Letters, digits, '_' and '-' only (it becomes part of tensor names). */
export type Branch = string | number;

/** One attention call: which denoising step, which transformer layer, which guidance branch. */
export interface CallSite {
  step: number;
  layer: number;
  /** Default 0. */
  branch?: Branch;
}

/** The online state of one (layer, branch). */
export interface LayerState {
  layer: number;
  branch: Branch;
  /** Last step planned, -1 before the first. */
  lastStep: number;
  /** Step whose dense+map plan awaits its observe(), or null. */
  pending: number | null;
  /** The last two features (oldest first) and the steps they were observed at. */
  history: Features[];
  historySteps: number[];
  /** The merged map [heads, n, n] the latest features were fitted on, and its projections M^T map [heads, 3n]. */
  map: Float32Array | null;
  projections: Float64Array | null;
  /** The active mask and the first step it serves. */
  mask: BlockMask | null;
  maskFrom: number;
  /** Frozen per-head tile decision (tileDecision 'warm-up'), set with the first mask. */
  tileHeads: Uint8Array | null;
}

export function newLayerState(layer: number, branch: Branch): LayerState {
  return { layer, branch, lastStep: -1, pending: null, history: [], historySteps: [], map: null, projections: null, mask: null, maskFrom: -1, tileHeads: null };
}
