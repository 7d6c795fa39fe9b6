export * from './errors.js';
export * from './dtype.js';
export * from './shape.js';
export * from './tensor.js';
export * from './backend.js';
export * from './block-mask.js';
export * from './random.js';
export * from './cpu/index.js';
