import { readdir, stat, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { SafetensorsError } from '../errors.js';
import { SafetensorsFile, type LoadedTensor } from './file.js';
import { MAX_HEADER_BYTES, type SafetensorsTensorInfo } from './header.js';
import { isJsonObject, parseJsonObject } from './strict-json.js';

const INDEX_SUFFIX = '.safetensors.index.json';
const FILE_SUFFIX = '.safetensors';

/** A tensor of a checkpoint and the shard file that holds it. */
export interface CheckpointTensorInfo extends SafetensorsTensorInfo {
  readonly file: string;
}

/**
 * A model checkpoint: one .safetensors file, or shards tied together by a
 * `*.safetensors.index.json` (`{"weight_map": {tensor: shardFile}}`). Opening validates every
 * shard header and the index against them; tensors are read one at a time on demand.
 */
export class Checkpoint {
  private constructor(
    /** The file or index json the checkpoint was opened from. */
    readonly path: string,
    /** The shard files, in index order (one entry for a single file). */
    readonly files: readonly string[],
    /** The file's `__metadata__`, or the index json's `metadata` object. */
    readonly metadata: Readonly<Record<string, unknown>>,
    /** Every tensor with its shard, grouped by file in data order. */
    readonly tensors: ReadonlyMap<string, CheckpointTensorInfo>,
    private readonly shards: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  /**
   * Opens a .safetensors file, an index json, or a directory holding exactly one index json
   * (or else exactly one .safetensors file). Throws SafetensorsError naming the file, the
   * tensor and the problem when anything is missing, malformed or inconsistent.
   */
  static async open(pathOrDir: string): Promise<Checkpoint> {
    const path = await resolveCheckpointPath(pathOrDir);
    if (!path.endsWith('.json')) {
      const file = await SafetensorsFile.open(path);
      const tensors = new Map([...file.tensors].map(([name, info]) => [name, { ...info, file: path }]));
      return new Checkpoint(path, [path], file.metadata, tensors, new Map([[path, file]]));
    }
    const index = await readIndex(path);
    const shards = new Map<string, SafetensorsFile>();
    try {
      for (const [shard, firstTensor] of [...index.shards].sort()) {
        try {
          await stat(shard);
        } catch {
          throw new SafetensorsError(path, `the index maps this tensor to shard ${shard}, which does not exist`, firstTensor);
        }
        shards.set(shard, await SafetensorsFile.open(shard));
      }
      const tensors = new Map<string, CheckpointTensorInfo>();
      for (const [shard, file] of shards) {
        for (const [name, info] of file.tensors) {
          const listed = index.weightMap.get(name);
          if (listed !== shard) {
            const where = listed ? `the index maps it to ${listed}` : 'the index does not list it';
            throw new SafetensorsError(shard, `tensor is in this shard but ${where}`, name);
          }
          tensors.set(name, { ...info, file: shard });
        }
      }
      for (const [name, shard] of index.weightMap) {
        if (!tensors.has(name)) throw new SafetensorsError(path, `listed in the index for ${shard} but absent from that shard`, name);
      }
      return new Checkpoint(path, [...shards.keys()], index.metadata, tensors, shards);
    } catch (e) {
      await Promise.all([...shards.values()].map((f) => f.close()));
      throw e;
    }
  }

  /** Reads one tensor from its shard (see SafetensorsFile.read). */
  async read(name: string): Promise<LoadedTensor> {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, 'no such tensor in the checkpoint', name);
    return (this.shards.get(info.file) as SafetensorsFile).read(name);
  }

  /** Closes every shard. */
  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((f) => f.close()));
  }
}

/** Directory -> its index json or single .safetensors file; files are returned as given. */
async function resolveCheckpointPath(pathOrDir: string): Promise<string> {
  let isDir: boolean;
  try {
    isDir = (await stat(pathOrDir)).isDirectory();
  } catch (e) {
    throw new SafetensorsError(pathOrDir, `cannot open: ${(e as Error).message}`);
  }
  if (!isDir) return pathOrDir;
  const names = (await readdir(pathOrDir)).sort();
  const indexes = names.filter((n) => n.endsWith(INDEX_SUFFIX));
  if (indexes.length === 1) return join(pathOrDir, indexes[0]);
  if (indexes.length > 1) throw new SafetensorsError(pathOrDir, `several index files (${indexes.join(', ')}); open one of them`);
  const files = names.filter((n) => n.endsWith(FILE_SUFFIX));
  if (files.length === 1) return join(pathOrDir, files[0]);
  if (files.length === 0) throw new SafetensorsError(pathOrDir, `no ${FILE_SUFFIX} file or *${INDEX_SUFFIX} in this directory`);
  throw new SafetensorsError(pathOrDir, `${files.length} ${FILE_SUFFIX} files but no *${INDEX_SUFFIX} to tie them together`);
}

interface Index {
  metadata: Record<string, unknown>;
  /** tensor -> absolute-or-relative shard path (joined to the index's directory). */
  weightMap: Map<string, string>;
  /** shard path -> the first tensor the index maps to it (to name in errors). */
  shards: Map<string, string>;
}

async function readIndex(path: string): Promise<Index> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
  }
  if (size > MAX_HEADER_BYTES) throw new SafetensorsError(path, `index is ${size} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  const root = parseJsonObject(await readFile(path, 'utf8'), path, 'index');
  const map = root.weight_map;
  if (!isJsonObject(map)) throw new SafetensorsError(path, 'index has no weight_map object');
  const metadata = root.metadata ?? {};
  if (!isJsonObject(metadata)) throw new SafetensorsError(path, 'index metadata is not an object');

  const weightMap = new Map<string, string>();
  const shards = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard === '' || isAbsolute(shard) || normalize(shard).split(sep).includes('..')) {
      throw new SafetensorsError(path, `weight_map entry ${JSON.stringify(shard)} is not a shard file name next to the index`, name);
    }
    const shardPath = join(dirname(path), shard);
    weightMap.set(name, shardPath);
    if (!shards.has(shardPath)) shards.set(shardPath, name);
  }
  if (weightMap.size === 0) throw new SafetensorsError(path, 'index weight_map lists no tensors');
  return { metadata, weightMap, shards };
}
