import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, f32ToBf16 } from '@mod-dit/tensor';
import { writeSafetensors, type TensorToWrite } from '@mod-dit/tensor/safetensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAN_CONFIGS, WanInputError, readLatent, readWanInputs } from '../src/index.js';

let dir: string;
const r = new Rng(12);
const t = (shape: number[]): TensorToWrite => ({ dtype: 'f32', shape, data: r.normals(shape.reduce((a, b) => a * b, 1)) });
const latent = { channels: 16, frames: 3, height: 6, width: 10 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-inputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(tensors: Record<string, TensorToWrite>): Promise<string> {
  const p = join(dir, `${Math.random().toString(36).slice(2)}.safetensors`);
  await writeSafetensors(p, tensors);
  return p;
}

describe('readWanInputs', () => {
  it('reads T2V and I2V inputs (bf16 decoded to f32)', async () => {
    const ctx = t([7, 32]);
    const bf: TensorToWrite = { dtype: 'bf16', shape: [5, 32], data: Uint16Array.from(r.normals(160), (x) => f32ToBf16(x)) };
    const got = await readWanInputs(await file({ context: ctx, context_null: bf }), WAN_CONFIGS['tiny-t2v'], latent);
    expect(got.contextRows).toBe(7);
    expect(Array.from(got.context)).toEqual(Array.from(ctx.data));
    expect(got.contextNullRows).toBe(5);
    expect(got.contextNull?.[3]).toBe(new Float32Array(new Uint32Array([(bf.data[3] as number) << 16]).buffer)[0]);

    const i2v = await readWanInputs(await file({ context: ctx, clip_fea: t([9, 24]), y: t([20, 3, 6, 10]) }), WAN_CONFIGS['tiny-i2v'], latent);
    expect(i2v.clipRows).toBe(9);
    expect(i2v.y).toHaveLength(20 * 3 * 6 * 10);
    expect(i2v.contextNull).toBeUndefined();
  });

  it.each([
    ['no context', { context_null: t([5, 32]) }, 'tiny-t2v', /context is missing/],
    ['a wrong text width', { context: t([7, 31]) }, 'tiny-t2v', /\[context\]: shape \[7, 31\]: expected \[L, 32\]/],
    ['too many text rows', { context: t([17, 32]) }, 'tiny-t2v', /L must be 1..16/],
    ['image inputs for T2V', { context: t([7, 32]), clip_fea: t([9, 24]) }, 'tiny-t2v', /clip_fea is an image-to-video input/],
    ['a wrong y', { context: t([7, 32]), clip_fea: t([9, 24]), y: t([20, 3, 6, 12]) }, 'tiny-i2v', /\[y\]: shape \[20, 3, 6, 12\]: expected \[20, 3, 6, 10\]/],
    ['a missing clip_fea', { context: t([7, 32]), y: t([20, 3, 6, 10]) }, 'tiny-i2v', /clip_fea is missing/],
  ] as const)('rejects %s with WanInputError', async (_w, tensors, model, msg) => {
    const p = readWanInputs(await file(tensors as Record<string, TensorToWrite>), WAN_CONFIGS[model], latent);
    await expect(p).rejects.toBeInstanceOf(WanInputError);
    await expect(p).rejects.toThrow(msg);
  });
});

describe('readLatent', () => {
  it('reads a latent and checks its shape and name', async () => {
    const noise = t([16, 3, 6, 10]);
    const p = await file({ noise });
    expect(Array.from(await readLatent(p, 'noise', latent))).toEqual(Array.from(noise.data));
    await expect(readLatent(p, 'latents', latent)).rejects.toThrow(/latents is missing \(have: noise\)/);
    await expect(readLatent(p, 'noise', { ...latent, width: 12 })).rejects.toThrow(/expected \[16, 3, 6, 12\]/);
  });
});
