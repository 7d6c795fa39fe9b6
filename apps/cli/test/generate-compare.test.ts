import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ModDitError, Rng } from '@mod-dit/tensor';
import { SafetensorsFile, writeSafetensors } from '@mod-dit/tensor/safetensors';
import { readMaskFile } from '@mod-dit/predictor/mask-file';
import { latentFidelity } from '@mod-dit/pipeline';
import { compareCommand } from '../src/commands/compare.js';
import { generateCommand } from '../src/commands/generate.js';

// The commands are tested through a local program (the registry in program.ts is wired separately).
async function run(make: typeof generateCommand, ...argv: string[]) {
  let out = '';
  let err = '';
  const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
  const program = new Command('mod-dit').exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  program.addCommand(make(io).copyInheritedSettings(program));
  let error: unknown;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    error = e;
  }
  return { out, err, error };
}

const SLOW = 180_000;
const dir = mkdtempSync(join(tmpdir(), 'mod-dit-gen-'));

async function latents(path: string): Promise<Float32Array> {
  const f = await SafetensorsFile.open(path);
  const t = await f.read('latents');
  await f.close();
  return t.data as Float32Array;
}

describe('mod-dit compare (embedded tiny default)', () => {
  it(
    'runs dense and MOD from the same noise and reports fidelity, sparsity and time per category',
    async () => {
      const out = join(dir, 'cmp');
      const r = await run(compareCommand, 'compare', '--steps', '6', '--warmup', '3', '--interval', '2', '--out', out);
      expect(r.error).toBeUndefined();
      expect(r.err).toMatch(/mod {3}step 6\/6 .* it\/s .*sparsity/);
      const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
      expect(report.model).toBe('tiny-t2v');
      expect(report.tokens).toBe(288);
      // the CPU backend samples on the host: no layer-0 stage is shared between the branches
      expect(report.dense.attentionCalls).toEqual({ dense: 6 * 2 * 2, 'dense+map': 0, sparse: 0, shared: 0 });
      // layer 1 of 2 under MOD: step 0 dense, 1-2 dense+map, 3 sparse, 4 refresh, 5 sparse, per branch
      expect(report.mod.attentionCalls).toEqual({ dense: 6 * 2 + 2, 'dense+map': 3 * 2, sparse: 2 * 2, shared: 0 });
      expect(report.mod.sparseCallSparsity).toBeGreaterThan(0.2);
      expect(report.mod.sparsityPerStep[3]).toBeGreaterThan(0);
      expect(report.mod.sparsityPerStep[0]).toBe(0);
      const dense = await latents(join(out, 'latents-dense.safetensors'));
      const mod = await latents(join(out, 'latents-mod.safetensors'));
      const fid = latentFidelity(mod, dense);
      expect(report.fidelity.relativeError).toBeCloseTo(fid.relativeError, 10);
      expect(fid.relativeError).toBeGreaterThan(0);
      expect(fid.psnrDb).toBeGreaterThan(5);
      expect(report.mod.timeMs.mod).toBeGreaterThan(0);
      const masks = await readMaskFile(join(out, 'masks.safetensors'));
      expect(Object.keys(masks.masks).length).toBe(report.mod.masksIssued);
      const png = await readFile(join(out, 'masks.png'));
      expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
      expect(r.out).toMatch(/latent PSNR [\d.]+ dB, relative error/);
    },
    SLOW,
  );
});

describe('mod-dit generate', () => {
  it(
    'writes dense latents that equal a second run from a noise file, with a report',
    async () => {
      const a = join(dir, 'gen-a');
      const r1 = await run(generateCommand, 'generate', '--attention', 'dense', '--steps', '3', '--seed', '5', '--sampler', 'euler', '--out', a, '--quiet');
      expect(r1.error).toBeUndefined();
      expect(r1.err).toBe('');
      const report = JSON.parse(await readFile(join(a, 'report.json'), 'utf8'));
      expect(report).toMatchObject({ command: 'generate', attention: 'dense', steps: 3, sampler: 'euler', dtype: 'f32' });
      const first = await latents(join(a, 'latents.safetensors'));
      expect(first.length).toBe(16 * 3 * 16 * 24);
      // the same noise from a file gives the same latents
      const noisePath = join(dir, 'noise.safetensors');
      const noise = new Rng(5).normals(16 * 3 * 16 * 24);
      await writeSafetensors(noisePath, { eps: { dtype: 'f32', shape: [16, 3, 16, 24], data: noise } });
      const b = join(dir, 'gen-b');
      const r2 = await run(generateCommand, 'generate', '--attention', 'dense', '--steps', '3', '--seed', '5', '--sampler', 'euler', '--noise', `${noisePath}:eps`, '--out', b, '--quiet');
      expect(r2.error).toBeUndefined();
      expect(Array.from(await latents(join(b, 'latents.safetensors')))).toEqual(Array.from(first));
    },
    SLOW,
  );

  it('rejects bad options with typed or usage errors before any work', async () => {
    const r1 = await run(generateCommand, 'generate', '--size', '100x64', '--out', join(dir, 'x'));
    expect(r1.error).toBeInstanceOf(ModDitError);
    expect(String(r1.error)).toMatch(/multiples of 16/);
    const r2 = await run(generateCommand, 'generate', '--top-k', '3', '--density', '0.5', '--out', join(dir, 'x'));
    expect(String(r2.error)).toMatch(/at most one of/);
    const r3 = await run(generateCommand, 'generate', '--frames', '8', '--out', join(dir, 'x'));
    expect(String(r3.error)).toMatch(/4k \+ 1/);
    const r4 = await run(generateCommand, 'generate', '--model', 'wan-9000');
    expect(r4.error).toBeInstanceOf(CommanderError);
    const r5 = await run(generateCommand, 'generate', '--noise', join(dir, 'missing.safetensors'), '--out', join(dir, 'x'));
    expect(r5.error).toBeInstanceOf(ModDitError);
    const r6 = await run(generateCommand, 'generate', '--webgpu-robustness', 'off', '--out', join(dir, 'x'));
    expect(r6.error).toBeInstanceOf(ModDitError);
    expect(String(r6.error)).toMatch(/--backend webgpu only/);
    const r7 = await run(generateCommand, 'generate', '--backend', 'webgpu', '--webgpu-robustness', 'maybe');
    expect(r7.error).toBeInstanceOf(CommanderError);
  });
});
