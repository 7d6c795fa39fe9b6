import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { latentFidelity } from '@mod-dit/pipeline';
import type { WanRunResult } from '@mod-dit/wan';
import { closeBackend } from '../backends.js';
import type { CliIO } from '../io.js';
import { addRunOptions, prepareRun, runPrepared, runSummary, writeLatents, writeMaskOutputs, type RunFlags } from './generate.js';

function table(dense: WanRunResult, mod: WanRunResult): string {
  const cats = ['self-attention', 'cross-attention', 'gemm', 'mod', 'other'] as const;
  const s = (ms: number) => (ms / 1000).toFixed(2).padStart(8);
  const rows = [
    `${'time (s)'.padEnd(16)}${'dense'.padStart(8)}${'mod'.padStart(8)}`,
    ...cats.map((c) => `${c.padEnd(16)}${s(dense.timeMs[c])}${s(mod.timeMs[c])}`),
    `${'wall'.padEnd(16)}${s(dense.wallMs)}${s(mod.wallMs)}`,
  ];
  return rows.join('\n');
}

/**
 * `mod-dit compare`: a dense and a MOD-DiT run from the same noise, weights and embeddings;
 * reports latent PSNR and relative error, the wall time of each, per-step sparsity and where
 * the time went (self-attention, cross-attention, GEMMs, MOD overhead, other).
 */
export function compareCommand(io: CliIO): Command {
  return addRunOptions(new Command('compare'))
    .description('run dense and MOD-DiT attention from the same noise; report latent PSNR, relative error, time per op category and per-step sparsity')
    .action(async (f: RunFlags) => {
      const p = await prepareRun(f, io);
      try {
        const dense = await runPrepared(p, f, io, 'dense', 'dense');
        const mod = await runPrepared(p, f, io, 'mod', 'mod  ');
        const fidelity = latentFidelity(mod.latent, dense.latent);
        await mkdir(f.out, { recursive: true });
        const files = [join(f.out, 'latents-dense.safetensors'), join(f.out, 'latents-mod.safetensors')];
        await writeLatents(files[0], p, dense.latent, { 'mod_dit.attention': 'dense' });
        await writeLatents(files[1], p, mod.latent, { 'mod_dit.attention': 'mod' });
        files.push(...(await writeMaskOutputs(f.out, p, mod)));
        const reportPath = join(f.out, 'report.json');
        files.push(reportPath);
        const speedup = dense.wallMs / mod.wallMs;
        const modOverheadVsDenseAttention = dense.calls.dense ? mod.timeMs.mod / (dense.timeMs['self-attention'] / dense.calls.dense) : 0;
        const report = {
          command: 'compare',
          ...p.describe,
          fidelity: { ...fidelity, psnrDb: Number.isFinite(fidelity.psnrDb) ? fidelity.psnrDb : 'identical' },
          speedup,
          modOverheadInDenseAttentionCalls: modOverheadVsDenseAttention,
          dense: runSummary(dense),
          mod: runSummary(mod),
          timingNote:
            p.backend.name === 'cpu'
              ? 'time per category is exact on the synchronous cpu backend'
              : f.profile && p.backend.syncNow
                ? `time per category is exact: --profile drained the ${p.backend.name} device around every timed op`
                : `time per category is host-side (enqueue) time on the asynchronous ${p.backend.name} backend (--profile makes it exact); wall times are real (every step reads the latent back)`,
          files,
        };
        await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
        const psnr = Number.isFinite(fidelity.psnrDb) ? `${fidelity.psnrDb.toFixed(2)} dB` : 'identical';
        io.out(
          [
            `${p.config.name}, ${p.describe.tokens} tokens, ${p.steps} steps, guidance ${p.guidance}, ${p.backend.name} ${p.describe.dtype}`,
            `latent PSNR ${psnr}, relative error ${fidelity.relativeError.toExponential(3)}`,
            `sparse-call sparsity ${(100 * mod.sparseCallSparsity).toFixed(1)}%, per step: ${mod.sparsity.map((x) => `${Math.round(100 * x)}%`).join(' ')}`,
            `speedup ${speedup.toFixed(2)}x (dense ${(dense.wallMs / 1000).toFixed(2)} s, mod ${(mod.wallMs / 1000).toFixed(2)} s); MOD overhead ${(mod.timeMs.mod / 1000).toFixed(2)} s = ${modOverheadVsDenseAttention.toFixed(2)} dense self-attention calls`,
            table(dense, mod),
            ...files.map((x) => `  ${x}`),
          ].join('\n') + '\n',
        );
      } finally {
        p.weights.dispose();
        closeBackend(p.backend);
      }
    });
}
