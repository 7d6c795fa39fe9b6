import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Checkpoint, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../src/safetensors.js';
import { Rng } from '../src/random.js';
import { DTYPES, DTYPE_BYTES, type DType, type HostArray } from '../src/dtype.js';
import { encodeRaw, put, tempDir } from './safetensors-encoder.js';

const FILE_DTYPE: Record<DType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16', i32: 'I32', u8: 'U8' };
const SHAPES = [[], [1], [7], [3, 5], [2, 1, 3], [0, 4], [1, 1, 1, 9]];

/** Random bit patterns (NaN payloads, subnormals, infinities included): the round trip must be bit-exact. */
function randomTensor(rng: Rng, dtype: DType, shape: number[]): TensorToWrite {
  const n = shape.reduce((a, d) => a * d, 1);
  const bytes = new Uint8Array(n * DTYPE_BYTES[dtype]);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextU32() & 0xff;
  const view: Record<DType, (b: ArrayBuffer) => HostArray> = {
    f32: (b) => new Float32Array(b),
    f16: (b) => new Uint16Array(b),
    bf16: (b) => new Uint16Array(b),
    i32: (b) => new Int32Array(b),
    u8: (b) => new Uint8Array(b),
  };
  return { dtype, shape, data: view[dtype](bytes.buffer) };
}

function bytesOf(a: HostArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const dirs: string[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((f) => f.close()));
});

describe('safetensors round trip', () => {
  it('writes and reads every dtype and awkward shape bit-exactly', async () => {
    const rng = new Rng(20261127);
    const tensors: Record<string, TensorToWrite> = {};
    for (const dtype of DTYPES) for (const shape of SHAPES) tensors[`${dtype}.${shape.join('x') || 'scalar'}`] = randomTensor(rng, dtype, shape);
    const path = join(dir(), 'all.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'round trip' });

    const file = await SafetensorsFile.open(path);
    opened.push(file);
    expect(file.metadata).toEqual({ format: 'pt', note: 'round trip' });
    expect([...file.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = await file.read(name);
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(got.data.constructor, name).toBe(t.data.constructor);
      expect(bytesOf(got.data), name).toEqual(bytesOf(t.data));
      expect(file.tensors.get(name)?.fileDtype).toBe(FILE_DTYPE[t.dtype]);
    }
  });

  it('lays files out as the format requires, checked by an independent decoder', async () => {
    const rng = new Rng(7);
    const tensors: Record<string, TensorToWrite> = {
      'z.u8': randomTensor(rng, 'u8', [3]),
      'a.bf16': randomTensor(rng, 'bf16', [5]),
      'm.f32': randomTensor(rng, 'f32', [2, 3]),
      'b.i32': randomTensor(rng, 'i32', [1]),
      'é "quoted" \\ name': randomTensor(rng, 'f16', [3]),
    };
    const path = join(dir(), 'layout.safetensors');
    await writeSafetensors(path, tensors);
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    expect(header.__metadata__).toBeUndefined();
    // Dtypes in reverse enum order of the reference (F32, I32, BF16, F16, U8), then by name;
    // contiguous from 0 to the end of the file.
    const order = Object.entries(header as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>).sort(
      (a, b) => a[1].data_offsets[0] - b[1].data_offsets[0],
    );
    expect(order.map(([k]) => k)).toEqual(['m.f32', 'b.i32', 'a.bf16', 'é "quoted" \\ name', 'z.u8']);
    let at = 0;
    for (const [name, e] of order) {
      expect(e.data_offsets[0]).toBe(at);
      const t = tensors[name];
      expect(e.dtype).toBe(FILE_DTYPE[t.dtype]);
      expect(e.shape).toEqual(t.shape);
      expect(new Uint8Array(buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]))).toEqual(bytesOf(t.data));
      at = e.data_offsets[1];
    }
    expect(8 + n + at).toBe(buf.length);
  });

  it('reads a file made by a hand-rolled encoder, including unaligned tensors and unsupported dtypes', async () => {
    const rng = new Rng(99);
    const u8 = Uint8Array.from({ length: 3 }, () => rng.nextU32() & 0xff);
    const f32 = Float32Array.from({ length: 5 }, () => rng.normal());
    const f64 = Float64Array.from({ length: 2 }, () => rng.normal());
    // u8 first so the f32 tensor sits at an odd offset: the reader must still return exact values.
    const data = new Uint8Array(3 + 20 + 16);
    data.set(u8, 0);
    data.set(new Uint8Array(f32.buffer), 3);
    data.set(new Uint8Array(f64.buffer), 23);
    const header = JSON.stringify({
      __metadata__: { source: 'hand' },
      bytes: { dtype: 'U8', shape: [3], data_offsets: [0, 3] },
      floats: { dtype: 'F32', shape: [5], data_offsets: [3, 23] },
      doubles: { dtype: 'F64', shape: [2, 1], data_offsets: [23, 39] },
    });
    const path = put(dir(), 'hand.safetensors', encodeRaw(header, data));
    const file = await SafetensorsFile.open(path);
    opened.push(file);
    expect(file.metadata).toEqual({ source: 'hand' });
    expect(Array.from((await file.read('bytes')).data)).toEqual(Array.from(u8));
    expect(Array.from((await file.read('floats')).data)).toEqual(Array.from(f32));
    const dbl = file.tensors.get('doubles');
    expect(dbl).toMatchObject({ dtype: undefined, fileDtype: 'F64', shape: [2, 1], byteLength: 16 });
    await expect(file.read('doubles')).rejects.toMatchObject({ name: 'DTypeError', message: expect.stringContaining('unsupported dtype F64') });
    await expect(file.read('nope')).rejects.toMatchObject({ name: 'SafetensorsError', tensor: 'nope' });
  });

  it('reads each tensor from its byte range only', async () => {
    // A file whose first tensor is 4 MiB: reading the small one must not touch it, so its
    // bytes can be anything. Deterministic check: the small tensor's absolute offset.
    const rng = new Rng(3);
    const big = randomTensor(rng, 'u8', [4 << 20]);
    const small = randomTensor(rng, 'f32', [3]);
    const path = join(dir(), 'big.safetensors');
    await writeSafetensors(path, { big, small });
    const file = await SafetensorsFile.open(path);
    opened.push(file);
    const info = file.tensors.get('small')!;
    const raw = readFileSync(path);
    expect(new Uint8Array(raw.subarray(info.byteOffset, info.byteOffset + info.byteLength))).toEqual(bytesOf(small.data));
    expect(bytesOf((await file.read('small')).data)).toEqual(bytesOf(small.data));
  });
});

describe('Checkpoint', () => {
  async function sharded(): Promise<{ d: string; tensors: Record<string, TensorToWrite> }> {
    const rng = new Rng(11);
    const d = dir();
    const tensors: Record<string, TensorToWrite> = {};
    const shards: Record<string, TensorToWrite>[] = [{}, {}, {}];
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 9; i++) {
      const name = `blocks.${i}.w`;
      tensors[name] = randomTensor(rng, DTYPES[i % DTYPES.length], [i + 1, 3]);
      shards[i % 3][name] = tensors[name];
      weightMap[name] = `model-0000${(i % 3) + 1}-of-00003.safetensors`;
    }
    for (let s = 0; s < 3; s++) await writeSafetensors(join(d, `model-0000${s + 1}-of-00003.safetensors`), shards[s]);
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }));
    return { d, tensors };
  }

  it('opens a sharded checkpoint from its directory or its index and reads every tensor', async () => {
    const { d, tensors } = await sharded();
    for (const target of [d, join(d, 'model.safetensors.index.json')]) {
      const ckpt = await Checkpoint.open(target);
      opened.push(ckpt);
      expect(ckpt.path).toBe(join(d, 'model.safetensors.index.json'));
      expect(ckpt.files).toEqual([1, 2, 3].map((s) => join(d, `model-0000${s}-of-00003.safetensors`)));
      expect(ckpt.metadata).toEqual({ total_size: 1 });
      expect([...ckpt.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        const i = Number(name.split('.')[1]);
        expect(ckpt.tensors.get(name)?.file).toBe(join(d, `model-0000${(i % 3) + 1}-of-00003.safetensors`));
        const got = await ckpt.read(name);
        expect(got.shape).toEqual(t.shape);
        expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
      }
    }
  });

  it('opens a single file directly or through its directory', async () => {
    const rng = new Rng(5);
    const d = dir();
    const t = randomTensor(rng, 'bf16', [3, 3]);
    const path = join(d, 'one.safetensors');
    await writeSafetensors(path, { w: t }, { k: 'v' });
    for (const target of [d, path]) {
      const ckpt = await Checkpoint.open(target);
      opened.push(ckpt);
      expect(ckpt.files).toEqual([path]);
      expect(ckpt.metadata).toEqual({ k: 'v' });
      expect(bytesOf((await ckpt.read('w')).data)).toEqual(bytesOf(t.data));
    }
  });
});

describe('writeSafetensors is atomic', () => {
  const leftovers = (d: string) => readdirSync(d).filter((n) => n.endsWith('.tmp'));

  it('rejects a data length that does not match the shape and leaves no file', async () => {
    const d = dir();
    const path = join(d, 'bad.safetensors');
    const good = randomTensor(new Rng(1), 'f32', [2, 2]);
    await expect(
      writeSafetensors(path, { good, bad: { dtype: 'f16', shape: [3, 3], data: new Uint16Array(8) } }),
    ).rejects.toMatchObject({ name: 'SafetensorsError', file: path, tensor: 'bad', message: expect.stringContaining('needs 9 elements') });
    await expect(
      writeSafetensors(path, { w: { dtype: 'f32', shape: [2], data: new Uint16Array(2) } }),
    ).rejects.toMatchObject({ tensor: 'w', message: expect.stringContaining('must be a Float32Array') });
    await expect(
      writeSafetensors(path, { w: { dtype: 'f32', shape: [-2], data: new Float32Array(2) } }),
    ).rejects.toMatchObject({ tensor: 'w', message: expect.stringContaining('invalid shape') });
    expect(readdirSync(d)).toEqual([]);
  });

  it('keeps the old file and removes the temp file when the final rename fails', async () => {
    const d = dir();
    // A non-empty directory at the target path: the temp file is fully written, then rename fails.
    const target = join(d, 'target.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    await expect(writeSafetensors(target, { w: randomTensor(new Rng(2), 'f32', [5]) })).rejects.toMatchObject({
      name: 'SafetensorsError',
      file: target,
      message: expect.stringContaining('write failed'),
    });
    expect(leftovers(d)).toEqual([]);
    expect(readdirSync(target)).toEqual(['keep']);
  });

  it('fails cleanly when the directory does not exist', async () => {
    const path = join(dir(), 'missing', 'x.safetensors');
    await expect(writeSafetensors(path, { w: randomTensor(new Rng(4), 'u8', [2]) })).rejects.toMatchObject({
      name: 'SafetensorsError',
      message: expect.stringContaining('cannot create a temporary file'),
    });
  });

  it('replaces an existing file only when the new one is complete', async () => {
    const d = dir();
    const path = join(d, 'm.safetensors');
    const first = randomTensor(new Rng(8), 'f32', [4]);
    await writeSafetensors(path, { w: first });
    const before = readFileSync(path);
    await expect(writeSafetensors(path, { w: { dtype: 'f32', shape: [5], data: new Float32Array(4) } })).rejects.toThrow();
    expect(readFileSync(path)).toEqual(before);
    const second = randomTensor(new Rng(9), 'f32', [6]);
    await writeSafetensors(path, { w: second });
    const file = await SafetensorsFile.open(path);
    opened.push(file);
    expect(bytesOf((await file.read('w')).data)).toEqual(bytesOf(second.data));
    expect(leftovers(d)).toEqual([]);
  });
});
