// A minimal WebAssembly binary writer: the module framing and the instructions the CPU
// attention kernels use, so those kernels ship as readable TypeScript without a wasm toolchain.
// Every builder returns the instruction's bytes; a function body is a list of them.

export type Code = number[];

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

function uleb(n: number): Code {
  const out: Code = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): Code {
  const out: Code = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const name = (s: string): Code => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const vec = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const section = (id: number, content: Code): Code => [id, ...uleb(content.length), ...content];

export const get = (local: number): Code => [0x20, ...uleb(local)];
export const set = (local: number): Code => [0x21, ...uleb(local)];
export const i32 = (n: number): Code => [0x41, ...sleb(n)];
export const add32: Code = [0x6a];
export const sub32: Code = [0x6b];
export const mul32: Code = [0x6c];
export const eq32: Code = [0x46];
export const ltS32: Code = [0x48];
export const ltU32: Code = [0x49];
/** local = local + (the value `by` pushes), i32. */
export const inc = (local: number, by: Code): Code => [...get(local), ...by, ...add32, ...set(local)];

export const block = (body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
export const loop = (body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
export const ifThen = (body: Code[]): Code => [0x04, 0x40, ...body.flat(), 0x0b];
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
export const brIf = (depth: number): Code => [0x0d, ...uleb(depth)];

const simd = (op: number, ...immediates: number[]): Code => [0xfd, ...uleb(op), ...immediates];
// memory immediates: alignment hint 0 (valid for any address), constant offset 0
export const v128Load = simd(0x00, 0, 0);
export const v128Load64Splat = simd(0x0a, 0, 0);
export const v128Store = simd(0x0b, 0, 0);
export const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
export const f64x2Splat = simd(0x14);
export const f64x2Add = simd(0xf0);
export const f64x2Mul = simd(0xf2);

/** A function: its parameter types and its locals as (count, type) runs, then the code. */
export interface WasmFunction {
  name: string;
  params: number[];
  locals: [number, number][];
  code: Code[];
}

/** A module that imports its memory as `env.memory` and exports each function by name (all return nothing). */
export function wasmModule(functions: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const bodies = functions.map((f) => {
    const bytes = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.code.flat(), 0x0b];
    return [...uleb(bytes.length), ...bytes];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}
