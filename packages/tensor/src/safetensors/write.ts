import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DTYPE_BYTES, DTYPES, type DType, type HostArray } from '../dtype.js';
import { SafetensorsError } from '../errors.js';
import { layoutSafetensors } from './header.js';
import { SAFETENSORS_DTYPE_OF } from './dtypes.js';

/** A tensor to write: f16/bf16 data are raw u16 bits, like Tensor storage. */
export interface TensorToWrite {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: HostArray;
}

const HOST_ARRAY_OF: Readonly<Record<DType, { readonly name: string; [Symbol.hasInstance](x: unknown): boolean }>> = {
  f32: Float32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i32: Int32Array,
  u8: Uint8Array,
};

/**
 * Writes a .safetensors file atomically: everything goes to a temporary file in the target's
 * directory, which is fsynced and renamed over `path` only when complete; on any failure the
 * temporary file is removed, so `path` is either the old file or the complete new one.
 * Throws SafetensorsError naming the tensor when a dtype, shape or data length is invalid.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const entries = Object.entries(tensors).map(([name, t]) => {
    validate(path, name, t);
    return { name, fileDtype: SAFETENSORS_DTYPE_OF[t.dtype], shape: t.shape, byteLength: t.data.byteLength, data: t.data };
  });
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new SafetensorsError(path, `metadata ${k} is ${typeof v}, expected a string`);
  }
  const { header, order } = layoutSafetensors(entries, metadata);
  const dataOf = new Map(entries.map((e) => [e.name, e.data]));

  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx');
  } catch (e) {
    throw new SafetensorsError(path, `cannot create a temporary file next to it: ${(e as Error).message}`);
  }
  try {
    await handle.write(header);
    for (const e of order) {
      const data = dataOf.get(e.name) as HostArray;
      await handle.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw new SafetensorsError(path, `write failed, nothing written: ${(e as Error).message}`);
  }
}

function validate(path: string, name: string, t: TensorToWrite): void {
  if (name === '__metadata__' || name === '') throw new SafetensorsError(path, 'reserved or empty tensor name', name);
  if (!DTYPES.includes(t.dtype)) throw new SafetensorsError(path, `unknown dtype ${JSON.stringify(t.dtype)}`, name);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(path, `invalid shape ${JSON.stringify(t.shape)}`, name);
  }
  const expectedType = HOST_ARRAY_OF[t.dtype];
  if (!(t.data instanceof expectedType)) {
    throw new SafetensorsError(path, `${t.dtype} data must be a ${expectedType.name}, got ${t.data?.constructor?.name ?? typeof t.data}`, name);
  }
  const elements = t.shape.reduce((a, d) => a * d, 1);
  if (t.data.length !== elements) {
    throw new SafetensorsError(
      path,
      `shape [${t.shape.join(', ')}] needs ${elements} elements (${elements * DTYPE_BYTES[t.dtype]} bytes) but data has ${t.data.length}`,
      name,
    );
  }
}
