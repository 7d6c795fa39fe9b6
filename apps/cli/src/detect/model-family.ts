/**
 * Recognises a DiT checkpoint from its tensor names and shapes alone (no data read):
 * the model family, the released variant it matches, and the key layout (the original
 * repository's names or diffusers' renamed ones). Facts from docs/models.md.
 */

/** A tensor as detection sees it. */
export interface TensorSignature {
  readonly name: string;
  readonly shape: readonly number[];
}

export type ModelFamily = 'wan2.1' | 'hunyuan-video' | 'unknown';
export type KeyLayout = 'original' | 'diffusers' | 'unknown';

/** What the names and shapes say about the checkpoint. */
export interface ModelDetection {
  readonly family: ModelFamily;
  /** The released variant whose configuration matches exactly, or null (custom or unknown). */
  readonly variant: string | null;
  readonly layout: KeyLayout;
  /** One line for people, e.g. "Wan2.1 T2V-1.3B (original key layout)". */
  readonly label: string;
  /** Configuration read from the shapes (dims, layer counts, channels). */
  readonly config: Readonly<Record<string, number | boolean>>;
}

interface Variant {
  readonly name: string;
  readonly config: Readonly<Record<string, number | boolean>>;
}

const WAN_VARIANTS: readonly Variant[] = [
  { name: 'T2V-1.3B', config: { dim: 1536, layers: 30, ffn: 8960, inChannels: 16, imageConditioned: false } },
  { name: 'T2V-14B', config: { dim: 5120, layers: 40, ffn: 13824, inChannels: 16, imageConditioned: false } },
  { name: 'I2V-14B', config: { dim: 5120, layers: 40, ffn: 13824, inChannels: 36, imageConditioned: true } },
];

const HUNYUAN_VARIANTS: readonly Variant[] = [
  { name: 'T2V-13B', config: { hidden: 3072, doubleBlocks: 20, singleBlocks: 40, mlp: 12288, inChannels: 16 } },
];

/** Per family and layout: the names that must exist and where each config value is read. */
interface Schema {
  readonly family: Exclude<ModelFamily, 'unknown'>;
  readonly layout: Exclude<KeyLayout, 'unknown'>;
  /** Names that identify this family and layout; all must be present. */
  readonly markers: readonly string[];
  /** The patch embedding Conv3d weight [C, in, 1, 2, 2]. */
  readonly patch: string;
  /** Config value -> [tensor name, shape axis]. */
  readonly dims: Readonly<Record<string, readonly [string, number]>>;
  /** Config value -> block name prefix whose distinct indices are counted. */
  readonly counts: Readonly<Record<string, string>>;
  /** Flag -> any of these name prefixes present. */
  readonly flags: Readonly<Record<string, readonly string[]>>;
}

const SCHEMAS: readonly Schema[] = [
  {
    family: 'wan2.1',
    layout: 'original',
    markers: ['patch_embedding.weight', 'time_projection.1.weight', 'head.head.weight', 'blocks.0.self_attn.q.weight', 'blocks.0.norm3.weight'],
    patch: 'patch_embedding.weight',
    dims: { ffn: ['blocks.0.ffn.0.weight', 0], textDim: ['text_embedding.0.weight', 1] },
    counts: { layers: 'blocks.' },
    flags: { imageConditioned: ['img_emb.', 'blocks.0.cross_attn.k_img.'] },
  },
  {
    family: 'wan2.1',
    layout: 'diffusers',
    markers: ['patch_embedding.weight', 'condition_embedder.time_proj.weight', 'proj_out.weight', 'scale_shift_table', 'blocks.0.attn1.to_q.weight'],
    patch: 'patch_embedding.weight',
    dims: { ffn: ['blocks.0.ffn.net.0.proj.weight', 0], textDim: ['condition_embedder.text_embedder.linear_1.weight', 1] },
    counts: { layers: 'blocks.' },
    flags: { imageConditioned: ['condition_embedder.image_embedder.', 'blocks.0.attn2.add_k_proj.'] },
  },
  {
    family: 'hunyuan-video',
    layout: 'original',
    markers: ['img_in.proj.weight', 'double_blocks.0.img_attn_qkv.weight', 'single_blocks.0.linear1.weight', 'final_layer.linear.weight'],
    patch: 'img_in.proj.weight',
    dims: { mlp: ['double_blocks.0.img_mlp.fc1.weight', 0] },
    counts: { doubleBlocks: 'double_blocks.', singleBlocks: 'single_blocks.' },
    flags: {},
  },
  {
    family: 'hunyuan-video',
    layout: 'diffusers',
    markers: ['x_embedder.proj.weight', 'transformer_blocks.0.attn.add_q_proj.weight', 'single_transformer_blocks.0.proj_mlp.weight', 'norm_out.linear.weight'],
    patch: 'x_embedder.proj.weight',
    dims: { mlp: ['transformer_blocks.0.ff.net.0.proj.weight', 0] },
    counts: { doubleBlocks: 'transformer_blocks.', singleBlocks: 'single_transformer_blocks.' },
    flags: {},
  },
];

const FAMILY_NAME: Record<Exclude<ModelFamily, 'unknown'>, string> = { 'wan2.1': 'Wan2.1', 'hunyuan-video': 'HunyuanVideo' };

/** Detects family, variant and key layout; `family: 'unknown'` when no schema fits. */
export function detectModel(tensors: Iterable<TensorSignature>): ModelDetection {
  const shapes = new Map<string, readonly number[]>();
  for (const t of tensors) shapes.set(t.name, t.shape);
  for (const schema of SCHEMAS) {
    const patch = shapes.get(schema.patch);
    if (!schema.markers.every((m) => shapes.has(m)) || patch?.length !== 5) continue;
    return describe(schema, readConfig(schema, shapes, patch));
  }
  return { family: 'unknown', variant: null, layout: 'unknown', label: 'unknown model (no Wan2.1 or HunyuanVideo key set found)', config: {} };
}

function readConfig(schema: Schema, shapes: ReadonlyMap<string, readonly number[]>, patch: readonly number[]): Record<string, number | boolean> {
  const config: Record<string, number | boolean> = { [schema.family === 'wan2.1' ? 'dim' : 'hidden']: patch[0], inChannels: patch[1] };
  for (const [key, [name, axis]] of Object.entries(schema.dims)) {
    const shape = shapes.get(name);
    if (shape && axis < shape.length) config[key] = shape[axis];
  }
  const names = [...shapes.keys()];
  for (const [key, prefix] of Object.entries(schema.counts)) {
    const indices = new Set<string>();
    for (const n of names) {
      if (!n.startsWith(prefix)) continue;
      const index = n.slice(prefix.length).split('.')[0];
      if (/^\d+$/.test(index)) indices.add(index);
    }
    config[key] = indices.size;
  }
  for (const [key, prefixes] of Object.entries(schema.flags)) config[key] = names.some((n) => prefixes.some((p) => n.startsWith(p)));
  return config;
}

function describe(schema: Schema, config: Record<string, number | boolean>): ModelDetection {
  const variants = schema.family === 'wan2.1' ? WAN_VARIANTS : HUNYUAN_VARIANTS;
  const match = variants.find((v) => Object.entries(v.config).every(([k, want]) => config[k] === want));
  const family = FAMILY_NAME[schema.family];
  const layout = `${schema.layout} key layout`;
  if (match) return { family: schema.family, variant: match.name, layout: schema.layout, label: `${family} ${match.name} (${layout})`, config };
  const kind = schema.family === 'wan2.1' ? (config.imageConditioned ? 'I2V' : 'T2V') : 'T2V';
  const summary = Object.entries(config)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return {
    family: schema.family,
    variant: null,
    layout: schema.layout,
    label: `${family} ${kind}, custom config not matching a released variant (${summary}; ${layout})`,
    config,
  };
}
