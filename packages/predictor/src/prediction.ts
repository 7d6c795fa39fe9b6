import { ShapeError } from '@mod-dit/tensor';
import { InvalidOptionError } from './errors.js';
import type { Features } from './features.js';

/** How {@link predictFeatures} extrapolates two observations. */
export type PredictionRule =
  /** The reference: predicted = cur + (cur - prev) / T, whatever the distance between the observations. */
  | { kind: 'faithful' }
  /**
   * Uses the true distance: slope = (cur - prev) / distance (steps between the two
   * observations), predicted = cur + slope * horizon.
   */
  | { kind: 'step-distance'; distance: number; horizon?: number };

/** Options of {@link predictFeatures}. */
export interface PredictOptions {
  /** T, the refresh interval in steps. Default 10. */
  interval?: number;
  /** Default { kind: 'faithful' }. The step-distance horizon defaults to interval / 2: the middle of the steps the mask serves. */
  rule?: PredictionRule;
}

/**
 * Extrapolates the line weights of two observations over the next interval. Diagonals and
 * columns are extrapolated; the tile weight is the current one (the reference decides the
 * tiles from the latest fit, not from a prediction).
 */
export function predictFeatures(prev: Features, cur: Features, options: PredictOptions = {}): Features {
  if (prev.heads !== cur.heads || prev.n !== cur.n)
    throw new ShapeError(`predictFeatures: previous features are [heads ${prev.heads}, n ${prev.n}], current [heads ${cur.heads}, n ${cur.n}]`);
  if (prev.columnScale !== cur.columnScale)
    throw new InvalidOptionError(`predictFeatures: previous columnScale ${prev.columnScale} differs from current ${cur.columnScale}`);
  const interval = options.interval ?? 10;
  if (!(interval > 0) || !Number.isFinite(interval)) throw new InvalidOptionError(`interval must be a positive number, got ${interval}`);
  const rule = options.rule ?? { kind: 'faithful' };
  let gain: number;
  if (rule.kind === 'faithful') gain = 1 / interval;
  else {
    const horizon = rule.horizon ?? interval / 2;
    if (!(rule.distance > 0) || !Number.isFinite(rule.distance)) throw new InvalidOptionError(`step-distance rule: distance must be a positive number of steps, got ${rule.distance}`);
    if (!(horizon >= 0) || !Number.isFinite(horizon)) throw new InvalidOptionError(`step-distance rule: horizon must be >= 0, got ${horizon}`);
    gain = horizon / rule.distance;
  }
  return {
    heads: cur.heads,
    n: cur.n,
    diagonals: extrapolate(prev.diagonals, cur.diagonals, gain),
    columns: extrapolate(prev.columns, cur.columns, gain),
    tiles: cur.tiles.slice(),
    columnScale: cur.columnScale,
  };
}

function extrapolate(prev: Float64Array, cur: Float64Array, gain: number): Float64Array {
  const out = new Float64Array(cur.length);
  for (let i = 0; i < cur.length; i++) out[i] = cur[i] + (cur[i] - prev[i]) * gain;
  return out;
}
