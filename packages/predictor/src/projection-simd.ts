// M^T s (block-diagonal, block-column and frame-tile sums of a sparsity map) as WebAssembly
// SIMD kernels. The map is float32 but every sum is float64: each pair of entries is widened
// (f64x2.promote_low_f32x4) before it is added, so results equal a float64 loop up to the
// order of the additions (~1e-16 relative), never float32 rounding. wasm cannot read a
// caller's array in place, so a map is streamed through a cache-sized chunk of wasm memory,
// unless it was allocated in a kernel instance's memory (allocateMapSimd).
//
// Rows go in groups of 8 (then single rows): a group widens each entry once and adds its 8
// entries of a column, and its 8 entries of a diagonal, before touching a float64 sum in
// memory. The block count n is a compile-time constant of each module (one per geometry), so
// every row offset is an immediate and the row ends are unrolled. Measured on a 2-core x86
// host at Wan-14B 720p (n = 591, 40 heads): ~3.5 ms of kernels plus ~4 ms of copying the
// 56 MB map, against ~15 ms for the best plain-JS pass (projection-scalar.ts).
import { wasmWriter as w } from '@mod-dit/tensor';

type Code = w.Code;

/** Rows per group of the main kernel. */
const GROUP = 8;
/** Map rows copied into wasm memory per kernel call: a multiple of GROUP, ~150 KB at n = 591 (fits L2). */
const CHUNK_ROWS = 64;
const WASM_PAGE = 65536;

// A non-negative signed LEB128 is also a valid unsigned one (a trailing 0 byte is allowed
// padding), so the writer's i32 constant encoder yields memory offsets.
const offset = (bytes: number): Code => w.i32(bytes).slice(1);
const mem = (op: Code, bytes: number): Code => [...op, 0, ...offset(bytes)];
const load64Zero = (bytes: number): Code => mem([0xfd, 0x5d], bytes);
const v128LoadAt = (bytes: number): Code => mem([0xfd, 0x00], bytes);
const v128StoreAt = (bytes: number): Code => mem([0xfd, 0x0b], bytes);
const promoteLow: Code = [0xfd, 0x5f];
const extractLane = (lane: number): Code => [0xfd, 0x21, lane];
const i32Load = (bytes: number): Code => mem([0x28], bytes);
const f32Load = (bytes: number): Code => mem([0x2a], bytes);
const f64Load = (bytes: number): Code => mem([0x2b], bytes);
const f64Store = (bytes: number): Code => mem([0x39], bytes);
const f64Add: Code = [0xa0];
const f64PromoteF32: Code = [0xbb];
const f64Zero: Code = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
const ne32: Code = [0x47];

/** Byte layout of a module's memory: the float64 sums of one head (diagonals, columns, tile), the odd rows' column sums, the tile table, the map chunk (or a resident map). */
function memoryLayout(n: number) {
  const diag = 0;
  const col = (2 * n - 1) * 8;
  const tile = (3 * n - 1) * 8;
  const odd = 3 * n * 8;
  const table = odd + n * 8;
  const chunk = table + 2 * n * 4;
  return { diag, col, tile, odd, table, chunk, bytes: chunk + CHUNK_ROWS * n * 4 };
}

/**
 * dst[c] += src[c] for c in [0, count) (float32 entries into float64 sums), in pairs then the
 * odd last one. Uses locals s (src), d (dst), end, sum (v128), f (f64); leaves s and d past the range.
 */
function rowPass(count: number, locals: { s: number; d: number; end: number; sum: number; f: number }): Code[] {
  const { s, d, end, sum, f } = locals;
  const pairs = count >> 1;
  const code: Code[] = [];
  if (pairs > 0)
    code.push(
      [...w.get(s), ...w.i32(pairs * 8), ...w.add32, ...w.set(end)],
      w.loop([
        [...w.get(s), ...load64Zero(0), ...promoteLow, ...w.set(sum)],
        [...w.get(d), ...w.get(d), ...w.v128Load, ...w.get(sum), ...w.f64x2Add, ...w.v128Store],
        w.inc(s, w.i32(8)),
        w.inc(d, w.i32(16)),
        [...w.get(s), ...w.get(end), ...w.ltU32, ...w.brIf(0)],
      ]),
    );
  if (count & 1)
    code.push(
      [...w.get(s), ...f32Load(0), ...f64PromoteF32, ...w.set(f)],
      [...w.get(d), ...w.get(d), ...f64Load(0), ...w.get(f), ...f64Add, ...f64Store(0)],
    );
  return code;
}

/**
 * lines1(src, rows, diag): for `rows` >= 1 single rows at src, adds the column sums and the
 * diagonal sums; `diag` is the byte address of the diagonal sum of (first row, column 0),
 * one sum lower per row. For the rows left over after the groups of 8.
 */
function singleRowKernel(n: number): w.WasmFunction {
  const [src, rows, diag, s, d, end, sum, f] = [0, 1, 2, 3, 4, 5, 6, 7];
  const locals = { s, d, end, sum, f };
  return {
    name: 'lines1',
    params: [w.I32, w.I32, w.I32],
    locals: [
      [3, w.I32],
      [1, w.V128],
      [1, w.F64],
    ],
    code: [
      w.loop([
        [...w.get(src), ...w.set(s), ...w.i32(memoryLayout(n).col), ...w.set(d)],
        ...rowPass(n, locals),
        [...w.get(src), ...w.set(s), ...w.get(diag), ...w.set(d)],
        ...rowPass(n, locals),
        w.inc(src, w.i32(4 * n)),
        w.inc(diag, w.i32(-8)),
        w.inc(rows, w.i32(-1)),
        [...w.get(rows), ...w.i32(0), ...ne32, ...w.brIf(0)],
      ]),
    ],
  };
}

/**
 * lines8(src, groups, diag): for `groups` >= 1 groups of 8 rows at src (n >= 8), adds the
 * column and diagonal sums; `diag` is the byte address of the diagonal sum of (first row of
 * the first group, column 0), 8 sums lower per group.
 *
 * Each entry is widened once and serves both sums. Row t of a group is read in pairs from
 * column t & 1 on, so the pair of row t at step k (columns 2k + (t & 1), +1) lies on the
 * diagonals of pair k - floor(t / 2) of the group's diagonal run: even rows and odd rows meet
 * the diagonal sums pair-aligned. The diagonal pair that rows 6 and 7 complete is written;
 * those that rows 0..5 have started ride in registers (q0..q2). Odd rows' column pairs are
 * shifted by one, so they go to a second column array (`odd`) that the caller folds in. The
 * few entries outside the pairs (row ends) are unrolled scalar code.
 */
function groupKernel(n: number): w.WasmFunction {
  const [src, groups, diag, s, end, ce, co, d] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [a, b, even, oddSum, q0, q1, q2] = [8, 9, 10, 11, 12, 13, 14];
  const q = [q0, q1, q2];
  const row = 4 * n;
  const { col, odd } = memoryLayout(n);
  const steps = (n - 1) >> 1; // pairs per row that stay inside the row for both parities
  const addTo = (addr: Code, at: number, value: Code): Code => [...addr, ...addr, ...v128LoadAt(at), ...value, ...w.f64x2Add, ...v128StoreAt(at)];
  // scalar ends: row t's columns before t & 1 and from (t & 1) + 2 * steps on
  const ends: Code[] = [];
  for (let t = 0; t < GROUP; t++)
    for (let j = 0; j < n; j++) {
      if (j >= (t & 1) && j < (t & 1) + 2 * steps) continue;
      const value = [...w.get(src), ...f32Load(t * row + j * 4), ...f64PromoteF32];
      ends.push([...w.i32(0), ...w.i32(0), ...f64Load(col + j * 8), ...value, ...f64Add, ...f64Store(col + j * 8)]);
      // diagonal sum of (row t, column j) is 8 * (j - t) bytes from `diag`; biased by 7 sums to stay >= 0
      const at = (j - t + 7) * 8;
      ends.push([...w.get(diag), ...w.i32(56), ...w.sub32, ...w.get(diag), ...w.i32(56), ...w.sub32, ...f64Load(at), ...value, ...f64Add, ...f64Store(at)]);
    }
  return {
    name: 'lines8',
    params: [w.I32, w.I32, w.I32],
    locals: [
      [5, w.I32],
      [7, w.V128],
    ],
    code: [
      w.loop([
        [...w.get(src), ...w.set(s), ...w.get(src), ...w.i32(steps * 8), ...w.add32, ...w.set(end)],
        [...w.i32(col), ...w.set(ce), ...w.i32(odd + 8), ...w.set(co)],
        // step k writes diagonal pair k - 3, which starts 6 sums below `diag`
        [...w.get(diag), ...w.i32(48), ...w.sub32, ...w.set(d)],
        [...w.v128Zero, ...w.set(q0), ...w.v128Zero, ...w.set(q1), ...w.v128Zero, ...w.set(q2)],
        w.loop([
          // rows 7, 6 first: they complete diagonal pair k - 3 with q2, freeing q2 for the next pair
          ...[3, 2, 1, 0].flatMap((p) => [
            [...w.get(s), ...load64Zero((2 * p) * row), ...promoteLow, ...w.set(a)],
            [...w.get(s), ...load64Zero((2 * p + 1) * row + 4), ...promoteLow, ...w.set(b)],
            p === 3 ? [...w.get(a), ...w.set(even), ...w.get(b), ...w.set(oddSum)] : [...w.get(even), ...w.get(a), ...w.f64x2Add, ...w.set(even), ...w.get(oddSum), ...w.get(b), ...w.f64x2Add, ...w.set(oddSum)],
            p === 3
              ? addTo(w.get(d), 0, [...w.get(q2), ...w.get(a), ...w.f64x2Add, ...w.get(b), ...w.f64x2Add])
              : p === 0
                ? [...w.get(a), ...w.get(b), ...w.f64x2Add, ...w.set(q0)]
                : [...w.get(q[p - 1]), ...w.get(a), ...w.f64x2Add, ...w.get(b), ...w.f64x2Add, ...w.set(q[p])],
          ]),
          addTo(w.get(ce), 0, w.get(even)),
          addTo(w.get(co), 0, w.get(oddSum)),
          w.inc(s, w.i32(8)),
          w.inc(ce, w.i32(16)),
          w.inc(co, w.i32(16)),
          w.inc(d, w.i32(16)),
          [...w.get(s), ...w.get(end), ...w.ltU32, ...w.brIf(0)],
        ]),
        addTo(w.get(d), 0, w.get(q2)),
        addTo(w.get(d), 16, w.get(q1)),
        addTo(w.get(d), 32, w.get(q0)),
        ...ends,
        w.inc(src, w.i32(GROUP * row)),
        w.inc(diag, w.i32(-GROUP * 8)),
        w.inc(groups, w.i32(-1)),
        [...w.get(groups), ...w.i32(0), ...ne32, ...w.brIf(0)],
      ]),
    ],
  };
}

/**
 * tiles(src, rows, table): adds, for `rows` >= 1 rows at src, the entries in each row's
 * frame-tile byte range (table: [start, end) byte offsets per row, 8 bytes per row) to the tile sum.
 */
function tilesKernel(n: number): w.WasmFunction {
  const [src, rows, table, p, e, acc, f] = [0, 1, 2, 3, 4, 5, 6];
  const { tile } = memoryLayout(n);
  return {
    name: 'tiles',
    params: [w.I32, w.I32, w.I32],
    locals: [
      [2, w.I32],
      [1, w.V128],
      [1, w.F64],
    ],
    code: [
      [...w.v128Zero, ...w.set(acc), ...f64Zero, ...w.set(f)],
      w.loop([
        [...w.get(src), ...w.get(table), ...i32Load(0), ...w.add32, ...w.set(p)],
        [...w.get(src), ...w.get(table), ...i32Load(4), ...w.add32, ...w.set(e)],
        w.block([
          w.loop([
            [...w.get(e), ...w.get(p), ...w.sub32, ...w.i32(8), ...w.ltS32, ...w.brIf(1)],
            [...w.get(acc), ...w.get(p), ...load64Zero(0), ...promoteLow, ...w.f64x2Add, ...w.set(acc)],
            w.inc(p, w.i32(8)),
            w.br(0),
          ]),
        ]),
        [...w.get(p), ...w.get(e), ...w.ltU32],
        w.ifThen([[...w.get(f), ...w.get(p), ...f32Load(0), ...f64PromoteF32, ...f64Add, ...w.set(f)]]),
        w.inc(src, w.i32(4 * n)),
        w.inc(table, w.i32(8)),
        w.inc(rows, w.i32(-1)),
        [...w.get(rows), ...w.i32(0), ...ne32, ...w.brIf(0)],
      ]),
      [...w.i32(tile), ...w.i32(tile), ...f64Load(0), ...w.get(f), ...f64Add],
      [...w.get(acc), ...extractLane(0), ...f64Add, ...w.get(acc), ...extractLane(1), ...f64Add, ...f64Store(0)],
    ],
  };
}

interface Kernels {
  memory: WebAssembly.Memory;
  lines8(src: number, groups: number, diag: number): void;
  lines1(src: number, groups: number, diag: number): void;
  tiles(src: number, rows: number, table: number): void;
}

/** The compiled module per block count n and its instance over a chunk-sized memory (null: this runtime has no WebAssembly SIMD). */
const modules = new Map<number, { module: WebAssembly.Module; chunked: Kernels } | null>();

/** Maps allocated by {@link allocateMapSimd}, by their buffer: the instance whose memory holds the map, and the map's block count. */
const residentMaps = new WeakMap<ArrayBufferLike, { kernels: Kernels; n: number }>();

function instantiate(module: WebAssembly.Module, bytes: number): Kernels {
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE) });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Omit<Kernels, 'memory'>;
  return { memory, ...exports };
}

function compiled(n: number): { module: WebAssembly.Module; chunked: Kernels } | null {
  let m = modules.get(n);
  if (m !== undefined) return m;
  m = null;
  const functions = [singleRowKernel(n), tilesKernel(n)];
  if (n >= GROUP) functions.push(groupKernel(n));
  const bytes = w.wasmModule(functions);
  if (typeof WebAssembly === 'object' && WebAssembly.validate(bytes)) {
    try {
      const module = new WebAssembly.Module(bytes);
      m = { module, chunked: instantiate(module, memoryLayout(n).bytes) };
    } catch {
      // a browser main thread refuses synchronous compiles of large modules: the JS pass serves
      m = null;
    }
  }
  modules.set(n, m);
  return m;
}

/**
 * A zeroed Float32Array of `length` = heads * n * n entries that lives in the memory of its own
 * kernel instance, so {@link projectMapSimd} reduces it in place; null where WebAssembly SIMD is missing.
 */
export function allocateMapSimd(n: number, length: number): Float32Array | null {
  const m = compiled(n);
  if (!m) return null;
  const at = memoryLayout(n);
  const kernels = instantiate(m.module, at.chunk + length * 4);
  residentMaps.set(kernels.memory.buffer, { kernels, n });
  return new Float32Array(kernels.memory.buffer, at.chunk, length);
}

/**
 * Writes M^T s of every head of `map` [heads, n, n] into `out` [heads, 3n] ({@link projectMap}'s
 * layout) with the SIMD kernels. A map from {@link allocateMapSimd} is read where it is; any other
 * is streamed through the chunk buffer. Returns false, writing nothing, where WebAssembly SIMD is missing.
 */
export function projectMapSimd(map: Float32Array, heads: number, n: number, tileStart: Int32Array, tileEnd: Int32Array, out: Float64Array): boolean {
  const m = compiled(n);
  if (!m) return false;
  const at = memoryLayout(n);
  const resident = residentMaps.get(map.buffer);
  const inPlace = resident !== undefined && resident.n === n && map.byteOffset >= at.chunk;
  const k = inPlace ? resident.kernels : m.chunked;
  const buffer = k.memory.buffer;
  const sums = new Float64Array(buffer, 0, 3 * n);
  const odd = new Float64Array(buffer, at.odd, n);
  const table = new Int32Array(buffer, at.table, 2 * n);
  for (let i = 0; i < n; i++) {
    table[2 * i] = tileStart[i] * 4;
    table[2 * i + 1] = tileEnd[i] * 4;
  }
  const chunk = new Float32Array(buffer, at.chunk, CHUNK_ROWS * n);
  const row = 4 * n;
  for (let h = 0; h < heads; h++) {
    sums.fill(0);
    odd.fill(0);
    for (let i0 = 0; i0 < n; i0 += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, n - i0);
      const first = (h * n + i0) * n;
      let src = map.byteOffset + first * 4;
      if (!inPlace) {
        chunk.set(map.subarray(first, first + rows * n));
        src = at.chunk;
      }
      const groups = Math.floor(rows / GROUP);
      // the diagonal sum of (row i, column 0) is diagonal index n - 1 - i
      if (groups > 0) k.lines8(src, groups, at.diag + (n - 1 - i0) * 8);
      const done = groups * GROUP;
      if (done < rows) k.lines1(src + done * row, rows - done, at.diag + (n - 1 - (i0 + done)) * 8);
      k.tiles(src, rows, at.table + i0 * 8);
    }
    for (let j = 0; j < n; j++) sums[2 * n - 1 + j] += odd[j];
    out.set(sums, h * 3 * n);
  }
  return true;
}
