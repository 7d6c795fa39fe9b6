// Checks the subgroup-matrix GEMM of the WebGPU backend where the device has it: f16 matmuls
// on shapes that take that kernel (both weight layouts, with bias) against the CPU reference.
// The shared conformance suite (webgpu-conformance.mjs --size medium) reaches the kernel only
// with transposeB; this script covers the row-major weight layout as well.
// Usage: node tools/bench/webgpu-sgmat-check.mjs    (prints one line per check; exit 1 on failure)
import { Rng, cpuBackend, fromNumbers } from '@mod-dit/tensor';
import { createWebGPUBackend } from '../../packages/webgpu/dist/index.js';

const gpu = await createWebGPUBackend();
if (!gpu.subgroupMatrixActive) {
  console.log(`no subgroup matrices on ${gpu.caps.description}: nothing to check`);
  gpu.destroy();
  process.exit(0);
}
const cpu = cpuBackend();
const rng = new Rng(3);
let failures = 0;
const relErr = (a, b) => {
  let d = 0;
  let r = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    r += b[i] ** 2;
  }
  return Math.sqrt(d / r);
};
const pair = (shape, std = 1) => {
  const bits = fromNumbers(rng.normals(shape.reduce((a, b) => a * b, 1), std), 'f16');
  return [gpu.upload(bits, shape, 'f16'), cpu.upload(bits, shape, 'f16')];
};
// M = 100 leaves a ragged last row tile; K % 16 = 0 and even N, as the kernel requires
const [M, K, N] = [100, 64, 48];
for (const tb of [false, true]) {
  const [ga, ca] = pair([M, K]);
  const [gb, cb] = pair(tb ? [N, K] : [K, N], 0.2);
  const [gbias, cbias] = pair([N]);
  const err = relErr(await gpu.matmul(ga, gb, { transposeB: tb, bias: gbias }).toFloat32(), await cpu.matmul(ca, cb, { transposeB: tb, bias: cbias }).toFloat32());
  const ok = err <= 1e-2;
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} matmul f16 ${M}x${K}x${N} transposeB=${tb} + bias: ${err.toExponential(3)} (tol 1e-2)`);
}
console.log(failures === 0 ? 'all subgroup-matrix checks passed' : `${failures} subgroup-matrix check(s) failed`);
gpu.destroy();
process.exitCode = failures ? 1 : 0;
