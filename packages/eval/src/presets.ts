import { EvalConfigError } from './eval-error.js';
import { DEFAULT_VARIANTS, type EvalOptions } from './evaluation.js';

/** Named evaluation setups. */
export type EvalPresetName = 'ci' | 'wan-480p';

/** Every preset name, for command-line choices. */
export const EVAL_PRESET_NAMES: readonly EvalPresetName[] = ['ci', 'wan-480p'];

/** Overrides a command line can apply on top of a preset. */
export interface EvalOverrides {
  /** "FxHxW", e.g. "5x12x16". */
  grid?: string;
  textTokens?: number;
  blockSize?: number;
  heads?: number;
  headDim?: number;
  layers?: number;
  branches?: number;
  steps?: number;
  seed?: number;
  queryBlocks?: number;
  metricEvery?: number;
  mapSource?: 'backend' | 'harness';
}

/**
 * The options of a preset with overrides applied.
 * - 'ci': 5 x 12 x 16 = 960 tokens, block 64 (n = 15, 3 blocks per frame), 4 heads (one of
 *   each kind), head_dim 32, 1 layer, 50 steps; every query block and every sparse step
 *   evaluated; maps from the CPU reference backend.
 * - 'wan-480p': Wan2.1 480p latent grid 21 x 30 x 52 = 32,760 tokens, block 128 (n = 256,
 *   ragged last block, frames of 1560 tokens straddling blocks), 4 heads, head_dim 24
 *   (Wan: 12 x 128), 1 layer; 12 of 256 query blocks evaluated on every 2nd sparse step;
 *   maps from the harness's exact pass (same contract, no P.V); adds the literal reference
 *   top_k 350 as a variant.
 */
export function evalPreset(name: EvalPresetName, overrides: EvalOverrides = {}): EvalOptions {
  let base: EvalOptions;
  switch (name) {
    case 'ci':
      base = { suite: { grid: [5, 12, 16], blockSize: 64, heads: 4, headDim: 32, layers: 1, branches: 1, steps: 50, seed: 0 } };
      break;
    case 'wan-480p':
      base = {
        suite: { grid: [21, 30, 52], blockSize: 128, heads: 4, headDim: 24, layers: 1, branches: 1, steps: 50, seed: 0 },
        queryBlocks: 12,
        metricEvery: 2,
        curveEvery: 3,
        mapSource: 'harness',
        variants: [...DEFAULT_VARIANTS, { name: 'mod-topk-350', budget: { kind: 'top-k', k: 350 } }],
      };
      break;
    default:
      throw new EvalConfigError(`unknown preset ${String(name)}; expected one of ${EVAL_PRESET_NAMES.join(', ')}`);
  }
  const o = overrides;
  return {
    ...base,
    suite: {
      ...base.suite,
      ...(o.grid !== undefined && { grid: parseGrid(o.grid) }),
      ...(o.textTokens !== undefined && { textTokens: o.textTokens }),
      ...(o.blockSize !== undefined && { blockSize: o.blockSize }),
      ...(o.heads !== undefined && { heads: o.heads }),
      ...(o.headDim !== undefined && { headDim: o.headDim }),
      ...(o.layers !== undefined && { layers: o.layers }),
      ...(o.branches !== undefined && { branches: o.branches }),
      ...(o.steps !== undefined && { steps: o.steps }),
      ...(o.seed !== undefined && { seed: o.seed }),
    },
    ...(o.queryBlocks !== undefined && { queryBlocks: o.queryBlocks }),
    ...(o.metricEvery !== undefined && { metricEvery: o.metricEvery }),
    ...(o.mapSource !== undefined && { mapSource: o.mapSource }),
  };
}

/** Parses "FxHxW" (e.g. "21x30x52") into a token grid. */
export function parseGrid(text: string): [number, number, number] {
  const parts = text.split('x').map((p) => Number(p));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1))
    throw new EvalConfigError(`grid must look like FRAMESxHEIGHTxWIDTH with positive integers (e.g. 5x12x16), got "${text}"`);
  return parts as [number, number, number];
}
