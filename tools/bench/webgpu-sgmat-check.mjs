// Checks every subgroup-matrix kernel configuration of the WebGPU backend on the device
// (native fragments; lavapipe has none, there the tests run them emulated) against the CPU
// reference on small awkward shapes, before anything is timed: the attention tilings
// (SG_ATTENTION_CONFIGS: K/V per subgroup, staged or prefetched per workgroup; P through
// workgroup memory or a storage scratch; 1 or 2 query tiles per subgroup) dense + LSE, with
// growing scores that force O rescales, and block-sparse (recorded separately), at head_dim
// 64 and 128; the GEMM tilings (SG_MATMUL_CONFIGS) with both weight layouts + bias (and the
// GELU epilogue); the map pass on subgroup matrices (paths.sgMap, recorded as map.sgmat).
// Writes { attention, 'attention-sparse', gemm, map: {name: ok}, checks: [...] } to
// --out (after each tiling), which webgpu-attention.mjs reads to time only what passed.
// Usage: node tools/bench/webgpu-sgmat-check.mjs [--out sgmat-check.json] [--emulate] [--limit N] [--head-dims 64,128] [--no-robustness]
//   --emulate: where the device lacks subgroup matrices, check the emulated fragments, to try
//   this script on lavapipe (slow: there --head-dims 16 keeps the kernels small).
//   --limit N: only the first N tilings of each kind (the defaults come first).
// Exit 1 on any failure.
import { writeFileSync } from 'node:fs';
import { BlockMask, Rng, cpuBackend, fromNumbers } from '@mod-dit/tensor';
import { SG_ATTENTION_CONFIGS, SG_MATMUL_CONFIGS, createWebGPUBackend, sgAttentionName, sgMatmulName } from '../../packages/webgpu/dist/index.js';
import { flag, option } from '../script-args.mjs';

const out = option('out', undefined);
const limit = Number(option('limit', '1000'));
const headDims = option('head-dims', '64,128').split(',').map(Number);
const gpu = await createWebGPUBackend({ robustness: !flag('no-robustness'), paths: { emulateFragments: flag('emulate') } });
const mode = gpu.caps.subgroupMatrix16 ? 'native' : 'emulated';
if (!gpu.subgroupMatrixActive) {
  console.log(`no subgroup matrices on ${gpu.caps.description}: nothing to check`);
  gpu.destroy();
  process.exit(0);
}
const cpu = cpuBackend();
const rng = new Rng(3);
const relErr = (a, b) => {
  let d = 0;
  let r = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i])) {
      if (!Object.is(a[i], b[i])) return Infinity;
      continue;
    }
    d += (a[i] - b[i]) ** 2;
    r += b[i] ** 2;
  }
  return d === 0 ? 0 : Math.sqrt(d / r);
};
/** The same f16 data on both backends; `values` defaults to N(0, std). */
const pair = (shape, std = 1, values) => {
  const bits = fromNumbers(values ?? rng.normals(shape.reduce((a, b) => a * b, 1), std), 'f16');
  return [gpu.upload(bits, shape, 'f16'), cpu.upload(bits, shape, 'f16')];
};
const checks = [];
const passed = { attention: {}, 'attention-sparse': {}, gemm: {}, map: {} };
/** Records whether every check of tiling `name` passed; the file is rewritten after each tiling, so a run cut short still tells which tilings passed. */
function settle(kind, name) {
  passed[kind][name] = checks.filter((c) => c.kind === kind && c.name === name).every((c) => c.ok);
  if (out) writeFileSync(out, JSON.stringify({ device: gpu.caps.description, fragments: mode, ...passed, checks }, null, 1));
}
async function check(kind, name, what, key, run) {
  let line;
  try {
    const errs = await run();
    const ran = gpu.kernels.source(key) !== undefined;
    const ok = ran && errs.every(([, e, tol]) => e <= tol);
    line = { kind, name, what, ok, ran, errs: errs.map(([n, e, tol]) => ({ n, err: e, tol })) };
  } catch (e) {
    line = { kind, name, what, ok: false, error: e.message.split('\n')[0] };
  }
  checks.push(line);
  const detail = line.error ?? (line.ran ? line.errs.map((x) => `${x.n} ${x.err.toExponential(2)} (tol ${x.tol})`).join(', ') : `kernel ${key} did not run`);
  console.log(`${line.ok ? 'ok  ' : 'FAIL'} ${kind} ${name} ${what}: ${detail}`);
}

async function attentionErrs(shapeQ, shapeK, opts = {}, kValues) {
  const [gq, cq] = pair(shapeQ);
  const [gk, ck] = pair(shapeK, 1, kValues);
  const [gv, cv] = pair(shapeK);
  const g = gpu.attention(gq, gk, gv, opts);
  const c = cpu.attention(cq, ck, cv, opts);
  return [
    ['out', relErr(await g.out.toFloat32(), await c.out.toFloat32()), 1e-2],
    ['lse', relErr(await g.lse.toFloat32(), await c.lse.toFloat32()), 1e-3],
  ];
}

for (const config of SG_MATMUL_CONFIGS.slice(0, limit)) {
  const name = sgMatmulName(config);
  gpu.paths.sgMatmul = config;
  for (const [aShape, K, N, tb] of [[[100, 48], 48, 40, true], [[100, 48], 48, 40, false], [[2, 129, 96], 96, 136, true], [[2, 129, 96], 96, 136, false]]) {
    const [ga, ca] = pair(aShape);
    const [gb, cb] = pair(tb ? [N, K] : [K, N], 0.2);
    const [gbias, cbias] = pair([N]);
    // the GELU epilogue on one shape per layout
    for (const activation of aShape.length === 3 ? [undefined, 'gelu'] : [undefined]) {
      const opts = (bias) => ({ transposeB: tb, bias, activation });
      await check('gemm', name, `[${aShape}] x ${tb ? `[${N},${K}]^T` : `[${K},${N}]`} + bias${activation ? ', GELU' : ''}`, `matmul-sgmat/${mode}/tb${tb ? 1 : 0}/biasf16/act${activation ?? '-'}/${name}`, async () => [
        ['out', relErr(await gpu.matmul(ga, gb, opts(gbias)).toFloat32(), await cpu.matmul(ca, cb, opts(cbias)).toFloat32()), 1e-2],
      ]);
    }
  }
  settle('gemm', name);
}
gpu.paths.sgMatmul = undefined;

for (const config of SG_ATTENTION_CONFIGS.slice(0, limit)) {
  const name = sgAttentionName(config);
  gpu.paths.sgAttention = config;
  for (const D of headDims) {
    const key = (kind) => `attn-sgmat/${mode}/d${D}/${kind}/${name}`;
    await check('attention', name, `D ${D} dense [1,2,200] x 261 keys`, key('dense'), () => attentionErrs([1, 2, 200, D], [1, 2, 261, D]));
    await check('attention', name, `D ${D} dense 17 x 16 keys`, key('dense'), () => attentionErrs([1, 1, 17, D], [1, 1, 16, D]));
    const growing = rng.normals(150 * D, 1).map((x, i) => x * (1 + (4 * Math.floor(i / D)) / 150));
    await check('attention', name, `D ${D} growing scores (scale 1), O rescales`, key('dense'), () => attentionErrs([1, 1, 70, D], [1, 1, 150, D], { scale: 1 }, growing));
    const bs = 128 % (config.subgroups * config.mTiles * 16) === 0 ? 128 : 64;
    const nQ = Math.ceil(300 / bs);
    const nK = Math.ceil(261 / bs);
    const grid = Array.from({ length: 2 * nQ * nK }, () => (rng.uniform() < 0.5 ? 1 : 0));
    grid.fill(0, nK, 2 * nK); // head 0, query block 1: no key block
    grid[0] = 1;
    const mask = BlockMask.fromDense({ heads: 2, qLen: 300, kLen: 261, blockSize: bs }, grid);
    await check('attention-sparse', name, `D ${D} block ${bs} [1,2,300] x 261 keys, density ${mask.density().toFixed(2)}`, key('sparse'), () =>
      attentionErrs([1, 2, 300, D], [1, 2, 261, D], { mask }),
    );
  }
  settle('attention', name);
  settle('attention-sparse', name);
}
gpu.paths.sgAttention = undefined;

// the map pass on subgroup matrices (paths.sgMap): blocks 64 and 128, the first 260 tokens, with and without map.within
gpu.paths.sgMap = true;
for (const D of headDims) {
  const [gq, cq] = pair([1, 2, 290, D]);
  const [gk, ck] = pair([1, 2, 270, D]);
  for (const bs of [64, 128]) {
    const [nQ, nK] = [Math.ceil(290 / bs), Math.ceil(270 / bs)];
    const within = BlockMask.fromDense({ heads: 2, qLen: 290, kLen: 270, blockSize: bs }, Array.from({ length: 2 * nQ * nK }, () => (rng.uniform() < 0.7 ? 1 : 0)));
    for (const map of [{ tau: 1e-3, blockSize: bs, tokens: 260 }, { tau: 1e-3, blockSize: bs, tokens: 260, within }])
      await check('map', 'sgmat', `D ${D} block ${bs} [1,2,290] x 270 keys, tokens 260${map.within ? ', within a mask' : ''}`, `attn-map-sgmat/${mode}/d${D}/bs${bs}`, async () => [
        ['map', relErr(await gpu.attention(gq, gk, gk, { map }).map.toFloat32(), await cpu.attention(cq, ck, ck, { map }).map.toFloat32()), 0.02],
      ]);
  }
}
settle('map', 'sgmat');
gpu.paths.sgMap = undefined;

const failures = checks.filter((c) => !c.ok).length;
console.log(failures === 0 ? `all ${checks.length} subgroup-matrix checks passed` : `${failures} of ${checks.length} subgroup-matrix checks failed`);
gpu.destroy();
process.exitCode = failures ? 1 : 0;
