// Fit / predict / mask speed of @mod-dit/predictor on the built dist, at Wan2.1-14B 720p
// geometry by default (21 latent frames of 45x80 tokens = 75,600 tokens -> n = 591 blocks,
// 40 heads). Usage: node tools/bench/predictor.mjs [--heads 40] [--frames 21] [--tokens-per-frame 3600] [--block 128] [--reps 15]
// Prints the one-time factorization and, per stage, the median and min wall ms and the
// median and min process CPU ms (the CPU time is the steadier number on a shared machine).
import { performance } from 'node:perf_hooks';
import { BlockMask, Rng } from '@mod-dit/tensor';
import {
  BlockLayout,
  NormalFactor,
  allocateMap,
  buildMask,
  fitFeatures,
  fitProjections,
  linesToMask,
  mergeUnderMask,
  predictFeatures,
  projectMap,
  selectLines,
} from '@mod-dit/predictor';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), Number(all[i + 1])]] : acc), []),
);
const heads = args.heads ?? 40;
const frames = args.frames ?? 21;
const tokensPerFrame = args['tokens-per-frame'] ?? 3600;
const blockSize = args.block ?? 128;
const reps = args.reps ?? 15;

const layout = new BlockLayout({ videoTokens: frames * tokensPerFrame, tokensPerFrame, blockSize });
const n = layout.n;

/** A map with video-attention structure: a few dense diagonals and sink columns, dense frame tiles, noise. */
function syntheticMap(seed) {
  const rng = new Rng(seed);
  const map = new Float32Array(heads * n * n);
  for (let h = 0; h < heads; h++) {
    const diags = new Set(Array.from({ length: 6 }, () => rng.int(-n + 1, n)));
    const sinks = new Set(Array.from({ length: 4 }, () => rng.int(0, n)));
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0.97;
        if (diags.has(j - i) || sinks.has(j)) s = 0.3;
        if (j >= layout.tileStart[i] && j < layout.tileEnd[i]) s = Math.min(s, 0.5);
        map[(h * n + i) * n + j] = Math.min(1, Math.max(0, s + 0.03 * (rng.uniform() - 0.5)));
      }
  }
  return map;
}

/** Median and min wall time and process CPU time (less sensitive to other load on a shared machine). */
function median(fn) {
  const wall = [];
  const cpu = [];
  let out;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    out = fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mid = Math.floor(reps / 2);
  return { ms: wall[mid], min: wall[0], cpu: cpu[mid], cpuMin: cpu[0], out };
}

const t0 = performance.now();
new NormalFactor(layout, 1);
const factorMs = performance.now() - t0;
NormalFactor.cached(layout, 1);

const prevMap = syntheticMap(1);
const curMap = syntheticMap(2);
const prev = fitFeatures(prevMap, heads, layout);
const project = median(() => projectMap(curMap, heads, layout));
const solve = median(() => NormalFactor.cached(layout, 1).solve(project.out, heads));
const fit = median(() => fitFeatures(curMap, heads, layout));
const predict = median(() => predictFeatures(prev, fit.out, { interval: 10 }));
// the map already in the kernels' memory (allocateMap: a device readback or the map kernel writes it there): no copy
const residentMap = allocateMap(heads, layout);
residentMap.set(curMap);
const residentFit = median(() => fitFeatures(residentMap, heads, layout));
// the path where the map kernel also emits M^T s on the device: the host only solves
const fromProjections = median(() => fitProjections(project.out, heads, layout));
const topK = { budget: { kind: 'top-k', k: 350 } };
const mask = median(() => buildMask(predict.out, layout, topK));
// its parts: ranking, then the CSR; BlockMask's constructor alone (its O(nnz) validation) is a floor of the CSR part
const select = median(() => selectLines(predict.out, layout, topK));
const csr = median(() => linesToMask(select.out, layout));
const geometry = { heads, qLen: layout.videoTokens, kLen: layout.videoTokens, blockSize };
const validate = median(() => new BlockMask(geometry, mask.out.rowPtr, mask.out.colIdx));
// a refresh step: merge the fresh map under the active mask (updating M^T s), refit, predict
const merged = curMap.slice();
const mergedProjections = projectMap(merged, heads, layout);
const freshMap = syntheticMap(3);
const refresh = median(() => {
  mergeUnderMask(merged, mergedProjections, freshMap, mask.out, heads, layout);
  return predictFeatures(fit.out, fitProjections(mergedProjections, heads, layout), { interval: 10 });
});

const fmt = (x) => x.toFixed(2);
const stat = (r) => `${fmt(r.ms)} ms median (min ${fmt(r.min)}; cpu ${fmt(r.cpu)}, min ${fmt(r.cpuMin)})`;
console.log(`geometry: ${frames} frames x ${tokensPerFrame} tokens, block ${blockSize} -> n = ${n}, ${heads} heads, ${reps} reps (node ${process.version})`);
console.log(`factorization (once per geometry): ${fmt(factorMs)} ms`);
console.log(`fit (M^T s + solve): ${stat(fit)}  [M^T s pass ${stat(project)}; solve ${stat(solve)}]`);
console.log(`predict: ${stat(predict)}`);
console.log(`fit + predict: ${fmt(fit.ms + predict.ms)} ms median (min ${fmt(fit.min + predict.min)}, cpu ${fmt(fit.cpu + predict.cpu)})`);
console.log(`fit + predict, map in allocateMap's array (no copy): ${fmt(residentFit.ms + predict.ms)} ms median (min ${fmt(residentFit.min + predict.min)}, cpu ${fmt(residentFit.cpu + predict.cpu)})`);
console.log(`fit from device-side M^T s + predict: ${fmt(fromProjections.ms + predict.ms)} ms median (cpu ${fmt(fromProjections.cpu + predict.cpu)})`);
console.log(`refresh: merge under the top-k 350 mask + refit + predict: ${stat(refresh)}`);
console.log(`mask (top-k 350 -> BlockMask): ${stat(mask)}, density ${(mask.out.density() * 100).toFixed(1)}%, ${mask.out.colIdx.length} active blocks`);
console.log(`  select lines: ${stat(select)}; lines -> BlockMask: ${stat(csr)}; of which BlockMask constructor (validation): ${stat(validate)}`);
console.log(`load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
