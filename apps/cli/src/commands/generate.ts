import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ModDitError, type DType } from '@mod-dit/tensor';
import { Checkpoint, writeSafetensors } from '@mod-dit/tensor/safetensors';
import { seededNoise, type ProgressEvent } from '@mod-dit/pipeline';
import { writeMaskFile } from '@mod-dit/predictor/mask-file';
import type { ScheduleBudget } from '@mod-dit/scheduler';
import { maskHeatmapFigure, type HeatmapCell } from '@mod-dit/eval';
import { encodePng } from '@mod-dit/eval/node';
import {
  WAN_CONFIGS,
  checkpointSource,
  latentForVideo,
  loadWanWeights,
  readLatent,
  readWanInputs,
  runWan,
  samplingDefaults,
  seededInputs,
  seededWeightSource,
  type WanConfig,
  type WanModSettings,
  type WanRunOptions,
  type WanRunResult,
  type WanWeights,
} from '@mod-dit/wan';
import { BACKEND_NAMES, closeBackend, openBackend, type BackendName } from '../backends.js';
import type { CliIO } from '../io.js';
import { int, real } from '../option-parsers.js';

/** A bad flag combination or value that commander cannot see on its own. */
export class RunOptionError extends ModDitError {
  constructor(message: string) {
    super('E_OPTION', message);
  }
}

/** Flags shared by `generate` and `compare`. */
export interface RunFlags {
  model: string;
  weights?: string;
  weightsSeed: number;
  embeddings?: string;
  size?: string;
  frames?: number;
  steps?: number;
  shift?: number;
  guidance?: number;
  seed: number;
  noise?: string;
  sampler: 'unipc' | 'euler';
  backend: BackendName;
  webgpuRobustness: 'on' | 'off';
  dtype: DType;
  blockSize?: number;
  warmup?: number;
  interval?: number;
  denseLayers: number;
  tau: number;
  topK?: number;
  density?: number;
  lineFraction?: number;
  recall?: number;
  prediction: 'faithful' | 'step-distance';
  out: string;
  quiet?: boolean;
  profile?: boolean;
}

/**
 * The embedded default: the tiny Wan-shaped model with seeded weights and embeddings on a
 * 192x128x9 video (latent 3 x 16 x 24, 288 tokens, 96 per frame: frames straddle 64-token
 * blocks and the last block is ragged), 8 steps with warm-up 3 and refresh interval 3 (steps
 * 0 dense, 1-2 dense + map, 3-4 sparse, 5 refresh, 6-7 sparse), so that a dense and a MOD
 * run finish in seconds on the CPU reference backend.
 */
const TINY_DEFAULTS = { size: '192x128', frames: 9, steps: 8, shift: 5, guidance: 5, blockSize: 64, warmup: 3, interval: 3, density: 0.5 };
const FULL_DEFAULTS = { size: '832x480', frames: 81, blockSize: 128, warmup: 12, interval: 10 };

/** Adds the model, input, sampler, backend and MOD options to a command. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <name>', 'Wan DiT').choices(Object.keys(WAN_CONFIGS)).default('tiny-t2v'))
    .option('--weights <path>', 'checkpoint: .safetensors, *.safetensors.index.json or a directory (original or diffusers keys; f32/bf16/f16). Default: seeded weights')
    .option('--weights-seed <n>', 'seed of the generated weights when --weights is not given', int(0), 0)
    .option('--embeddings <path>', 'safetensors with context [L, 4096], context_null [L\', 4096] (+ clip_fea, y for I2V). Default: seeded stand-ins')
    .option('--size <WxH>', 'video size in pixels (multiples of 16); tiny models default 192x128, others 832x480')
    .option('--frames <n>', 'video frames, 4k + 1 (tiny 9, others 81)', int(1))
    .option('--steps <n>', 'denoising steps (tiny 8; else the official default)', int(1))
    .option('--shift <k>', 'timestep shift (default: the official one)', real((v) => v > 0, 'a number > 0'))
    .option('--guidance <g>', 'classifier-free guidance scale; 1 runs the cond branch only (default 5)', real(() => true, 'a number'))
    .option('--seed <n>', 'noise seed (the project\'s seeded RNG)', int(0), 0)
    .option('--noise <file[:tensor]>', 'read the starting noise [16, T, H, W] from a safetensors file (tensor "noise" by default)')
    .addOption(new Option('--sampler <name>', 'flow-matching solver').choices(['unipc', 'euler']).default('unipc'))
    .addOption(new Option('--backend <name>', 'compute backend (cuda: NVIDIA driver; webgpu: a WebGPU adapter, in Node through the webgpu package)').choices(BACKEND_NAMES).default('cpu'))
    .addOption(
      new Option('--webgpu-robustness <on|off>', "Dawn's robust buffer access (off: Node only; on an H100 the GEMMs ran 1.2-1.3x and dense attention 1.1x faster without it)")
        .choices(['on', 'off'])
        .default('on'),
    )
    .addOption(new Option('--dtype <dtype>', 'GEMM and attention dtype (norms, modulation and the residual stay f32)').choices(['f32', 'bf16', 'f16']).default('f32'))
    .addOption(new Option('--block-size <n>', 'MOD block size in tokens (tiny 64, else 128)').choices(['64', '128']).argParser(Number))
    .option('--warmup <m>', 'MOD warm-up steps m (tiny 3, else 12)', int(2))
    .option('--interval <T>', 'MOD refresh interval T (tiny 3, else 10)', int(1))
    .option('--dense-layers <n>', 'leading layers kept dense (Wan: 1)', int(0), 1)
    .option('--tau <p>', 'sparsity-map probability threshold', real((v) => v > 0 && v < 1, 'a number in (0, 1)'), 1e-4)
    .option('--top-k <k>', 'lines per head (the reference: 350 for Wan, tuned for larger grids)', int(1))
    .option('--density <d>', 'block density target per head (tiny default 0.5)', real((v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--line-fraction <f>', 'fraction of the 3n - 1 lines per head', real((v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--recall <r>', 'attention-mass recall target per head', real((v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .addOption(new Option('--prediction <rule>', 'feature extrapolation').choices(['faithful', 'step-distance']).default('faithful'))
    .option('--out <dir>', 'output directory', 'mod-dit-out')
    .option('--quiet', 'no progress line')
    .option('--profile', 'drain the device around every timed op so the time per category is exact on GPU backends (costs the CPU/GPU overlap)');
}

/** Everything a run needs, resolved from the flags: {@link runWan}'s inputs plus what reports say. */
export interface PreparedRun extends Pick<WanRunOptions, 'backend' | 'weights' | 'inputs' | 'latent' | 'noise' | 'steps' | 'shift' | 'guidance'> {
  config: WanConfig;
  mod: WanModSettings;
  describe: Record<string, unknown>;
}

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new RunOptionError(`--size must be WxH (e.g. 832x480), got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

function budgetOf(f: RunFlags, tiny: boolean): ScheduleBudget | undefined {
  const given: ScheduleBudget[] = [];
  if (f.topK !== undefined) given.push({ kind: 'top-k', k: f.topK });
  if (f.density !== undefined) given.push({ kind: 'density', density: f.density });
  if (f.lineFraction !== undefined) given.push({ kind: 'line-fraction', fraction: f.lineFraction });
  if (f.recall !== undefined) given.push({ kind: 'recall', recall: f.recall });
  if (given.length > 1) throw new RunOptionError('give at most one of --top-k, --density, --line-fraction, --recall');
  if (given.length) return given[0];
  return tiny ? { kind: 'density', density: TINY_DEFAULTS.density } : undefined; // undefined: the scheduler's Wan default, top-k 350
}

/** Loads weights and inputs and fixes every number of the run. The caller disposes `weights`. */
export async function prepareRun(f: RunFlags, io: CliIO): Promise<PreparedRun> {
  const config = WAN_CONFIGS[f.model];
  const tiny = config.name.startsWith('tiny');
  const [width, height] = parseSize(f.size ?? (tiny ? TINY_DEFAULTS.size : FULL_DEFAULTS.size));
  const latent = latentForVideo(width, height, f.frames ?? (tiny ? TINY_DEFAULTS.frames : FULL_DEFAULTS.frames));
  const official = samplingDefaults(config, latent.height);
  const steps = f.steps ?? (tiny ? TINY_DEFAULTS.steps : official.steps);
  if (f.webgpuRobustness === 'off' && f.backend !== 'webgpu') throw new RunOptionError('--webgpu-robustness applies to --backend webgpu only');
  const backend = await openBackend(f.backend, { webgpuRobustness: f.webgpuRobustness === 'on' });
  if (!backend.floatDTypes.includes(f.dtype)) throw new RunOptionError(`the ${backend.name} backend does not compute in ${f.dtype}`);

  const ckpt = f.weights ? await Checkpoint.open(f.weights) : undefined;
  let weights: WanWeights;
  try {
    const source = ckpt ? checkpointSource(ckpt) : seededWeightSource(config, f.weightsSeed);
    const loadStart = performance.now();
    weights = await loadWanWeights(source, backend, config, {
      compute: f.dtype,
      onTensor: (_n, i, total) => {
        if (!f.quiet && ckpt && (i + 1) % 50 === 0) io.err(`\rloading weights ${i + 1}/${total}`);
      },
    });
    if (!f.quiet && ckpt) io.err(`\rloaded ${source.names.length} tensors in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
  } finally {
    await ckpt?.close();
  }
  try {
    const inputs = f.embeddings ? await readWanInputs(f.embeddings, config, latent) : seededInputs(config, f.seed, latent);
    let noise: Float32Array;
    if (f.noise) {
      const at = f.noise.lastIndexOf(':');
      const [file, tensor] = at > 0 && !f.noise.slice(at + 1).includes('/') ? [f.noise.slice(0, at), f.noise.slice(at + 1)] : [f.noise, 'noise'];
      noise = await readLatent(file, tensor, latent);
    } else noise = seededNoise([latent.channels, latent.frames, latent.height, latent.width], f.seed);
    const mod: WanModSettings = {
      blockSize: f.blockSize ?? (tiny ? TINY_DEFAULTS.blockSize : FULL_DEFAULTS.blockSize),
      warmup: f.warmup ?? (tiny ? TINY_DEFAULTS.warmup : FULL_DEFAULTS.warmup),
      interval: f.interval ?? (tiny ? TINY_DEFAULTS.interval : FULL_DEFAULTS.interval),
      denseLayers: f.denseLayers,
      tau: f.tau,
      prediction: f.prediction,
      ...(budgetOf(f, tiny) ? { budget: budgetOf(f, tiny) } : {}),
    };
    const shift = f.shift ?? (tiny ? TINY_DEFAULTS.shift : official.shift);
    const guidance = f.guidance ?? (tiny ? TINY_DEFAULTS.guidance : official.guidance);
    const describe = {
      model: config.name,
      weights: f.weights ?? `seeded (seed ${f.weightsSeed})`,
      layout: weights.layout,
      embeddings: f.embeddings ?? `seeded stand-ins (seed ${f.seed})`,
      video: { width, height, frames: f.frames ?? (tiny ? TINY_DEFAULTS.frames : FULL_DEFAULTS.frames) },
      latent,
      tokens: (latent.frames * latent.height * latent.width) / 4,
      steps,
      shift,
      guidance,
      sampler: f.sampler,
      noise: f.noise ?? `seeded (seed ${f.seed})`,
      backend: backend.name,
      dtype: f.dtype,
    };
    return { config, backend, weights, inputs, latent, noise, steps, shift, guidance, mod, describe };
  } catch (e) {
    weights.dispose();
    throw e;
  }
}

/** Runs one denoising pass of a prepared run with a progress line on stderr. */
export function runPrepared(p: PreparedRun, f: RunFlags, io: CliIO, attention: 'dense' | 'mod', label: string, signal?: AbortSignal): Promise<WanRunResult> {
  const progress = (e: ProgressEvent) => {
    if (f.quiet) return;
    const sp = e.sparsity !== undefined && attention === 'mod' ? `  sparsity ${(100 * e.sparsity).toFixed(1)}%` : '';
    io.err(`\r${label} step ${e.step}/${e.steps}  ${e.itPerSec.toFixed(2)} it/s  ETA ${(e.etaMs / 1000).toFixed(1)} s${sp}   `);
    if (e.step === e.steps) io.err('\n');
  };
  return runWan({
    backend: p.backend,
    weights: p.weights,
    inputs: p.inputs,
    latent: p.latent,
    noise: p.noise,
    steps: p.steps,
    shift: p.shift,
    guidance: p.guidance,
    sampler: f.sampler,
    attention,
    mod: p.mod,
    keepMapsOfLayer: p.config.layers - 1,
    signal,
    onProgress: progress,
    profile: f.profile,
  });
}

/** Writes a latent [C, T, H, W] as `latents` (f32) with the run description as metadata. */
export function writeLatents(path: string, p: PreparedRun, latent: Float32Array, extra: Record<string, string> = {}): Promise<void> {
  const shape = [p.latent.channels, p.latent.frames, p.latent.height, p.latent.width];
  return writeSafetensors(path, { latents: { dtype: 'f32', shape, data: latent } }, { 'mod_dit.run': JSON.stringify(p.describe), ...extra });
}

/**
 * The masks a MOD run issued at the pictured (last) layer for the cond branch: a heatmap per
 * head (rows) and mask interval (columns) over the map observed when the mask was issued,
 * plus every issued mask of every layer/branch in FlexAttention layout. Returns the files written.
 */
export async function writeMaskOutputs(dir: string, p: PreparedRun, run: WanRunResult, prefix = ''): Promise<string[]> {
  if (!run.masks.length) return [];
  const written: string[] = [];
  const masks: Record<string, (typeof run.masks)[number]['mask']> = {};
  for (const r of run.masks) masks[`layer${r.layer}.${String(r.branch)}.steps${r.fromStep}-${r.toStep}`] = r.mask;
  const maskFile = join(dir, `${prefix}masks.safetensors`);
  await writeMaskFile(maskFile, masks, { 'mod_dit.run': JSON.stringify(p.describe) });
  written.push(maskFile);

  const layer = p.config.layers - 1;
  const shown = run.masks.filter((r) => r.layer === layer && r.branch === 'cond');
  if (!shown.length) return written;
  const n = shown[0].mask.nQ;
  const heads = shown[0].mask.heads;
  const columns = shown.map((r) => {
    const observed = [...run.maps].reverse().find((m) => m.branch === 'cond' && m.step < r.fromStep);
    const dense = r.mask.toDense();
    return Array.from({ length: heads }, (_, h): HeatmapCell => {
      const mass = new Float64Array(n * n);
      // 1 - sparsity: the share of a block's probabilities above tau, a proxy of its attention mass
      if (observed) for (let b = 0; b < n * n; b++) mass[b] = 1 - observed.map[h * n * n + b];
      return { mass, mask: dense.subarray(h * n * n, (h + 1) * n * n) };
    });
  });
  const figure = maskHeatmapFigure({
    title: `${p.config.name} layer ${layer} cond: MOD masks (green kept, red skipped with mass)`,
    rows: n,
    cols: n,
    rowLabels: Array.from({ length: heads }, (_, h) => `head ${h}`),
    columnLabels: shown.map((r) => `steps ${r.fromStep}-${r.toStep}`),
    cells: Array.from({ length: heads }, (_, h) => columns.map((col) => col[h])),
  });
  const png = join(dir, `${prefix}masks.png`);
  await writeFile(png, encodePng(figure.width, figure.height, figure.pixels));
  written.push(png);
  return written;
}

/** The per-run numbers of a report. */
export function runSummary(run: WanRunResult): Record<string, unknown> {
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    wallMs: round(run.wallMs),
    stepMs: run.stepMs.map(round),
    sparsityPerStep: run.sparsity.map((s) => Math.round(s * 1e4) / 1e4),
    sparseCallSparsity: Math.round(run.sparseCallSparsity * 1e4) / 1e4,
    attentionCalls: run.calls,
    timeMs: Object.fromEntries(Object.entries(run.timeMs).map(([k, v]) => [k, round(v)])),
    masksIssued: run.masks.length,
    ...(run.scheduler ? { scheduler: { ...run.scheduler, geometry: run.scheduler.geometry } } : {}),
  };
}

/**
 * `mod-dit generate`: one Wan denoising run (MOD-DiT or dense attention) writing the final
 * latents, a JSON report and (MOD) mask pictures and a mask file into --out.
 */
export function generateCommand(io: CliIO): Command {
  return addRunOptions(new Command('generate'))
    .description('denoise a Wan2.1 latent with MOD-DiT (or dense) attention; writes latents.safetensors, report.json, masks.png and masks.safetensors')
    .addOption(new Option('--attention <mode>', 'self-attention').choices(['mod', 'dense']).default('mod'))
    .action(async (f: RunFlags & { attention: 'mod' | 'dense' }) => {
      const p = await prepareRun(f, io);
      try {
        const run = await runPrepared(p, f, io, f.attention, f.attention);
        await mkdir(f.out, { recursive: true });
        const latents = join(f.out, 'latents.safetensors');
        await writeLatents(latents, p, run.latent, { 'mod_dit.attention': f.attention });
        const files = [latents, ...(await writeMaskOutputs(f.out, p, run))];
        const reportPath = join(f.out, 'report.json');
        files.push(reportPath);
        const report = { command: 'generate', ...p.describe, attention: f.attention, ...runSummary(run), files };
        await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
        const sp = f.attention === 'mod' ? `, sparse-call sparsity ${(100 * run.sparseCallSparsity).toFixed(1)}%` : '';
        io.out(`${p.config.name} ${f.attention}: ${p.steps} steps in ${(run.wallMs / 1000).toFixed(2)} s${sp}\n${files.map((x) => `  ${x}`).join('\n')}\n`);
      } finally {
        p.weights.dispose();
        closeBackend(p.backend);
      }
    });
}
