import { fromNumbers, toFloat32, type Backend, type DType, type Tensor } from '@mod-dit/tensor';
import type { WanConfig } from './config.js';
import { WanWeightsError } from './errors.js';
import { detectLayout, translateKey, wanWeightShapes, type WanLayout } from './weight-names.js';
import type { WeightSource } from './weight-source.js';

/** Options of {@link loadWanWeights}. */
export interface LoadWeightsOptions {
  /** dtype of Linear weights and biases (the GEMM dtype). Default f32. */
  compute?: DType;
  /** Called after each tensor lands on the backend. */
  onTensor?: (name: string, index: number, total: number) => void;
}

/** The weights of one Wan DiT on a backend, by original-layout name. Norm weights and modulation tables are f32. */
export class WanWeights {
  constructor(
    readonly config: WanConfig,
    readonly layout: WanLayout,
    readonly compute: DType,
    private readonly tensors: Map<string, Tensor>,
  ) {}

  /** The tensor under its original-layout name; throws WanWeightsError naming it when absent. */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new WanWeightsError('no such weight in this model', name);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Frees every weight on the backend. */
  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

/** Tensors kept in f32 whatever the compute dtype: normalisation weights and modulation tables (f32 in Wan's forward too). */
function isF32Param(name: string): boolean {
  return name.endsWith('modulation') || /norm/.test(name) || name.startsWith('img_emb.proj.0') || name.startsWith('img_emb.proj.4');
}

/**
 * Streams a Wan checkpoint onto `backend`, one tensor at a time (read, convert, upload, drop):
 * host memory never holds more than one tensor. The layout (original or diffusers) is
 * detected from the keys. Every tensor the config needs must be present with its exact
 * shape and nothing else may be (like load_state_dict(strict=True)); errors name the key.
 */
export async function loadWanWeights(source: WeightSource, backend: Backend, config: WanConfig, opts: LoadWeightsOptions = {}): Promise<WanWeights> {
  const compute = opts.compute ?? 'f32';
  if (!backend.floatDTypes.includes(compute)) throw new WanWeightsError(`compute dtype ${compute} is not one the ${backend.name} backend accepts (${backend.floatDTypes.join(', ')})`);
  const layout = detectLayout(source.names, source.where);
  const expected = wanWeightShapes(config);
  const fileKeyOf = new Map<string, string>();
  for (const name of expected.keys()) fileKeyOf.set(name, translateKey(name, 'original', layout) as string);
  const wanted = new Set(fileKeyOf.values());
  const unexpected = source.names.filter((k) => !wanted.has(k));
  if (unexpected.length)
    throw new WanWeightsError(
      `${source.where}: ${unexpected.length} tensor(s) not part of a ${config.name} DiT in the ${layout} layout (first: ${unexpected.slice(0, 3).join(', ')})`,
      unexpected[0],
    );
  for (const [name, key] of fileKeyOf) {
    const info = source.info(key);
    if (!info) throw new WanWeightsError(`${source.where}: missing (the ${config.name} DiT needs ${name} [${(expected.get(name) as number[]).join(', ')}])`, key);
    const shape = expected.get(name) as number[];
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))
      throw new WanWeightsError(`${source.where}: shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] for ${config.name}`, key);
    if (info.dtype !== 'f32' && info.dtype !== 'bf16' && info.dtype !== 'f16')
      throw new WanWeightsError(`${source.where}: dtype ${info.fileDtype}, expected F32, BF16 or F16`, key);
  }

  const originalOf = new Map([...fileKeyOf].map(([n, k]) => [k, n]));
  const tensors = new Map<string, Tensor>();
  try {
    let i = 0;
    for (const key of source.names) {
      const name = originalOf.get(key) as string;
      const loaded = await source.read(key);
      const target = isF32Param(name) ? 'f32' : compute;
      tensors.set(name, uploadAs(backend, loaded.data, loaded.shape, loaded.dtype, target));
      opts.onTensor?.(name, i++, source.names.length);
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return new WanWeights(config, layout, compute, tensors);
}

/** Uploads host data as `target`: directly, through a device cast, or through a host conversion when the backend cannot hold the file dtype. */
function uploadAs(backend: Backend, data: Parameters<Backend['upload']>[0], shape: readonly number[], from: DType, target: DType): Tensor {
  if (from === target) return backend.upload(data, shape, from);
  if (backend.floatDTypes.includes(from)) {
    const raw = backend.upload(data, shape, from);
    const out = backend.cast(raw, target);
    raw.dispose();
    return out;
  }
  return backend.upload(fromNumbers(toFloat32(data, from), target), shape, target);
}
