import type { DType } from '../dtype.js';
import { SafetensorsError } from '../errors.js';
import { SAFETENSORS_DTYPE_BITS, SAFETENSORS_DTYPE_RANK, dtypeFromSafetensors, isSafetensorsDType, type SafetensorsDType } from './dtypes.js';
import { isJsonObject, parseJsonObject } from './strict-json.js';

/**
 * The safetensors header, parsed and validated without any file I/O so a browser (fetch +
 * Range requests) can reuse it. Layout: u64 little-endian header length N, N bytes of UTF-8
 * JSON, then the data section, which the tensors' `data_offsets` must cover exactly.
 */

/** Bytes of the little-endian u64 that starts every file. */
export const HEADER_PREFIX_BYTES = 8;

/** Largest header we accept (the reference implementation's limit): refused before allocating. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

/** Where one tensor lives in a safetensors file and what it holds. */
export interface SafetensorsTensorInfo {
  /** The dtype `read()` returns, or undefined when the file's dtype is listed but not loadable. */
  readonly dtype: DType | undefined;
  /** The dtype string as written in the file (`F32`, `BF16`, `F8_E4M3`, ...). */
  readonly fileDtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Absolute offset of the tensor's first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** The free-form `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file (data offset) order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Absolute offset of the data section: 8 + header length. */
  readonly dataOffset: number;
}

/**
 * Reads the header length from the file's first bytes and checks it against the file size.
 * Throws SafetensorsError for a file under 8 bytes, a length past the end of the file, or a
 * length over MAX_HEADER_BYTES, so callers never allocate an attacker-chosen buffer.
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < HEADER_PREFIX_BYTES || prefix.byteLength < HEADER_PREFIX_BYTES) {
    throw new SafetensorsError(file, `truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, HEADER_PREFIX_BYTES);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (length > MAX_HEADER_BYTES) {
    throw new SafetensorsError(file, `header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (HEADER_PREFIX_BYTES + length > fileSize) {
    throw new SafetensorsError(file, `header length ${length} runs past the end of the file (${fileSize} bytes)`);
  }
  return length;
}

/**
 * Parses and validates the JSON header. Strict like the reference implementation: every
 * entry needs a known dtype, a shape of non-negative integers and in-range offsets whose
 * size matches shape x dtype, and the tensors must tile the data section with no gap,
 * overlap or trailing bytes. Errors name the file, the tensor and the problem.
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataOffset = HEADER_PREFIX_BYTES + headerBytes.byteLength;
  const dataBytes = fileSize - dataOffset;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  const json = parseJsonObject(text, file, 'header');

  const metadata = parseMetadata(json[METADATA_KEY], file);
  const entries: [string, SafetensorsTensorInfo & { begin: number; end: number }][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) continue;
    entries.push([name, parseEntry(name, value, dataOffset, dataBytes, file)]);
  }
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let covered = 0;
  let previous = '';
  for (const [name, info] of entries) {
    if (info.begin < covered) {
      throw new SafetensorsError(file, `data_offsets [${info.begin}, ${info.end}] overlap tensor ${previous} (ends at ${covered})`, name);
    }
    if (info.begin > covered) {
      throw new SafetensorsError(file, `gap of ${info.begin - covered} uncovered bytes in the data section before this tensor (at ${covered})`, name);
    }
    covered = info.end;
    previous = name;
  }
  if (covered !== dataBytes) {
    throw new SafetensorsError(file, `${dataBytes - covered} trailing bytes of the data section are not covered by any tensor`);
  }
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, { dtype, fileDtype, shape, byteOffset, byteLength }] of entries) {
    tensors.set(name, { dtype, fileDtype, shape, byteOffset, byteLength });
  }
  return { metadata, tensors, dataOffset };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isJsonObject(value)) {
    throw new SafetensorsError(file, `${METADATA_KEY} is not an object of strings`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `${METADATA_KEY}.${k} is ${typeof v}, expected a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, dataOffset: number, dataBytes: number, file: string) {
  if (!isJsonObject(value)) throw new SafetensorsError(file, 'header entry is not an object', name);
  const { dtype, shape, data_offsets: offsets } = value;
  if (dtype === undefined) throw new SafetensorsError(file, 'missing dtype', name);
  if (!isSafetensorsDType(dtype)) throw new SafetensorsError(file, `unknown dtype ${JSON.stringify(dtype)}`, name);
  if (!Array.isArray(shape)) throw new SafetensorsError(file, `missing or invalid shape ${JSON.stringify(shape)}`, name);
  let bits = SAFETENSORS_DTYPE_BITS[dtype];
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new SafetensorsError(file, `invalid shape [${shape.join(', ')}]: extent ${JSON.stringify(d)}`, name);
    bits *= d;
  }
  if (!Number.isSafeInteger(bits)) throw new SafetensorsError(file, `shape [${shape.join(', ')}] is too large to address`, name);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(file, `missing or invalid data_offsets ${JSON.stringify(offsets)}`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataBytes) {
    throw new SafetensorsError(file, `data_offsets [${begin}, ${end}] run past the end of the data section (${dataBytes} bytes; file truncated?)`, name);
  }
  if (bits !== (end - begin) * 8) {
    const expected = bits % 8 === 0 ? `${bits / 8} bytes` : `${bits} bits (not a whole number of bytes)`;
    throw new SafetensorsError(file, `shape [${shape.join(', ')}] x ${dtype} needs ${expected} but data_offsets span ${end - begin}`, name);
  }
  return {
    dtype: dtypeFromSafetensors(dtype),
    fileDtype: dtype,
    shape: shape as number[],
    byteOffset: dataOffset + begin,
    byteLength: end - begin,
    begin,
    end,
  };
}

/** One tensor to lay out in a new file. */
export interface SafetensorsLayoutEntry {
  readonly name: string;
  readonly fileDtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/**
 * Lays out a file byte for byte as the reference writer does: tensors ordered by dtype,
 * last in the format's enum order first (so widest first, keeping every tensor aligned to
 * its element size), then by name; the header JSON padded with spaces so the data section
 * starts on an 8-byte boundary. Returns the 8-byte prefix + header and the entries in data order.
 */
export function layoutSafetensors(
  entries: readonly SafetensorsLayoutEntry[],
  metadata: Readonly<Record<string, string>> | undefined,
): { header: Uint8Array; order: SafetensorsLayoutEntry[] } {
  const order = [...entries].sort(
    (a, b) => SAFETENSORS_DTYPE_RANK[b.fileDtype] - SAFETENSORS_DTYPE_RANK[a.fileDtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  // Null prototype: a tensor named "__proto__" must become a key, not a prototype change.
  const json: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) json[METADATA_KEY] = metadata;
  let offset = 0;
  for (const e of order) {
    json[e.name] = { dtype: e.fileDtype, shape: e.shape, data_offsets: [offset, offset + e.byteLength] };
    offset += e.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.byteLength / 8) * 8;
  const header = new Uint8Array(HEADER_PREFIX_BYTES + padded).fill(0x20, HEADER_PREFIX_BYTES);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, HEADER_PREFIX_BYTES);
  return { header, order };
}
