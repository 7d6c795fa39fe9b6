import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A deliberately independent safetensors encoder for tests: it writes whatever header text
 * and data it is given (valid or not), so reader bugs cannot hide behind a symmetric writer bug.
 */
export function encodeRaw(headerText: string, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(header.length));
  return Buffer.concat([prefix, header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A fresh temp directory for one test. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mod-dit-st-'));
}

/** Writes `bytes` to `dir/name` and returns the path. */
export function put(dir: string, name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
