import type { ResolvedConfig } from './config.js';

/** What one attention call does, before any state is consulted. */
export type StepKind = 'dense' | 'dense+map' | 'sparse';

/**
 * The schedule of the spec: dense layers always dense; steps 0..m-3 dense; m-2 and m-1
 * dense + map; from m on sparse, except refresh steps (t - m) mod T == T - 1, which are
 * dense + map (21, 31, 41 for m = 12, T = 10, 50 steps).
 */
export function stepKind(config: Pick<ResolvedConfig, 'warmup' | 'interval' | 'denseLayers'>, step: number, layer: number): StepKind {
  const { warmup: m, interval: t, denseLayers } = config;
  if (layer < denseLayers || step < m - 2) return 'dense';
  if (step < m) return 'dense+map';
  return (step - m) % t === t - 1 ? 'dense+map' : 'sparse';
}
