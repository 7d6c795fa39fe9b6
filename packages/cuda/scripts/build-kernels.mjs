// Compiles kernels/*.cu into dist/kernels/: PTX for compute_80 (any Ampere+ GPU, JIT by the
// driver) and an sm_90a cubin (Hopper). A *_sm90.cu file (wgmma, setmaxnreg: sm_90a only) gets
// the cubin alone. Fails loudly without nvcc: shipping no kernels would only surface later as
// "backend unavailable" on a machine that has a GPU.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nvcc = process.env.NVCC ?? 'nvcc';
try {
  execFileSync(nvcc, ['--version'], { stdio: 'ignore' });
} catch {
  console.error(`@mod-dit/cuda build: nvcc not found (tried '${nvcc}'; set NVCC=/path/to/nvcc). The CUDA kernels cannot be compiled.`);
  process.exit(1);
}
const out = `${root}dist/kernels`;
mkdirSync(out, { recursive: true });
const sources = readdirSync(`${root}kernels`).filter((f) => f.endsWith('.cu'));
const PTX = { suffix: 'compute_80.ptx', args: ['-ptx', '-gencode=arch=compute_80,code=compute_80'] };
const CUBIN = { suffix: 'sm_90a.cubin', args: ['-cubin', '-gencode=arch=compute_90a,code=sm_90a'] };
const targetsOf = (src) => (src.endsWith('_sm90.cu') ? [CUBIN] : [PTX, CUBIN]);
const jobs = sources.flatMap((src) => targetsOf(src).map((t) => ({ src, ...t })));

function compile({ src, suffix, args }) {
  const name = src.replace(/\.cu$/, '');
  return new Promise((resolve, reject) => {
    const p = spawn(nvcc, ['-O3', '-std=c++17', ...args, '-o', `${out}/${name}.${suffix}`, `${root}kernels/${src}`], { stdio: 'inherit' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nvcc failed (${code}) on ${src} -> ${suffix}`))));
  });
}

// as many nvcc processes as cores: ptxas dominates and is single-threaded
const queue = [...jobs];
const workers = Array.from({ length: Math.min(queue.length, Math.max(1, (await import('node:os')).availableParallelism())) }, async () => {
  while (queue.length) await compile(queue.shift());
});
try {
  await Promise.all(workers);
} catch (e) {
  console.error(`@mod-dit/cuda build: ${e.message}`);
  process.exit(1);
}
console.log(`@mod-dit/cuda: compiled ${sources.length} kernel files (${jobs.length} images) into dist/kernels`);
