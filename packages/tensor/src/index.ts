export * from './errors.js';
export * from './dtype.js';
export * from './shape.js';
export * from './tensor.js';
export * from './backend.js';
export * from './block-mask.js';
export * from './random.js';
export * from './caching-allocator.js';
export * from './cpu/index.js';
/** Public helper: the minimal WebAssembly binary writer (module framing, locals, control flow, a few SIMD ops) that the CPU kernels are written with, for other packages' small SIMD kernels. */
export * as wasmWriter from './cpu/wasm-writer.js';
