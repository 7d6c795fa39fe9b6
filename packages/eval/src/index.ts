export { EvalConfigError } from './eval-error.js';
export { TokenGrid } from './token-grid.js';
export { HEAD_KINDS, HeadProfile, type HeadKind, type HeadState } from './head-profile.js';
export { VideoAttentionSuite, type AttentionSample, type AttentionSite, type VideoAttentionSuiteOptions } from './video-attention-suite.js';
export { BlockAttention, type BlockAttentionInput, type MaskQuality } from './block-attention.js';
export { exactSparsityMap } from './sparsity-map.js';
export { fillToDensity } from './density-fill.js';
export { blockDistances, type BlockDistances } from './block-distance.js';
export { oracleMask } from './oracle-mask.js';
export { windowMask } from './window-mask.js';
export { svgMask, type SvgChoice, type SvgPattern } from './svg-mask.js';
export { videoMaskGrid } from './mask-grid.js';
export { Raster, type Rgb } from './raster.js';
export { maskHeatmapFigure, type HeatmapCell, type HeatmapFigureInput } from './heatmap-figure.js';
export { recallCurveFigure, type CurveSeries } from './curve-figure.js';
export {
  DEFAULT_VARIANTS,
  REFERENCE_LINE_FRACTION,
  runEvaluation,
  type CallRecord,
  type EvalOptions,
  type EvalReport,
  type HeatmapData,
  type MethodMetrics,
  type ModVariant,
  type SummaryRow,
} from './evaluation.js';
export { stepTable, summaryTable } from './summary-table.js';
export { EVAL_PRESET_NAMES, evalPreset, parseGrid, type EvalOverrides, type EvalPresetName } from './presets.js';
