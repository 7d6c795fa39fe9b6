import { SnapshotError } from './errors.js';

// Typed arrays <-> base64 of their little-endian bytes, for JSON snapshots. btoa/atob exist
// in Node >= 16 and browsers; bytes go through in chunks to keep argument lists short.

type Typed = Float64Array | Float32Array | Int32Array | Uint8Array;

/** Base64 of the array's raw bytes (bit-exact, NaN payloads included). */
export function encodeBase64(a: Typed): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Decodes {@link encodeBase64} output into a fresh array of the given type. */
export function decodeBase64<T extends Typed>(s: string, Ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }, what: string): T {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new SnapshotError(`${what}: not valid base64`);
  }
  if (bin.length % Ctor.BYTES_PER_ELEMENT !== 0) throw new SnapshotError(`${what}: ${bin.length} bytes is not a whole number of ${Ctor.BYTES_PER_ELEMENT}-byte elements`);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Ctor(bytes.buffer);
}
