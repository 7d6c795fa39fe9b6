export { InvalidOptionError, InvalidMapError } from './errors.js';
export { BlockLayout, type VideoGeometry } from './block-layout.js';
export { gramStructure, normalMatrix, type GramStructure } from './normal-equations.js';
export { NormalFactor } from './normal-factor.js';
export { allocateMap, fitFeatures, fitProjections, projectMap, checkMap, type Features, type FitOptions } from './features.js';
export { mergeUnderMask } from './map-merge.js';
export { predictFeatures, type PredictOptions, type PredictionRule } from './prediction.js';
export { selectLines, tileHeadsFromFeatures, type LineBudget, type LineSelection, type SelectOptions } from './line-selection.js';
export { buildMask, linesToMask, type MaskOptions } from './mask-builder.js';
