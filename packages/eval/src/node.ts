// Node-only part of @mod-dit/eval (`@mod-dit/eval/node`): PNG encoding (node:zlib) and the
// report writer (node:fs). Kept off the main entry so browser bundles never see Node imports.
export { crc32, encodePng } from './png.js';
export { writeEvaluationFiles } from './report-files.js';
