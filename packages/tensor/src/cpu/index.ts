export { CpuBackend, cpuBackend } from './cpu-backend.js';
// Argument validation of every op, backend-independent: GPU backends call these so that all
// backends reject bad input with the same typed errors and messages.
export { checkFloat, checkMinRank, checkNumber, checkRank, checkSameDType, checkShape, checkTensor, isPositiveInt } from './checks.js';
export { checkEmpty, checkUpload, validateCast, validateConcat } from './copy.js';
export { validateBinary, validateTernary } from './elementwise.js';
export { type MatmulGeometry, validateMatmul } from './matmul.js';
export { type LayerNormGeometry, residualThenLayerNorm, validateLayerNorm, validateNorm, validateResidualLayerNorm } from './norms.js';
export { normThenRope, validateRope3d } from './rope.js';
export { type PatchGeometry, validatePatchify, validateUnpatchify } from './patch.js';
export { type AttentionGeometry, type SparsityMapPlan, validateAttention } from './attention.js';
