import type { WanConfig } from './config.js';
import { WanWeightsError } from './errors.js';

/** Key layouts of Wan checkpoints: the official release ('original') and diffusers' WanTransformer3DModel. */
export type WanLayout = 'original' | 'diffusers';

/**
 * THE mapping between the two layouts, module by module (original -> diffusers), from
 * diffusers' scripts/convert_wan_to_diffusers.py. `.weight` / `.bias` suffixes carry over
 * unchanged. Block modules are relative to `blocks.N.` in both layouts. Note the swapped
 * names: the affine LayerNorm before cross-attention is `norm3` in the original and `norm2`
 * in diffusers (the non-affine norm2 of the original has no weights).
 */
export const WAN_KEY_MAP: { readonly top: readonly (readonly [string, string])[]; readonly block: readonly (readonly [string, string])[] } = {
  top: [
    ['patch_embedding', 'patch_embedding'],
    ['text_embedding.0', 'condition_embedder.text_embedder.linear_1'],
    ['text_embedding.2', 'condition_embedder.text_embedder.linear_2'],
    ['time_embedding.0', 'condition_embedder.time_embedder.linear_1'],
    ['time_embedding.2', 'condition_embedder.time_embedder.linear_2'],
    ['time_projection.1', 'condition_embedder.time_proj'],
    ['head.head', 'proj_out'],
    ['head.modulation', 'scale_shift_table'],
    ['img_emb.proj.0', 'condition_embedder.image_embedder.norm1'],
    ['img_emb.proj.1', 'condition_embedder.image_embedder.ff.net.0.proj'],
    ['img_emb.proj.3', 'condition_embedder.image_embedder.ff.net.2'],
    ['img_emb.proj.4', 'condition_embedder.image_embedder.norm2'],
  ],
  block: [
    ['modulation', 'scale_shift_table'],
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
    ['cross_attn.k_img', 'attn2.add_k_proj'],
    ['cross_attn.v_img', 'attn2.add_v_proj'],
    ['cross_attn.norm_k_img', 'attn2.norm_added_k'],
    ['norm3', 'norm2'],
    ['ffn.0', 'ffn.net.0.proj'],
    ['ffn.2', 'ffn.net.2'],
  ],
};

const PARAM = /^(.*)\.(weight|bias)$/;
const BLOCK = /^blocks\.(\d+)\.(.*)$/;
const LAYOUT_PROBE: Readonly<Record<WanLayout, string>> = { original: 'time_projection.1.weight', diffusers: 'condition_embedder.time_proj.weight' };

function lookup(table: readonly (readonly [string, string])[], module: string, from: 0 | 1): string | undefined {
  return table.find((row) => row[from] === module)?.[1 - from];
}

/** Translates one key between layouts; undefined when the key is not part of a Wan DiT. */
export function translateKey(key: string, from: WanLayout, to: WanLayout): string | undefined {
  if (from === to) return key;
  const dir = from === 'original' ? 0 : 1;
  const block = BLOCK.exec(key);
  const rest = block ? block[2] : key;
  // head.modulation / scale_shift_table / modulation have no .weight suffix
  const param = PARAM.exec(rest);
  const table = block ? WAN_KEY_MAP.block : WAN_KEY_MAP.top;
  const module = param ? param[1] : rest;
  const mapped = lookup(table, module, dir);
  if (mapped === undefined) return undefined;
  const out = param ? `${mapped}.${param[2]}` : mapped;
  return block ? `blocks.${block[1]}.${out}` : out;
}

/** Which layout a set of keys is in; throws WanWeightsError naming the probe keys when neither. */
export function detectLayout(keys: Iterable<string>, where = 'checkpoint'): WanLayout {
  const set = new Set(keys);
  const found = (Object.keys(LAYOUT_PROBE) as WanLayout[]).filter((l) => set.has(LAYOUT_PROBE[l]));
  if (found.length === 1) return found[0];
  const sample = [...set].slice(0, 3).join(', ');
  throw new WanWeightsError(
    `${where}: unknown key layout: expected ${LAYOUT_PROBE.original} (original Wan2.1) or ${LAYOUT_PROBE.diffusers} (diffusers)` +
      `${found.length > 1 ? ', found both' : `, found neither (first keys: ${sample || 'none'})`}`,
  );
}

/** Every tensor of a Wan DiT in the original layout with its shape (model.py's modules). */
export function wanWeightShapes(c: WanConfig): Map<string, number[]> {
  const C = c.dim;
  const patchOut = c.outDim * c.patch[0] * c.patch[1] * c.patch[2];
  const s = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    s.set(`${name}.weight`, [out, inp]);
    s.set(`${name}.bias`, [out]);
  };
  s.set('patch_embedding.weight', [C, c.inDim, ...c.patch]);
  s.set('patch_embedding.bias', [C]);
  linear('text_embedding.0', C, c.textDim);
  linear('text_embedding.2', C, C);
  linear('time_embedding.0', C, c.freqDim);
  linear('time_embedding.2', C, C);
  linear('time_projection.1', 6 * C, C);
  s.set('head.modulation', [1, 2, C]);
  linear('head.head', patchOut, C);
  for (let i = 0; i < c.layers; i++) {
    const p = `blocks.${i}.`;
    s.set(`${p}modulation`, [1, 6, C]);
    for (const a of ['self_attn', 'cross_attn']) {
      for (const n of ['q', 'k', 'v', 'o']) linear(`${p}${a}.${n}`, C, C);
      s.set(`${p}${a}.norm_q.weight`, [C]);
      s.set(`${p}${a}.norm_k.weight`, [C]);
    }
    if (c.modelType === 'i2v') {
      linear(`${p}cross_attn.k_img`, C, C);
      linear(`${p}cross_attn.v_img`, C, C);
      s.set(`${p}cross_attn.norm_k_img.weight`, [C]);
    }
    s.set(`${p}norm3.weight`, [C]);
    s.set(`${p}norm3.bias`, [C]);
    linear(`${p}ffn.0`, c.ffnDim, C);
    linear(`${p}ffn.2`, C, c.ffnDim);
  }
  if (c.modelType === 'i2v') {
    const D = c.imageDim;
    s.set('img_emb.proj.0.weight', [D]);
    s.set('img_emb.proj.0.bias', [D]);
    linear('img_emb.proj.1', D, D);
    linear('img_emb.proj.3', C, D);
    s.set('img_emb.proj.4.weight', [C]);
    s.set('img_emb.proj.4.bias', [C]);
  }
  return s;
}
