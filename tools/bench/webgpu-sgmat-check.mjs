// Checks the subgroup-matrix paths of the WebGPU backend where the device has them (f16,
// shapes that take those paths) against the CPU reference, and probes the three
// subgroup-matrix memory primitives the kernels rely on, each on its own:
//   left-from-workgroup (f16, at offset 0 and at the non-zero offsets the attention kernel
//   uses), right-row-major-from-storage, result store + load round trip.
// Usage: node tools/bench/webgpu-sgmat-check.mjs    (prints one line per check; exit 1 on failure)
import { BlockMask, Rng, cpuBackend, fromNumbers, toFloat32 } from '@mod-dit/tensor';
import { createWebGPUBackend } from '../../packages/webgpu/dist/index.js';

// the experimental attention kernel is opted in here: this script is where its failure shows
const gpu = await createWebGPUBackend({ paths: { experimentalSubgroupMatrixAttention: true } });
if (!gpu.subgroupMatrixActive) {
  console.log(`no subgroup matrices on ${gpu.caps.description}: nothing to check`);
  process.exit(0);
}
const cpu = cpuBackend();
const rng = new Rng(3);
let failures = 0;
const report = (name, err, tol) => {
  const ok = err <= tol;
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${err.toExponential(3)} (tol ${tol})`);
};
const relErr = (a, b) => {
  let d = 0;
  let r = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    r += b[i] ** 2;
  }
  return Math.sqrt(d / r);
};

// ---- primitives: identity products move a known 16x16 matrix through one primitive each ----
const dev = gpu.device;
const A = Float32Array.from({ length: 256 }, (_, i) => ((i * 37) % 101) / 16 - 3);
const I = Float32Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 1 : 0));
const buf = (f32, f16) => {
  const data = f16 ? fromNumbers(f32, 'f16') : f32;
  const b = dev.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  dev.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
};
async function probe(name, body) {
  const code = `enable f16;
enable chromium_experimental_subgroup_matrix;
@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> id: array<f16>;
@group(0) @binding(2) var<storage, read_write> res: array<f32>;
var<workgroup> wl: array<f16, 1024>;
var<workgroup> wr: array<f32, 256>;
@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) lane: u32) {
${body}
}`;
  dev.pushErrorScope('validation');
  const module = dev.createShaderModule({ code });
  const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = dev.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 1024, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bg = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [buf(A, true), buf(I, true), out].map((b, i) => ({ binding: i, resource: { buffer: b } })) });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bg);
  pass.dispatchWorkgroups(1);
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, 1024);
  dev.queue.submit([enc.finish()]);
  const err = await dev.popErrorScope();
  if (err) {
    failures++;
    console.log(`FAIL probe ${name}: ${err.message.split('\n')[0]}`);
    return;
  }
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  report(`probe ${name}`, relErr(got, toFloat32(fromNumbers(A, 'f16'), 'f16')), 1e-6);
}
await probe('left f16 from workgroup', `
  for (var i = lane; i < 256u; i += 32u) { wl[i] = a[i]; }
  workgroupBarrier();
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wl, 0u, false, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&id, 0u, false, 16u);
  subgroupMatrixStore(&res, 0u, subgroupMatrixMultiply<f32>(l, r), false, 16u);`);
// the attention kernel loads P from a workgroup f16 array at non-zero offsets: probe that too
await probe('left f16 from workgroup at offset 256', `
  for (var i = lane; i < 256u; i += 32u) { wl[256u + i] = a[i]; }
  workgroupBarrier();
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wl, 256u, false, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&id, 0u, false, 16u);
  subgroupMatrixStore(&res, 0u, subgroupMatrixMultiply<f32>(l, r), false, 16u);`);
await probe('left f16 from workgroup, 16-column offset, stride 64', `
  for (var i = lane; i < 256u; i += 32u) { wl[(i / 16u) * 64u + 16u + i % 16u] = a[i]; }
  workgroupBarrier();
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&wl, 16u, false, 64u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&id, 0u, false, 16u);
  subgroupMatrixStore(&res, 0u, subgroupMatrixMultiply<f32>(l, r), false, 16u);`);
await probe('right row-major from storage', `
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&id, 0u, false, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&a, 0u, false, 16u);
  subgroupMatrixStore(&res, 0u, subgroupMatrixMultiply<f32>(l, r), false, 16u);`);
await probe('result store + load round trip', `
  let l = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>>(&a, 0u, false, 16u);
  let r = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>>(&id, 0u, false, 16u);
  subgroupMatrixStore(&wr, 0u, subgroupMatrixMultiply<f32>(l, r), false, 16u);
  workgroupBarrier();
  let back = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>>(&wr, 0u, false, 16u);
  subgroupMatrixStore(&res, 0u, back, false, 16u);`);

// ---- backend ops on shapes that take the subgroup-matrix kernels ----
const pair = (shape, std = 1) => {
  const bits = fromNumbers(rng.normals(shape.reduce((a, b) => a * b, 1), std), 'f16');
  return [gpu.upload(bits, shape, 'f16'), cpu.upload(bits, shape, 'f16')];
};
const compare = async (name, g, c, tol) => report(name, relErr(await g.toFloat32(), await c.toFloat32()), tol);
for (const tb of [false, true]) {
  const [M, K, N] = [100, 64, 48];
  const [ga, ca] = pair([M, K]);
  const [gb, cb] = pair(tb ? [N, K] : [K, N], 0.2);
  const [gbias, cbias] = pair([N]);
  await compare(`matmul f16 ${M}x${K}x${N} transposeB=${tb} + bias`, gpu.matmul(ga, gb, { transposeB: tb, bias: gbias }), cpu.matmul(ca, cb, { transposeB: tb, bias: cbias }), 1e-2);
}
const [B, H, L, D] = [1, 2, 150, 64];
const [gq, cq] = pair([B, H, L, D]);
const [gk, ck] = pair([B, H, L, D]);
const [gv, cv] = pair([B, H, L, D]);
const gd = gpu.attention(gq, gk, gv, { map: { tau: 1e-3, blockSize: 64 } });
const cd = cpu.attention(cq, ck, cv, { map: { tau: 1e-3, blockSize: 64 } });
await compare('attention f16 dense out', gd.out, cd.out, 1e-2);
await compare('attention f16 dense lse', gd.lse, cd.lse, 1e-4);
await compare('attention f16 map', gd.map, cd.map, 1e-2);
const grid = Array.from({ length: H * 3 * 3 }, () => (rng.uniform() < 0.5 ? 1 : 0));
const mask = BlockMask.fromDense({ heads: H, qLen: L, kLen: L, blockSize: 64 }, grid);
const gs = gpu.attention(gq, gk, gv, { mask });
const cs = cpu.attention(cq, ck, cv, { mask });
const [go, co] = [await gs.out.toFloat32(), await cs.out.toFloat32()];
report('attention f16 sparse out', relErr(go, co), 1e-2);
console.log(`${failures === 0 ? 'all subgroup-matrix checks passed' : `${failures} subgroup-matrix check(s) failed`}`);
gpu.destroy();
process.exitCode = failures ? 1 : 0;
