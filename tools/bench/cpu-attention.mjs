// Single-threaded speed of the CPU reference backend's attention (built dist: `cd packages/tensor
// && npx tsup` first): dense, dense + sparsity map and block-sparse, f32 and bf16.
//
// Usage: node tools/bench/cpu-attention.mjs [--shape B,H,L,D] [--iters 3] [--cases dense,map,sparse]
//          [--dtypes f32,bf16] [--density 0.25] [--dist path/to/another/tensor/dist/index.js]
// --dist times another build of @mod-dit/tensor (e.g. a saved copy of an older dist) on the same
// inputs, and prints the largest difference of its outputs from this build's.
// Prints one line per case: median wall time of `iters` calls after one warm-up, and GFLOP/s
// counting 4*L*L*D flops per (b, h) for dense (QK^T and PV), scaled by the mask's density.
import { performance } from 'node:perf_hooks';
import { BlockMask, Rng, cpuBackend, f32ToBf16 } from '@mod-dit/tensor';
import { option } from '../script-args.mjs';

const [B, H, L, D] = option('shape', '1,1,2048,128').split(',').map(Number);
const iters = Number(option('iters', '3'));
const cases = option('cases', 'dense,map,sparse').split(',');
const dtypes = option('dtypes', 'f32,bf16').split(',');
const density = Number(option('density', '0.25'));
const other = option('dist', undefined);
const otherModule = other ? await import(new URL(other, `file://${process.cwd()}/`).href) : undefined;
const otherBackend = otherModule?.cpuBackend();

const backend = cpuBackend();
const rng = new Rng(7);
const n = B * H * L * D;

function input(dtype) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  const data = dtype === 'bf16' ? Uint16Array.from(x, f32ToBf16) : x;
  return (be) => be.upload(data, [B, H, L, D], dtype);
}

/** Median wall and process CPU milliseconds of one call (CPU time is the fairer one on a shared machine). */
function time(fn) {
  fn();
  const wall = [];
  const cpu = [];
  for (let i = 0; i < iters; i++) {
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    fn();
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { wall: median(wall), cpu: median(cpu) };
}

async function maxDiff(a, b) {
  const [x, y] = [await a.toFloat32(), await b.toFloat32()];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

const grid = Uint8Array.from({ length: H * Math.ceil(L / 64) ** 2 }, () => (rng.uniform() < density ? 1 : 0));
const active = grid.reduce((s, x) => s + x, 0) / grid.length;
// each build checks `instanceof` against its own BlockMask class
const maskOf = (Mask) => Mask.fromDense({ heads: H, qLen: L, kLen: L, blockSize: 64 }, grid);
const OPTS = {
  dense: [() => ({}), 1],
  map: [() => ({ map: { tau: 1e-4, blockSize: 64 } }), 1],
  sparse: [(Mask) => ({ mask: maskOf(Mask) }), active],
};

console.log(`cpu attention, shape [${B}, ${H}, ${L}, ${D}], median of ${iters}, node ${process.version}`);
for (const dtype of dtypes) {
  const [q, k, v] = [input(dtype), input(dtype), input(dtype)];
  for (const name of cases) {
    const [opts, frac] = OPTS[name];
    const run = (be, Mask) => {
      const [tq, tk, tv, o] = [q(be), k(be), v(be), opts(Mask)];
      return () => be.attention(tq, tk, tv, o);
    };
    const fmt = ({ wall, cpu }) => `wall ${wall.toFixed(0).padStart(6)} ms, cpu ${cpu.toFixed(0).padStart(6)} ms`;
    const t = time(run(backend, BlockMask));
    const gflops = (4 * B * H * L * L * D * frac) / (t.cpu * 1e6);
    let line = `${dtype} ${name.padEnd(6)} ${fmt(t)}, ${gflops.toFixed(2).padStart(5)} GFLOP/s (cpu)`;
    if (otherBackend) {
      const tOther = time(run(otherBackend, otherModule.BlockMask));
      const [a, b] = [run(backend, BlockMask)(), run(otherBackend, otherModule.BlockMask)()];
      const diffs = [`out ${await maxDiff(a.out, b.out)}`, `lse ${await maxDiff(a.lse, b.lse)}`];
      if (a.map) diffs.push(`map ${await maxDiff(a.map, b.map)}`);
      line += ` | --dist ${fmt(tOther)}, cpu speedup ${(tOther.cpu / t.cpu).toFixed(2)}x, max |diff| ${diffs.join(', ')}`;
    }
    console.log(line);
  }
}
