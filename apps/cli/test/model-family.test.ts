import { describe, expect, it } from 'vitest';
import { detectModel, type TensorSignature } from '../src/detect/model-family.js';
import {
  HUNYUAN_T2V_13B,
  WAN_I2V_14B,
  WAN_T2V_14B,
  WAN_T2V_1_3B,
  hunyuanDiffusersKeys,
  hunyuanOriginalKeys,
  wanDiffusersKeys,
  wanOriginalKeys,
} from './model-keys.js';

/** Shuffled so detection cannot depend on file order. */
function shuffled(keys: TensorSignature[], seed: number): TensorSignature[] {
  const out = [...keys];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('detectModel', () => {
  it('the Wan2.1 1.3B key sets have the 825 tensors of the release', () => {
    expect(wanOriginalKeys(WAN_T2V_1_3B)).toHaveLength(825);
    expect(wanDiffusersKeys(WAN_T2V_1_3B)).toHaveLength(825);
  });

  const released = [
    { keys: wanOriginalKeys, config: WAN_T2V_1_3B, family: 'wan2.1', variant: 'T2V-1.3B', layout: 'original' },
    { keys: wanOriginalKeys, config: WAN_T2V_14B, family: 'wan2.1', variant: 'T2V-14B', layout: 'original' },
    { keys: wanOriginalKeys, config: WAN_I2V_14B, family: 'wan2.1', variant: 'I2V-14B', layout: 'original' },
    { keys: wanDiffusersKeys, config: WAN_T2V_1_3B, family: 'wan2.1', variant: 'T2V-1.3B', layout: 'diffusers' },
    { keys: wanDiffusersKeys, config: WAN_T2V_14B, family: 'wan2.1', variant: 'T2V-14B', layout: 'diffusers' },
    { keys: wanDiffusersKeys, config: WAN_I2V_14B, family: 'wan2.1', variant: 'I2V-14B', layout: 'diffusers' },
    { keys: hunyuanOriginalKeys, config: HUNYUAN_T2V_13B, family: 'hunyuan-video', variant: 'T2V-13B', layout: 'original' },
    { keys: hunyuanDiffusersKeys, config: HUNYUAN_T2V_13B, family: 'hunyuan-video', variant: 'T2V-13B', layout: 'diffusers' },
  ] as const;
  for (const [i, r] of released.entries()) {
    it(`detects ${r.family} ${r.variant} in the ${r.layout} layout`, () => {
      const d = detectModel(shuffled(r.keys(r.config as never), i + 1));
      expect(d).toMatchObject({ family: r.family, variant: r.variant, layout: r.layout });
      expect(d.label).toContain(r.variant);
      expect(d.label).toContain(`${r.layout} key layout`);
    });
  }

  it('reads the Wan config from the shapes', () => {
    expect(detectModel(wanDiffusersKeys(WAN_I2V_14B)).config).toEqual({ dim: 5120, inChannels: 36, ffn: 13824, textDim: 4096, layers: 40, imageConditioned: true });
  });

  it('labels non-released configurations as custom, never as a release', () => {
    const tiny = { dim: 64, layers: 2, ffn: 128, inChannels: 16, image: false };
    for (const keys of [wanOriginalKeys, wanDiffusersKeys]) {
      const d = detectModel(keys(tiny));
      expect(d.family).toBe('wan2.1');
      expect(d.variant).toBeNull();
      expect(d.label).toMatch(/^Wan2\.1 T2V, custom config not matching a released variant \(dim 64, inChannels 16, ffn 128, textDim 4096, layers 2;/);
    }
    // One layer short of a release, or I2V weights on a T2V channel count: still custom.
    expect(detectModel(wanOriginalKeys({ ...WAN_T2V_1_3B, layers: 29 })).variant).toBeNull();
    expect(detectModel(wanOriginalKeys({ ...WAN_T2V_14B, image: true })).label).toMatch(/^Wan2\.1 I2V, custom config/);
    expect(detectModel(hunyuanDiffusersKeys({ ...HUNYUAN_T2V_13B, inChannels: 33 })).label).toMatch(/^HunyuanVideo T2V, custom config.*inChannels 33/);
  });

  it('says unknown for other models and partial key sets', () => {
    const flux = [
      { name: 'x_embedder.weight', shape: [3072, 64] },
      { name: 'transformer_blocks.0.attn.to_q.weight', shape: [3072, 3072] },
      { name: 'single_transformer_blocks.0.proj_mlp.weight', shape: [12288, 3072] },
    ];
    const unet = [{ name: 'model.diffusion_model.input_blocks.0.0.weight', shape: [320, 4, 3, 3] }];
    const noPatch = wanOriginalKeys(WAN_T2V_1_3B).filter((k) => k.name !== 'patch_embedding.weight');
    const flatPatch = wanOriginalKeys(WAN_T2V_1_3B).map((k) => (k.name === 'patch_embedding.weight' ? { ...k, shape: [1536, 64] } : k));
    for (const keys of [[], flux, unet, noPatch, flatPatch]) {
      expect(detectModel(keys)).toMatchObject({ family: 'unknown', variant: null, layout: 'unknown' });
    }
  });
});
