import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, type DType } from '@mod-dit/tensor';
import { writeSafetensors, type TensorToWrite } from '@mod-dit/tensor/safetensors';
import { runCli } from '../src/program.js';
import { wanDiffusersKeys, wanOriginalKeys, type WanConfig } from './model-keys.js';
import type { TensorSignature } from '../src/detect/model-family.js';

const TINY: WanConfig = { dim: 64, layers: 2, ffn: 128, inChannels: 16, image: false };

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

function withData(keys: TensorSignature[], rng: Rng, dtype: DType = 'f32'): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const k of keys) {
    const n = k.shape.reduce((a, d) => a * d, 1);
    const values = rng.normals(n, 0.02);
    out[k.name] = dtype === 'f32' ? { dtype, shape: k.shape, data: values } : { dtype, shape: k.shape, data: new Uint16Array(values.buffer.slice(0, n * 2)) };
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'mod-dit-cli-'));
const files: Record<string, string> = {};
let tinyParams = 0;

beforeAll(async () => {
  const rng = new Rng(42);
  const original = withData(wanOriginalKeys(TINY), rng);
  tinyParams = Object.values(original).reduce((a, t) => a + t.data.length, 0);
  files.original = join(dir, 'wan-original.safetensors');
  await writeSafetensors(files.original, original);
  files.diffusers = join(dir, 'wan-diffusers.safetensors');
  await writeSafetensors(files.diffusers, withData(wanDiffusersKeys(TINY), rng, 'bf16'));
  // A two-shard diffusers checkpoint in its own directory.
  const sharded = join(dir, 'sharded');
  const all = withData(wanDiffusersKeys(TINY), rng);
  const names = Object.keys(all);
  const weightMap: Record<string, string> = {};
  const shards: Record<string, TensorToWrite>[] = [{}, {}];
  names.forEach((n, i) => {
    shards[i % 2][n] = all[n];
    weightMap[n] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
  });
  mkdirSync(sharded);
  for (const s of [0, 1]) await writeSafetensors(join(sharded, `model-0000${s + 1}-of-00002.safetensors`), shards[s]);
  writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  files.sharded = sharded;
});

describe('mod-dit inspect', () => {
  it('reports the tiny Wan checkpoint in the original layout', async () => {
    const r = await run('inspect', files.original);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain(`checkpoint  ${files.original}`);
    expect(r.out).toContain('model       Wan2.1 T2V, custom config not matching a released variant (dim 64');
    expect(r.out).toContain('original key layout');
    expect(r.out).toContain('tensors     69\n');
    expect(r.out).toContain(`parameters  ${tinyParams.toLocaleString('en-US')} `);
    expect(r.out).toContain(`bytes       ${(tinyParams * 4).toLocaleString('en-US')} `);
    expect(r.out).toMatch(/F32 +69 tensors/);
    // Natural order: blocks.0.* first; 20 rows then an elision line.
    expect(r.out).toMatch(/\nblocks\.0\.cross_attn\.k\.bias +F32 +\[64\]\n/);
    expect(r.out).toContain('... 49 more tensors (--all lists them)');
    const all = await run('inspect', '--all', files.original);
    expect(all.out).not.toContain('more tensors');
    expect(all.out).toMatch(/\ntext_embedding\.0\.weight +F32 +\[64, 4096\]\n/);
  });

  it('reports the diffusers layout, bf16 and --json', async () => {
    const r = await run('inspect', files.diffusers, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.model).toMatchObject({ family: 'wan2.1', variant: null, layout: 'diffusers' });
    expect(report.model.config).toEqual({ dim: 64, inChannels: 16, ffn: 128, textDim: 4096, layers: 2, imageConditioned: false });
    expect(report.tensorCount).toBe(69);
    expect(report.parameters).toBe(tinyParams);
    expect(report.bytes).toBe(tinyParams * 2);
    expect(report.dtypes).toEqual({ BF16: { tensors: 69, parameters: tinyParams, bytes: tinyParams * 2 } });
    expect(report.tensors).toHaveLength(69);
    expect(report.tensors.find((t: { name: string }) => t.name === 'scale_shift_table')).toMatchObject({ dtype: 'BF16', shape: [1, 2, 64] });
  });

  it('reads a sharded checkpoint from its directory', async () => {
    const r = await run('inspect', files.sharded, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.files).toHaveLength(2);
    expect(report.model.layout).toBe('diffusers');
    expect(report.tensorCount).toBe(69);
    const text = await run('inspect', files.sharded);
    expect(text.out).toContain('(2 shards)');
  });

  it('exits 1 with file, tensor and problem on stderr for bad input, without a stack trace', async () => {
    const bad = (name: string, bytes: Uint8Array | string) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const header = (json: string, data = 0) => {
      const h = Buffer.from(json);
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(h.length));
      return Buffer.concat([prefix, h, Buffer.from(new Rng(data).uniforms(data).buffer)]);
    };
    const cases: [string, string[]][] = [
      [join(dir, 'missing.safetensors'), ['cannot open']],
      [bad('short.safetensors', Buffer.from([1, 2, 3])), ['truncated']],
      [bad('json.safetensors', header('{"w": ')), ['not valid JSON']],
      [bad('overlap.safetensors', header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 3)), ['[b]', 'overlap tensor a']],
      [bad('dtype.safetensors', header('{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}', 1)), ['[w]', 'unknown dtype "Q4"']],
    ];
    for (const [path, fragments] of cases) {
      const r = await run('inspect', path);
      expect(r.code, path).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.startsWith(`mod-dit: ${path}`), r.err).toBe(true);
      for (const f of fragments) expect(r.err).toContain(f);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 2 on usage errors and 0 for help', async () => {
    expect((await run('inspect')).code).toBe(2);
    expect((await run('inspect', files.original, '--bogus')).code).toBe(2);
    const unknown = await run('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
    const help = await run('inspect', '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('--json');
  });
});

describe('the built mod-dit binary', () => {
  const bin = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const tensorDist = fileURLToPath(new URL('../../../packages/tensor/dist/safetensors.js', import.meta.url));
  const built = existsSync(bin) && existsSync(tensorDist);
  if (!built) console.warn(`skipping the binary test: build first (npx tsup in packages/tensor and apps/cli); missing ${existsSync(bin) ? tensorDist : bin}`);

  it.skipIf(!built)('runs inspect and sets shell exit codes', () => {
    const ok = spawnSync(process.execPath, [bin, 'inspect', files.original], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Wan2.1 T2V, custom config');
    const missing = spawnSync(process.execPath, [bin, 'inspect', join(dir, 'nope')], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr.startsWith(`mod-dit: ${join(dir, 'nope')}: cannot open`), missing.stderr).toBe(true);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect(spawnSync(process.execPath, [bin, 'inspect'], { encoding: 'utf8' }).status).toBe(2);
  });
});
