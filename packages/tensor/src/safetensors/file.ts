import { open, type FileHandle } from 'node:fs/promises';
import { DTypeError, SafetensorsError } from '../errors.js';
import { hostFromBytes, type DType, type HostArray } from '../dtype.js';
import { HEADER_PREFIX_BYTES, parseHeader, parseHeaderLength, type SafetensorsTensorInfo } from './header.js';
import { SAFETENSORS_DTYPE_OF } from './dtypes.js';

/** A tensor read from disk: dtype, shape and its elements (f16/bf16 as raw u16 bits). */
export interface LoadedTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: HostArray;
}

/**
 * One open .safetensors file. Opening reads only the 8-byte length and the JSON header;
 * `read(name)` then reads exactly that tensor's byte range, so a 57 GB checkpoint costs
 * memory only for the tensors actually read. Call `close()` when done.
 */
export class SafetensorsFile {
  private constructor(
    /** The path the file was opened with. */
    readonly path: string,
    /** The header's `__metadata__` string map. */
    readonly metadata: Readonly<Record<string, string>>,
    /** Every tensor in the file, in data order. */
    readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Opens and validates `path`. Throws SafetensorsError (naming the file, the tensor and
   * the problem) for a missing, truncated or malformed file.
   */
  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
    }
    try {
      const { size } = await handle.stat();
      const prefix = await readExactly(handle, path, 0, Math.min(size, HEADER_PREFIX_BYTES));
      const headerLength = parseHeaderLength(prefix, size, path);
      const header = parseHeader(await readExactly(handle, path, HEADER_PREFIX_BYTES, headerLength), size, path);
      return new SafetensorsFile(path, header.metadata, header.tensors, handle);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /**
   * Reads one tensor. Throws SafetensorsError for a name not in the file and DTypeError for
   * a dtype the format allows but our tensors cannot hold (F64, I64, F8_*, ...).
   */
  async read(name: string): Promise<LoadedTensor> {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, 'no such tensor in the file', name);
    if (!info.dtype) {
      const readable = Object.values(SAFETENSORS_DTYPE_OF).join(', ');
      throw new DTypeError(`${this.path} [${name}]: unsupported dtype ${info.fileDtype} (read() supports ${readable})`);
    }
    const bytes = await readExactly(this.handle, this.path, info.byteOffset, info.byteLength, name);
    return { dtype: info.dtype, shape: info.shape, data: hostFromBytes(info.dtype, bytes) };
  }

  /** Closes the file handle; `read()` fails afterwards. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}

// fs reads are capped near 2 GiB per call; bigger tensors are read in chunks.
const MAX_READ_BYTES = 2 ** 30;

/** Reads `length` bytes at `position` into a fresh (hence aligned) buffer; a short read means the file shrank. */
async function readExactly(handle: FileHandle, file: string, position: number, length: number, tensor?: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, Math.min(length - done, MAX_READ_BYTES), position + done);
    if (bytesRead === 0) throw new SafetensorsError(file, `truncated: expected ${length} bytes at offset ${position}, got ${done}`, tensor);
    done += bytesRead;
  }
  return out;
}
