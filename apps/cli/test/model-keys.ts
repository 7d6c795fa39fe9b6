/**
 * Tensor name/shape lists of the real checkpoints, written out independently from the
 * detector (from docs/models.md and the upstream key names) so detection is tested against
 * the key sets, not against its own tables.
 */
import type { TensorSignature } from '../src/detect/model-family.js';

export interface WanConfig {
  dim: number;
  layers: number;
  ffn: number;
  inChannels: number;
  image: boolean;
}

export const WAN_T2V_1_3B: WanConfig = { dim: 1536, layers: 30, ffn: 8960, inChannels: 16, image: false };
export const WAN_T2V_14B: WanConfig = { dim: 5120, layers: 40, ffn: 13824, inChannels: 16, image: false };
export const WAN_I2V_14B: WanConfig = { dim: 5120, layers: 40, ffn: 13824, inChannels: 36, image: true };

const linear = (name: string, out: number, inp: number): TensorSignature[] => [
  { name: `${name}.weight`, shape: [out, inp] },
  { name: `${name}.bias`, shape: [out] },
];
const vec = (name: string, n: number): TensorSignature => ({ name, shape: [n] });

/** Wan2.1 keys in the original repository's layout. */
export function wanOriginalKeys(c: WanConfig): TensorSignature[] {
  const C = c.dim;
  const keys: TensorSignature[] = [
    { name: 'patch_embedding.weight', shape: [C, c.inChannels, 1, 2, 2] },
    vec('patch_embedding.bias', C),
    ...linear('text_embedding.0', C, 4096),
    ...linear('text_embedding.2', C, C),
    ...linear('time_embedding.0', C, 256),
    ...linear('time_embedding.2', C, C),
    ...linear('time_projection.1', 6 * C, C),
    { name: 'head.modulation', shape: [1, 2, C] },
    ...linear('head.head', 64, C),
  ];
  if (c.image) {
    keys.push(vec('img_emb.proj.0.weight', 1280), vec('img_emb.proj.0.bias', 1280), ...linear('img_emb.proj.1', 1280, 1280));
    keys.push(...linear('img_emb.proj.3', C, 1280), vec('img_emb.proj.4.weight', C), vec('img_emb.proj.4.bias', C));
  }
  for (let i = 0; i < c.layers; i++) {
    const b = `blocks.${i}`;
    keys.push({ name: `${b}.modulation`, shape: [1, 6, C] });
    for (const attn of ['self_attn', 'cross_attn']) {
      for (const p of ['q', 'k', 'v', 'o']) keys.push(...linear(`${b}.${attn}.${p}`, C, C));
      keys.push(vec(`${b}.${attn}.norm_q.weight`, C), vec(`${b}.${attn}.norm_k.weight`, C));
    }
    if (c.image) keys.push(...linear(`${b}.cross_attn.k_img`, C, C), ...linear(`${b}.cross_attn.v_img`, C, C), vec(`${b}.cross_attn.norm_k_img.weight`, C));
    keys.push(vec(`${b}.norm3.weight`, C), vec(`${b}.norm3.bias`, C), ...linear(`${b}.ffn.0`, c.ffn, C), ...linear(`${b}.ffn.2`, C, c.ffn));
  }
  return keys;
}

/** Wan2.1 keys as diffusers' WanTransformer3DModel names them. */
export function wanDiffusersKeys(c: WanConfig): TensorSignature[] {
  const C = c.dim;
  const keys: TensorSignature[] = [
    { name: 'patch_embedding.weight', shape: [C, c.inChannels, 1, 2, 2] },
    vec('patch_embedding.bias', C),
    ...linear('condition_embedder.text_embedder.linear_1', C, 4096),
    ...linear('condition_embedder.text_embedder.linear_2', C, C),
    ...linear('condition_embedder.time_embedder.linear_1', C, 256),
    ...linear('condition_embedder.time_embedder.linear_2', C, C),
    ...linear('condition_embedder.time_proj', 6 * C, C),
    { name: 'scale_shift_table', shape: [1, 2, C] },
    ...linear('proj_out', 64, C),
  ];
  if (c.image) {
    const e = 'condition_embedder.image_embedder';
    keys.push(vec(`${e}.norm1.weight`, 1280), vec(`${e}.norm1.bias`, 1280), ...linear(`${e}.ff.net.0.proj`, 1280, 1280));
    keys.push(...linear(`${e}.ff.net.2`, C, 1280), vec(`${e}.norm2.weight`, C), vec(`${e}.norm2.bias`, C));
  }
  for (let i = 0; i < c.layers; i++) {
    const b = `blocks.${i}`;
    keys.push({ name: `${b}.scale_shift_table`, shape: [1, 6, C] });
    for (const attn of ['attn1', 'attn2']) {
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) keys.push(...linear(`${b}.${attn}.${p}`, C, C));
      keys.push(vec(`${b}.${attn}.norm_q.weight`, C), vec(`${b}.${attn}.norm_k.weight`, C));
    }
    if (c.image) keys.push(...linear(`${b}.attn2.add_k_proj`, C, C), ...linear(`${b}.attn2.add_v_proj`, C, C), vec(`${b}.attn2.norm_added_k.weight`, C));
    keys.push(vec(`${b}.norm2.weight`, C), vec(`${b}.norm2.bias`, C), ...linear(`${b}.ffn.net.0.proj`, c.ffn, C), ...linear(`${b}.ffn.net.2`, C, c.ffn));
  }
  return keys;
}

export interface HunyuanConfig {
  hidden: number;
  doubleBlocks: number;
  singleBlocks: number;
  mlp: number;
  inChannels: number;
}

export const HUNYUAN_T2V_13B: HunyuanConfig = { hidden: 3072, doubleBlocks: 20, singleBlocks: 40, mlp: 12288, inChannels: 16 };

/** HunyuanVideo keys as in the original (hyvideo) state dict; the per-block sets are representative, not exhaustive. */
export function hunyuanOriginalKeys(c: HunyuanConfig): TensorSignature[] {
  const H = c.hidden;
  const keys: TensorSignature[] = [
    { name: 'img_in.proj.weight', shape: [H, c.inChannels, 1, 2, 2] },
    vec('img_in.proj.bias', H),
    ...linear('txt_in.input_embedder', H, 4096),
    ...linear('txt_in.individual_token_refiner.blocks.0.self_attn_qkv', 3 * H, H),
    ...linear('time_in.mlp.0', H, 256),
    ...linear('vector_in.in_layer', H, 768),
    ...linear('guidance_in.mlp.0', H, 256),
    ...linear('final_layer.linear', 64, H),
    ...linear('final_layer.adaLN_modulation.1', 2 * H, H),
  ];
  for (let i = 0; i < c.doubleBlocks; i++) {
    const b = `double_blocks.${i}`;
    for (const s of ['img', 'txt']) {
      keys.push(...linear(`${b}.${s}_mod.linear`, 6 * H, H), ...linear(`${b}.${s}_attn_qkv`, 3 * H, H), ...linear(`${b}.${s}_attn_proj`, H, H));
      keys.push(vec(`${b}.${s}_attn_q_norm.weight`, 128), vec(`${b}.${s}_attn_k_norm.weight`, 128));
      keys.push(...linear(`${b}.${s}_mlp.fc1`, c.mlp, H), ...linear(`${b}.${s}_mlp.fc2`, H, c.mlp));
    }
  }
  for (let i = 0; i < c.singleBlocks; i++) {
    const b = `single_blocks.${i}`;
    keys.push(...linear(`${b}.linear1`, 3 * H + c.mlp, H), ...linear(`${b}.linear2`, H, H + c.mlp), ...linear(`${b}.modulation.linear`, 3 * H, H));
    keys.push(vec(`${b}.q_norm.weight`, 128), vec(`${b}.k_norm.weight`, 128));
  }
  return keys;
}

/** HunyuanVideo keys as diffusers' HunyuanVideoTransformer3DModel names them (representative per block). */
export function hunyuanDiffusersKeys(c: HunyuanConfig): TensorSignature[] {
  const H = c.hidden;
  const keys: TensorSignature[] = [
    { name: 'x_embedder.proj.weight', shape: [H, c.inChannels, 1, 2, 2] },
    vec('x_embedder.proj.bias', H),
    ...linear('context_embedder.proj_in', H, 4096),
    ...linear('context_embedder.token_refiner.refiner_blocks.0.attn.to_q', H, H),
    ...linear('time_text_embed.timestep_embedder.linear_1', H, 256),
    ...linear('time_text_embed.guidance_embedder.linear_1', H, 256),
    ...linear('time_text_embed.text_embedder.linear_1', H, 768),
    ...linear('norm_out.linear', 2 * H, H),
    ...linear('proj_out', 64, H),
  ];
  for (let i = 0; i < c.doubleBlocks; i++) {
    const b = `transformer_blocks.${i}`;
    keys.push(...linear(`${b}.norm1.linear`, 6 * H, H), ...linear(`${b}.norm1_context.linear`, 6 * H, H));
    for (const p of ['to_q', 'to_k', 'to_v', 'add_q_proj', 'add_k_proj', 'add_v_proj', 'to_out.0', 'to_add_out']) keys.push(...linear(`${b}.attn.${p}`, H, H));
    keys.push(vec(`${b}.attn.norm_q.weight`, 128), vec(`${b}.attn.norm_k.weight`, 128));
    keys.push(...linear(`${b}.ff.net.0.proj`, c.mlp, H), ...linear(`${b}.ff.net.2`, H, c.mlp));
    keys.push(...linear(`${b}.ff_context.net.0.proj`, c.mlp, H), ...linear(`${b}.ff_context.net.2`, H, c.mlp));
  }
  for (let i = 0; i < c.singleBlocks; i++) {
    const b = `single_transformer_blocks.${i}`;
    for (const p of ['to_q', 'to_k', 'to_v']) keys.push(...linear(`${b}.attn.${p}`, H, H));
    keys.push(...linear(`${b}.proj_mlp`, c.mlp, H), ...linear(`${b}.proj_out`, H, H + c.mlp), ...linear(`${b}.norm.linear`, 3 * H, H));
  }
  return keys;
}
