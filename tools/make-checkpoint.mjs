#!/usr/bin/env node
// Writes a tiny Wan2.1-shaped checkpoint with seeded random weights (not a trained model):
// the T2V key names and tensor ranks of Wan2.1, in the original or the diffusers key layout,
// as one .safetensors file or N shards with an index json. `mod-dit inspect` reports it as a
// custom Wan2.1 T2V config. Needs the built @mod-dit/tensor (npx tsup in packages/tensor).
//
//   node tools/make-checkpoint.mjs --out /tmp/tiny-wan --layout diffusers --shards 2
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng, fromNumbers } from '@mod-dit/tensor';
import { writeSafetensors } from '@mod-dit/tensor/safetensors';

// Tiny dims; text_dim 4096 and freq_dim 256 stay real so the embedder shapes match Wan2.1's.
const CONFIG = { dim: 64, layers: 2, ffn: 128, inChannels: 16, outChannels: 16, textDim: 4096, freqDim: 256 };

const USAGE = `usage: node tools/make-checkpoint.mjs [--out DIR] [--layout original|diffusers] [--shards N] [--dtype f32|bf16|f16] [--seed N]`;

/** [name, shape] of every tensor of a Wan2.1 T2V model in `layout`. */
function wanTensorShapes(c, layout) {
  const C = c.dim;
  const out = c.outChannels * 4; // (1,2,2) patch
  const shapes = [];
  const linear = (name, o, i) => shapes.push([`${name}.weight`, [o, i]], [`${name}.bias`, [o]]);
  const vector = (name, n) => shapes.push([name, [n]]);
  const d = layout === 'diffusers';
  shapes.push(['patch_embedding.weight', [C, c.inChannels, 1, 2, 2]]);
  vector('patch_embedding.bias', C);
  linear(d ? 'condition_embedder.text_embedder.linear_1' : 'text_embedding.0', C, c.textDim);
  linear(d ? 'condition_embedder.text_embedder.linear_2' : 'text_embedding.2', C, C);
  linear(d ? 'condition_embedder.time_embedder.linear_1' : 'time_embedding.0', C, c.freqDim);
  linear(d ? 'condition_embedder.time_embedder.linear_2' : 'time_embedding.2', C, C);
  linear(d ? 'condition_embedder.time_proj' : 'time_projection.1', 6 * C, C);
  shapes.push([d ? 'scale_shift_table' : 'head.modulation', [1, 2, C]]);
  linear(d ? 'proj_out' : 'head.head', out, C);
  for (let i = 0; i < c.layers; i++) {
    const b = `blocks.${i}`;
    shapes.push([d ? `${b}.scale_shift_table` : `${b}.modulation`, [1, 6, C]]);
    for (const [attn, attnD] of [['self_attn', 'attn1'], ['cross_attn', 'attn2']]) {
      for (const [p, pD] of [['q', 'to_q'], ['k', 'to_k'], ['v', 'to_v'], ['o', 'to_out.0']]) linear(d ? `${b}.${attnD}.${pD}` : `${b}.${attn}.${p}`, C, C);
      vector(`${b}.${d ? attnD : attn}.norm_q.weight`, C);
      vector(`${b}.${d ? attnD : attn}.norm_k.weight`, C);
    }
    // The affine LayerNorm before cross-attention: norm3 upstream, norm2 in diffusers.
    vector(`${b}.${d ? 'norm2' : 'norm3'}.weight`, C);
    vector(`${b}.${d ? 'norm2' : 'norm3'}.bias`, C);
    linear(d ? `${b}.ffn.net.0.proj` : `${b}.ffn.0`, c.ffn, C);
    linear(d ? `${b}.ffn.net.2` : `${b}.ffn.2`, C, c.ffn);
  }
  return shapes;
}

/** Seeded weights: norm scales near 1, everything else small Gaussian noise. */
function randomTensors(shapes, dtype, seed) {
  const rng = new Rng(seed);
  const tensors = {};
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, x) => a * x, 1);
    const isNormScale = /norm[^.]*\.weight$/.test(name);
    const values = rng.normals(n, 0.02, isNormScale ? 1 : 0);
    tensors[name] = { dtype, shape, data: dtype === 'f32' ? values : fromNumbers(values, dtype) };
  }
  return tensors;
}

/** Splits tensors (in name order) into `n` contiguous, non-empty groups, cut by cumulative bytes. */
function shard(tensors, n) {
  const names = Object.keys(tensors).sort();
  const total = names.reduce((a, k) => a + tensors[k].data.byteLength, 0);
  const groups = Array.from({ length: n }, () => ({}));
  let bytes = 0;
  let g = 0;
  names.forEach((name, i) => {
    const byBytes = Math.floor((bytes * n) / total);
    // Move to the next group at most one step at a time (none stays empty), and early
    // enough that the names left can still fill the groups left.
    if (i > 0 && g < n - 1 && (byBytes > g || names.length - i <= n - 1 - g)) g++;
    groups[g][name] = tensors[name];
    bytes += tensors[name].data.byteLength;
  });
  return groups;
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      layout: { type: 'string', default: 'original' },
      shards: { type: 'string', default: '1' },
      dtype: { type: 'string', default: 'f32' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  const shards = Number(values.shards);
  const seed = Number(values.seed);
  const fail = (msg) => {
    console.error(`make-checkpoint: ${msg}\n${USAGE}`);
    process.exit(2);
  };
  if (!['original', 'diffusers'].includes(values.layout)) fail(`--layout must be original or diffusers, got ${values.layout}`);
  if (!['f32', 'bf16', 'f16'].includes(values.dtype)) fail(`--dtype must be f32, bf16 or f16, got ${values.dtype}`);
  if (!Number.isInteger(shards) || shards < 1) fail(`--shards must be a positive integer, got ${values.shards}`);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`);

  const outDir = values.out ?? `tiny-wan-${values.layout}`;
  mkdirSync(outDir, { recursive: true });
  const tensors = randomTensors(wanTensorShapes(CONFIG, values.layout), values.dtype, seed);
  const count = Object.keys(tensors).length;
  if (shards > count) fail(`--shards ${shards} is more than the ${count} tensors`);
  const metadata = { format: 'pt', 'mod-dit.generator': 'tools/make-checkpoint.mjs', 'mod-dit.config': JSON.stringify({ ...CONFIG, layout: values.layout, seed }) };
  const base = 'diffusion_pytorch_model';
  if (shards === 1) {
    const path = join(outDir, `${base}.safetensors`);
    await writeSafetensors(path, tensors, metadata);
    console.log(`wrote ${path} (${count} tensors)`);
    return;
  }
  const weightMap = {};
  let totalSize = 0;
  const pad = (k) => String(k).padStart(5, '0');
  for (const [i, group] of shard(tensors, shards).entries()) {
    const file = `${base}-${pad(i + 1)}-of-${pad(shards)}.safetensors`;
    await writeSafetensors(join(outDir, file), group, metadata);
    for (const [name, t] of Object.entries(group)) {
      weightMap[name] = file;
      totalSize += t.data.byteLength;
    }
  }
  const index = join(outDir, `${base}.safetensors.index.json`);
  writeFileSync(index, `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`);
  console.log(`wrote ${index} and ${shards} shards (${count} tensors)`);
}

await main();
