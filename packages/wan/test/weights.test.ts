import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, cpuBackend, f32ToBf16, f32ToF16, toFloat32, type CpuBackend } from '@mod-dit/tensor';
import { Checkpoint, SafetensorsFile, writeSafetensors, type TensorToWrite } from '@mod-dit/tensor/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WAN_CONFIGS,
  WanModel,
  WanWeightsError,
  checkpointSource,
  detectLayout,
  loadWanWeights,
  seededWeightSource,
  translateKey,
  wanVelocity,
  wanWeightShapes,
  type WanWeights,
} from '../src/index.js';
import { f32, fixturePath, readGolden } from './fixture.js';
import { maxRelativeError } from '@mod-dit/tensor/conformance';

const config = WAN_CONFIGS['tiny-i2v'];
const SHAPE = { channels: 16, frames: 3, height: 6, width: 10 };
let dir: string;
let original: Record<string, TensorToWrite>;

/**
 * diffusers' own conversion (scripts/convert_wan_to_diffusers.py): an ordered list of plain
 * substring replacements applied to every key, written out here independently of the
 * package's mapping table. The I2V names are those of diffusers' WanAttention
 * (add_k_proj, add_v_proj, norm_added_k).
 */
const DIFFUSERS_RENAMES: [string, string][] = [
  ['time_embedding.0', 'condition_embedder.time_embedder.linear_1'],
  ['time_embedding.2', 'condition_embedder.time_embedder.linear_2'],
  ['text_embedding.0', 'condition_embedder.text_embedder.linear_1'],
  ['text_embedding.2', 'condition_embedder.text_embedder.linear_2'],
  ['time_projection.1', 'condition_embedder.time_proj'],
  ['head.modulation', 'scale_shift_table'],
  ['head.head', 'proj_out'],
  ['modulation', 'scale_shift_table'],
  ['ffn.0', 'ffn.net.0.proj'],
  ['ffn.2', 'ffn.net.2'],
  ['norm2', 'norm__placeholder'],
  ['norm3', 'norm2'],
  ['norm__placeholder', 'norm3'],
  ['img_emb.proj.0', 'condition_embedder.image_embedder.norm1'],
  ['img_emb.proj.1', 'condition_embedder.image_embedder.ff.net.0.proj'],
  ['img_emb.proj.3', 'condition_embedder.image_embedder.ff.net.2'],
  ['img_emb.proj.4', 'condition_embedder.image_embedder.norm2'],
  ['self_attn.q', 'attn1.to_q'],
  ['self_attn.k', 'attn1.to_k'],
  ['self_attn.v', 'attn1.to_v'],
  ['self_attn.o', 'attn1.to_out.0'],
  ['self_attn.norm_q', 'attn1.norm_q'],
  ['self_attn.norm_k', 'attn1.norm_k'],
  ['cross_attn.q', 'attn2.to_q'],
  ['cross_attn.k', 'attn2.to_k'],
  ['cross_attn.v', 'attn2.to_v'],
  ['cross_attn.o', 'attn2.to_out.0'],
  ['cross_attn.norm_q', 'attn2.norm_q'],
  ['cross_attn.norm_k', 'attn2.norm_k'],
  // by now cross_attn.k_img has become attn2.to_k_img: diffusers' converter renames it after
  // the cross_attn -> attn2 pass (its Animate converter spells this out)
  ['attn2.to_k_img', 'attn2.add_k_proj'],
  ['attn2.to_v_img', 'attn2.add_v_proj'],
  ['attn2.norm_k_img', 'attn2.norm_added_k'],
];
function diffusersKey(k: string): string {
  for (const [a, b] of DIFFUSERS_RENAMES) k = k.replace(a, b);
  return k;
}

async function velocityOf(weights: WanWeights): Promise<Float32Array> {
  const g = await readGolden('tiny-i2v');
  const rows = (n: string) => g.tensors.get(n)?.shape[0] as number;
  const v = await wanVelocity(new WanModel(cpuBackend(), weights), { context: f32(g, 'context'), contextRows: rows('context'), clipFea: f32(g, 'clip_fea'), clipRows: rows('clip_fea'), y: f32(g, 'y') }, SHAPE, false);
  const t0 = (g.tensors.get('timesteps')?.data as Int32Array)[0];
  const out = await v.velocity(f32(g, 'noise'), { step: 0, timestep: t0, sigma: 0, branch: 'cond' });
  v.dispose();
  return out;
}

async function load(path: string, compute: 'f32' | 'bf16' = 'f32'): Promise<WanWeights> {
  const ckpt = await Checkpoint.open(path);
  try {
    return await loadWanWeights(checkpointSource(ckpt), cpuBackend(), config, { compute });
  } finally {
    await ckpt.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-weights-'));
  const f = await SafetensorsFile.open(fixturePath('tiny-i2v.weights.safetensors'));
  original = {};
  for (const name of f.tensors.keys()) original[name] = await f.read(name);
  await f.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key layouts', () => {
  it('the mapping table agrees with diffusers\' conversion for every tensor of every config, both ways', () => {
    for (const c of Object.values(WAN_CONFIGS)) {
      for (const name of wanWeightShapes(c).keys()) {
        const d = diffusersKey(name);
        expect(translateKey(name, 'original', 'diffusers')).toBe(d);
        expect(translateKey(d, 'diffusers', 'original')).toBe(name);
      }
    }
    expect(wanWeightShapes(WAN_CONFIGS['t2v-1.3B']).size).toBe(825); // the released 1.3B checkpoint's tensor count
  });

  it('detects the layout and rejects an unknown one naming the probe keys', () => {
    expect(detectLayout(Object.keys(original))).toBe('original');
    expect(detectLayout(Object.keys(original).map(diffusersKey))).toBe('diffusers');
    expect(() => detectLayout(['model.diffusion_model.time_projection.1.weight'], 'x.safetensors')).toThrow(/unknown key layout.*time_projection\.1\.weight/);
  });
});

describe('loadWanWeights', () => {
  let reference: Float32Array;
  beforeAll(async () => {
    const w = await load(fixturePath('tiny-i2v.weights.safetensors'));
    reference = await velocityOf(w);
    w.dispose();
  });

  it('loads the diffusers layout to the same model', async () => {
    const renamed = Object.fromEntries(Object.entries(original).map(([k, v]) => [diffusersKey(k), v]));
    const path = join(dir, 'diffusers.safetensors');
    await writeSafetensors(path, renamed);
    const w = await load(path);
    expect(w.layout).toBe('diffusers');
    expect(Array.from(await velocityOf(w))).toEqual(Array.from(reference));
    w.dispose();
  });

  it('loads a sharded checkpoint (directory with an index json)', async () => {
    const shardDir = await mkdtemp(join(dir, 'sharded-'));
    const names = Object.keys(original);
    const weightMap: Record<string, string> = {};
    const shards = [names.slice(0, 37), names.slice(37, 101), names.slice(101)];
    for (const [i, part] of shards.entries()) {
      const file = `diffusion_pytorch_model-0000${i + 1}-of-00003.safetensors`;
      await writeSafetensors(join(shardDir, file), Object.fromEntries(part.map((n) => [n, original[n]])));
      for (const n of part) weightMap[n] = file;
    }
    await writeFile(join(shardDir, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const w = await load(shardDir);
    expect(Array.from(await velocityOf(w))).toEqual(Array.from(reference));
    w.dispose();
  });

  it.each([
    ['bf16', 'BF16', f32ToBf16],
    ['f16', 'F16', f32ToF16],
  ] as const)('loads %s on disk into f32 compute, close to the f32 weights', async (dtype, _file, enc) => {
    const conv = Object.fromEntries(
      Object.entries(original).map(([k, v]) => [k, { dtype, shape: v.shape, data: Uint16Array.from(v.data as Float32Array, (x) => enc(x)) } as TensorToWrite]),
    );
    const path = join(dir, `${dtype}.safetensors`);
    await writeSafetensors(path, conv);
    const w = await load(path);
    expect(w.get('blocks.1.ffn.0.weight').dtype).toBe('f32');
    const err = maxRelativeError(await velocityOf(w), reference);
    expect(err).toBeLessThan(dtype === 'bf16' ? 3e-2 : 3e-3);
    expect(err).toBeGreaterThan(0);
    w.dispose();
  });

  it('keeps norms and modulation in f32 under bf16 compute and stays close to f32', async () => {
    const w = await load(fixturePath('tiny-i2v.weights.safetensors'), 'bf16');
    expect(w.get('blocks.0.self_attn.q.weight').dtype).toBe('bf16');
    expect(w.get('blocks.0.modulation').dtype).toBe('f32');
    expect(w.get('blocks.0.norm3.weight').dtype).toBe('f32');
    expect(maxRelativeError(await velocityOf(w), reference)).toBeLessThan(3e-2);
    w.dispose();
  });

  it('streams: the backend holds one storage per weight and nothing else after loading', async () => {
    const cpu = cpuBackend() as CpuBackend;
    const before = cpu.liveStorages;
    const w = await load(fixturePath('tiny-i2v.weights.safetensors'), 'bf16');
    expect(cpu.liveStorages - before).toBe(wanWeightShapes(config).size);
    w.dispose();
    expect(cpu.liveStorages).toBe(before);
  });

  it.each([
    ['a missing tensor', (t: Record<string, TensorToWrite>) => delete t['blocks.1.cross_attn.v_img.bias'], /blocks\.1\.cross_attn\.v_img\.bias: .*missing/],
    ['a wrong shape', (t: Record<string, TensorToWrite>) => (t['blocks.0.ffn.0.weight'] = { dtype: 'f32', shape: [87, 64], data: new Rng(2).normals(87 * 64) }), /blocks\.0\.ffn\.0\.weight: .*shape \[87, 64\], expected \[88, 64\]/],
    ['an extra tensor', (t: Record<string, TensorToWrite>) => (t['blocks.2.ffn.0.weight'] = t['blocks.1.ffn.0.weight']), /blocks\.2\.ffn\.0\.weight: .*not part of a tiny-i2v DiT/],
    ['an unsupported dtype', (t: Record<string, TensorToWrite>) => (t['head.head.bias'] = { dtype: 'i32', shape: [64], data: Int32Array.from(new Rng(3).uniforms(64, -9, 9)) }), /head\.head\.bias: .*dtype I32/],
  ])('rejects %s with a WanWeightsError naming the key', async (_what, edit, message) => {
    const t = { ...original };
    edit(t);
    const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.safetensors`);
    await writeSafetensors(path, t);
    const p = load(path);
    await expect(p).rejects.toBeInstanceOf(WanWeightsError);
    await expect(p).rejects.toThrow(message);
  });

  it('rejects a checkpoint of another model size', async () => {
    const ckpt = await Checkpoint.open(fixturePath('tiny-t2v.weights.safetensors'));
    await expect(loadWanWeights(checkpointSource(ckpt), cpuBackend(), config)).rejects.toThrow(/patch_embedding\.weight: .*shape \[64, 16, 1, 2, 2\], expected \[64, 36, 1, 2, 2\]|missing/);
    await ckpt.close();
  });

  it('seeded weights are deterministic, per-tensor independent of read order, and non-trivial', async () => {
    const a = seededWeightSource(config, 7);
    const b = seededWeightSource(config, 7);
    const x = await a.read('blocks.1.self_attn.k.weight');
    await b.read('head.head.bias');
    expect(Array.from((await b.read('blocks.1.self_attn.k.weight')).data)).toEqual(Array.from(x.data));
    const other = await seededWeightSource(config, 8).read('blocks.1.self_attn.k.weight');
    expect(Array.from(other.data)).not.toEqual(Array.from(x.data));
    const v = toFloat32(x.data, 'f32');
    const rms = Math.sqrt(v.reduce((s, q) => s + q * q, 0) / v.length);
    expect(rms).toBeGreaterThan(0.1);
    expect(rms).toBeLessThan(0.2); // N(0, 1/64)
  });
});
