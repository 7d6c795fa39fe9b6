import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint, SafetensorsFile, writeSafetensors } from '../src/safetensors.js';
import { SafetensorsError } from '../src/errors.js';
import { Rng } from '../src/random.js';
import { encodeRaw, put, tempDir } from './safetensors-encoder.js';

/** Random non-constant payload bytes. */
function payload(n: number, seed = n): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.nextU32() & 0xff);
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

interface Case {
  name: string;
  bytes: () => Uint8Array;
  tensor?: string;
  problem: string;
}

const CASES: Case[] = [
  { name: 'empty file', bytes: () => new Uint8Array(0), problem: 'truncated: 0 bytes' },
  { name: 'shorter than the length prefix', bytes: () => payload(5), problem: 'truncated: 5 bytes' },
  { name: 'header length past the end', bytes: () => encodeRaw('{}', payload(4), 64n), problem: 'header length 64 runs past the end of the file (14 bytes)' },
  { name: 'absurd header length', bytes: () => encodeRaw('{}', new Uint8Array(0), 1n << 50n), problem: 'exceeds the 100000000-byte limit' },
  { name: 'header length just over the limit', bytes: () => encodeRaw('{}', new Uint8Array(0), 100_000_001n), problem: 'exceeds' },
  { name: 'invalid JSON', bytes: () => encodeRaw('{"a": {"dtype": "F32",'), problem: 'header is not valid JSON' },
  { name: 'invalid UTF-8', bytes: () => Buffer.concat([encodeRaw('', new Uint8Array(0), 4n), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), problem: 'not valid UTF-8' },
  { name: 'header is an array', bytes: () => encodeRaw('[1, 2]'), problem: 'header JSON is not an object' },
  { name: 'header is a number', bytes: () => encodeRaw('42'), problem: 'header JSON is not an object' },
  { name: 'entry not an object', bytes: () => encodeRaw('{"w": 3}'), tensor: 'w', problem: 'header entry is not an object' },
  { name: 'missing dtype', bytes: () => encodeRaw(JSON.stringify({ w: { shape: [1], data_offsets: [0, 4] } }), payload(4)), tensor: 'w', problem: 'missing dtype' },
  { name: 'unknown dtype', bytes: () => encodeRaw(JSON.stringify({ w: entry('F31', [1], [0, 4]) }), payload(4)), tensor: 'w', problem: 'unknown dtype "F31"' },
  { name: 'lower-case dtype', bytes: () => encodeRaw(JSON.stringify({ w: entry('f32', [1], [0, 4]) }), payload(4)), tensor: 'w', problem: 'unknown dtype "f32"' },
  { name: 'missing shape', bytes: () => encodeRaw(JSON.stringify({ w: { dtype: 'F32', data_offsets: [0, 4] } }), payload(4)), tensor: 'w', problem: 'missing or invalid shape' },
  { name: 'negative dim', bytes: () => encodeRaw(JSON.stringify({ w: entry('F32', [2, -1], [0, 4]) }), payload(4)), tensor: 'w', problem: 'invalid shape [2, -1]: extent -1' },
  { name: 'fractional dim', bytes: () => encodeRaw(JSON.stringify({ w: entry('F32', [1.5], [0, 4]) }), payload(4)), tensor: 'w', problem: 'extent 1.5' },
  { name: 'missing data_offsets', bytes: () => encodeRaw(JSON.stringify({ w: { dtype: 'F32', shape: [1] } }), payload(4)), tensor: 'w', problem: 'missing or invalid data_offsets' },
  { name: 'reversed data_offsets', bytes: () => encodeRaw(JSON.stringify({ w: entry('U8', [0], [4, 0]) }), payload(4)), tensor: 'w', problem: 'invalid data_offsets [4,0]' },
  { name: 'three data_offsets', bytes: () => encodeRaw(JSON.stringify({ w: entry('U8', [4], [0, 4, 8]) }), payload(8)), tensor: 'w', problem: 'invalid data_offsets' },
  {
    name: 'offsets out of range',
    bytes: () => encodeRaw(JSON.stringify({ w: entry('F32', [4], [0, 16]) }), payload(12)),
    tensor: 'w',
    problem: 'data_offsets [0, 16] run past the end of the data section (12 bytes',
  },
  {
    name: 'data truncated after the header',
    bytes: () => encodeRaw(JSON.stringify({ a: entry('F32', [2], [0, 8]), b: entry('F32', [3], [8, 20]) }), payload(11)),
    tensor: 'b',
    problem: 'run past the end of the data section (11 bytes; file truncated?)',
  },
  {
    name: 'overlapping tensors',
    bytes: () => encodeRaw(JSON.stringify({ a: entry('F32', [3], [0, 12]), b: entry('F32', [2], [8, 16]) }), payload(16)),
    tensor: 'b',
    problem: 'overlap tensor a (ends at 12)',
  },
  {
    name: 'gap between tensors',
    bytes: () => encodeRaw(JSON.stringify({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }), payload(12)),
    tensor: 'b',
    problem: 'gap of 4 uncovered bytes',
  },
  {
    name: 'trailing data not covered',
    bytes: () => encodeRaw(JSON.stringify({ a: entry('F32', [2], [0, 8]) }), payload(13)),
    problem: '5 trailing bytes of the data section are not covered',
  },
  {
    name: 'shape x dtype size mismatch',
    bytes: () => encodeRaw(JSON.stringify({ w: entry('BF16', [3, 3], [0, 16]) }), payload(16)),
    tensor: 'w',
    problem: 'shape [3, 3] x BF16 needs 18 bytes but data_offsets span 16',
  },
  {
    name: 'shape too large to address',
    bytes: () => encodeRaw(JSON.stringify({ w: entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 4]) }), payload(4)),
    tensor: 'w',
    problem: 'is too large to address',
  },
  {
    name: 'sub-byte dtype not filling whole bytes',
    bytes: () => encodeRaw(JSON.stringify({ w: entry('F4', [3], [0, 2]) }), payload(2)),
    tensor: 'w',
    problem: 'needs 12 bits (not a whole number of bytes)',
  },
  {
    name: 'tensor listed twice',
    bytes: () => encodeRaw('{"w": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "w": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}', payload(4)),
    tensor: 'w',
    problem: 'listed twice in the header',
  },
  { name: 'metadata not strings', bytes: () => encodeRaw(JSON.stringify({ __metadata__: { n: 3 } })), problem: '__metadata__.n is number, expected a string' },
  { name: 'metadata not an object', bytes: () => encodeRaw(JSON.stringify({ __metadata__: 'x' })), problem: '__metadata__ is not an object' },
];

describe('malformed safetensors files', () => {
  const dir = tempDir();
  for (const c of CASES) {
    it(`${c.name} -> SafetensorsError`, async () => {
      const path = put(dir, `${c.name.replace(/\W+/g, '-')}.safetensors`, c.bytes());
      const err = await SafetensorsFile.open(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SafetensorsError);
      const e = err as SafetensorsError;
      expect(e.file).toBe(path);
      expect(e.tensor).toBe(c.tensor);
      expect(e.message).toContain(c.problem);
      expect(e.message).toContain(path);
    });
  }

  it('a missing file names the path', async () => {
    const path = join(dir, 'nope.safetensors');
    await expect(SafetensorsFile.open(path)).rejects.toMatchObject({ name: 'SafetensorsError', file: path, message: expect.stringContaining('cannot open') });
    await expect(Checkpoint.open(path)).rejects.toMatchObject({ name: 'SafetensorsError', file: path });
  });
});

describe('malformed sharded checkpoints', () => {
  async function checkpointDir(weightMap: Record<string, string> | string): Promise<string> {
    const d = tempDir();
    await writeSafetensors(join(d, 's1.safetensors'), { a: { dtype: 'u8', shape: [3], data: payload(3, 1) }, b: { dtype: 'u8', shape: [2], data: payload(2, 2) } });
    await writeSafetensors(join(d, 's2.safetensors'), { c: { dtype: 'u8', shape: [4], data: payload(4, 3) } });
    writeFileSync(join(d, 'm.safetensors.index.json'), typeof weightMap === 'string' ? weightMap : JSON.stringify({ weight_map: weightMap }));
    return d;
  }
  const index = (d: string) => join(d, 'm.safetensors.index.json');

  const cases: { name: string; map: Record<string, string> | string; file: (d: string) => string; tensor?: string; problem: string }[] = [
    { name: 'index is not JSON', map: '{"weight_map": ', file: index, problem: 'index is not valid JSON' },
    { name: 'index without weight_map', map: '{"metadata": {}}', file: index, problem: 'index has no weight_map object' },
    { name: 'empty weight_map', map: '{"weight_map": {}}', file: index, problem: 'index weight_map lists no tensors' },
    { name: 'index is an array', map: '[]', file: index, problem: 'index JSON is not an object' },
    {
      name: 'duplicate key in the index',
      map: '{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors", "a": "s2.safetensors"}}',
      file: index,
      tensor: 'a',
      problem: 'listed twice in the index',
    },
    { name: 'missing shard', map: { a: 's1.safetensors', b: 's1.safetensors', c: 's3.safetensors' }, file: index, tensor: 'c', problem: 's3.safetensors, which does not exist' },
    { name: 'shard outside the directory', map: { a: '../s1.safetensors' }, file: index, tensor: 'a', problem: 'is not a shard file name next to the index' },
    {
      name: 'tensor in the index absent from its shard',
      map: { a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors', d: 's2.safetensors' },
      file: index,
      tensor: 'd',
      problem: 'listed in the index for',
    },
    {
      name: 'tensor mapped to the wrong shard',
      map: { a: 's1.safetensors', b: 's2.safetensors', c: 's2.safetensors' },
      file: (d) => join(d, 's1.safetensors'),
      tensor: 'b',
      problem: 'the index maps it to',
    },
    { name: 'tensor missing from the index', map: { a: 's1.safetensors', c: 's2.safetensors' }, file: (d) => join(d, 's1.safetensors'), tensor: 'b', problem: 'the index does not list it' },
  ];
  for (const c of cases) {
    it(`${c.name} -> SafetensorsError`, async () => {
      const d = await checkpointDir(c.map);
      const err = await Checkpoint.open(d).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SafetensorsError);
      expect(err).toMatchObject({ file: c.file(d), tensor: c.tensor, message: expect.stringContaining(c.problem) });
    });
  }

  it('a malformed shard reports the shard', async () => {
    const d = await checkpointDir({ a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors' });
    writeFileSync(join(d, 's2.safetensors'), encodeRaw('{"c": 1}'));
    await expect(Checkpoint.open(d)).rejects.toMatchObject({ file: join(d, 's2.safetensors'), tensor: 'c' });
  });

  it('directories without a single checkpoint are refused', async () => {
    const empty = tempDir();
    await expect(Checkpoint.open(empty)).rejects.toMatchObject({ file: empty, message: expect.stringContaining('no .safetensors file') });
    const two = tempDir();
    await writeSafetensors(join(two, 'x.safetensors'), { a: { dtype: 'u8', shape: [1], data: payload(1) } });
    await writeSafetensors(join(two, 'y.safetensors'), { a: { dtype: 'u8', shape: [1], data: payload(1) } });
    await expect(Checkpoint.open(two)).rejects.toMatchObject({ message: expect.stringContaining('2 .safetensors files but no') });
    mkdirSync(join(two, 'sub'));
    writeFileSync(join(two, 'a.safetensors.index.json'), '{}');
    writeFileSync(join(two, 'b.safetensors.index.json'), '{}');
    await expect(Checkpoint.open(two)).rejects.toMatchObject({ message: expect.stringContaining('several index files') });
  });
});
