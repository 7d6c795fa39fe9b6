// Runs the shared backend conformance suite on the WebGPU backend (built dist) outside vitest,
// e.g. on the GPU machine through Dawn/Vulkan, with and without the subgroup-matrix GEMM.
// Usage: node tools/bench/webgpu-conformance.mjs [--size small|medium] [--portable] [--no-robustness]
// Prints "N passed, N failed" and one line per failure; exits 1 on any failure.
import { runConformance } from '@mod-dit/tensor/conformance';
import { createWebGPUBackend } from '../../packages/webgpu/dist/index.js';
import { flag, option } from '../script-args.mjs';

const size = option('size', 'small');
const backend = await createWebGPUBackend({ robustness: !flag('no-robustness'), paths: { subgroupMatrix: !flag('portable') } });
console.log(`device: ${backend.caps.description}; subgroup matrices ${backend.subgroupMatrixActive ? 'on' : 'off'}; size ${size}`);
const t0 = Date.now();
const { passed, failed } = await runConformance(backend, { size });
for (const f of failed) console.log(`FAIL ${f.name}: ${f.error.message.split('\n').slice(0, 4).join(' | ')}`);
console.log(`${passed.length} passed, ${failed.length} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
backend.destroy();
process.exitCode = failed.length ? 1 : 0;
