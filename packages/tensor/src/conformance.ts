/**
 * The backend conformance suite (`@mod-dit/tensor/conformance`): every backend runs it in
 * its tests against the CPU reference backend. Test-runner agnostic.
 */
export { conformanceCases, runConformance, type ConformanceCase, type ConformanceOptions } from './conformance/suite.js';
export { ConformanceError } from './conformance/conformance-error.js';
export { TOLERANCE, type Tolerance, maxRelativeError } from './conformance/compare.js';
export type { SuiteSize } from './conformance/case-spec.js';
