// The float64 inner loops of the CPU attention (QK^T scores and P·V) as WebAssembly SIMD
// (f64x2) kernels, and the wasm-memory workspace they run in. The two lanes of a vector always
// hold two INDEPENDENT sums (two keys' dot products; two output columns), each added in the
// same order as plain scalar loops (d ascending; keys ascending), with a separate multiply and
// add (no fused multiply-add): results are bit for bit those of scalar float64 code. Measured
// on a 2-core x86 host, V8's best register-blocked scalar typed-array loops reached ~3-4
// GFLOP/s, these kernels ~10 (tools/bench/cpu-attention.mjs times the whole op).
import { UnsupportedFeatureError } from '../errors.js';
import {
  type Code,
  F64,
  I32,
  V128,
  add32,
  block,
  br,
  brIf,
  eq32,
  f64x2Add,
  f64x2Mul,
  f64x2Splat,
  get,
  i32,
  ifThen,
  inc,
  loop,
  ltS32,
  ltU32,
  mul32,
  set,
  sub32,
  v128Load,
  v128Load64Splat,
  v128Store,
  v128Zero,
  type WasmFunction,
  wasmModule,
} from './wasm-writer.js';

/**
 * scores(q, kp, s, pairs, dBytes, ldBytes, scale): for 4 query rows (byte address q, rows
 * dBytes apart) and `pairs` >= 1 key pairs (byte address kp, each pair stored [d][2], pairs
 * 2 * dBytes apart): S[r][j, j+1] = (sum over d of Q[r][d] * K[j, j+1][d]) * scale, rows of
 * S ldBytes apart. Two pairs per step (8 sums), then the odd last pair.
 */
function scoresKernel(): WasmFunction {
  const [q, kp, s, pairs, dBytes, ldBytes, scale] = [0, 1, 2, 3, 4, 5, 6];
  const [o, kq, kq1, q1, q2, q3] = [7, 8, 9, 10, 11, 12];
  const [sc, t, kv0, kv1] = [13, 14, 15, 16];
  const acc = [17, 18, 19, 20, 21, 22, 23, 24]; // row r, pair p at acc[2 * r + p]
  const rows = [q, q1, q2, q3];
  /** Scores of the next `n` (1 or 2) pairs; advances s and kp past them. */
  const step = (n: number): Code[] => {
    const ps = n === 2 ? [0, 1] : [0];
    const kvs = [kv0, kv1];
    return [
      ...rows.flatMap((_, r) => ps.map((p) => [...v128Zero, ...set(acc[2 * r + p])])),
      [...i32(0), ...set(o), ...get(kp), ...set(kq)],
      [...get(kp), ...get(dBytes), ...get(dBytes), ...add32, ...add32, ...set(kq1)],
      loop([
        [...get(kq), ...v128Load, ...set(kv0)],
        ...(n === 2 ? [[...get(kq1), ...v128Load, ...set(kv1)]] : []),
        ...rows.flatMap((row, r) => [
          [...get(row), ...get(o), ...add32, ...v128Load64Splat, ...set(t)],
          ...ps.map((p) => [...get(acc[2 * r + p]), ...get(t), ...get(kvs[p]), ...f64x2Mul, ...f64x2Add, ...set(acc[2 * r + p])]),
        ]),
        inc(kq, i32(16)),
        inc(kq1, i32(16)),
        inc(o, i32(8)),
        [...get(o), ...get(dBytes), ...ltU32, ...brIf(0)],
      ]),
      ...rows.flatMap((_, r) =>
        ps.map((p) => [...get(s), ...get(ldBytes), ...i32(r), ...mul32, ...add32, ...i32(16 * p), ...add32, ...get(acc[2 * r + p]), ...get(sc), ...f64x2Mul, ...v128Store]),
      ),
      inc(s, i32(16 * n)),
      [...get(n === 2 ? kq1 : kq), ...set(kp)],
    ];
  };
  return {
    name: 'scores',
    params: [I32, I32, I32, I32, I32, I32, F64],
    locals: [
      [6, I32],
      [12, V128],
    ],
    code: [
      [...get(scale), ...f64x2Splat, ...set(sc)],
      ...[1, 2, 3].map((i) => [...get(rows[i - 1]), ...get(dBytes), ...add32, ...set(rows[i])]),
      block([loop([[...get(pairs), ...i32(2), ...ltS32, ...brIf(1)], ...step(2), [...get(pairs), ...i32(2), ...sub32, ...set(pairs)], br(0)])]),
      [...get(pairs), ...i32(1), ...eq32],
      ifThen(step(1)),
    ],
  };
}

/**
 * pv(p, v, acc, keys, dBytes, ldBytes): for 4 rows and `keys` >= 1 consecutive keys,
 * acc[r][d] += P[r][key] * V[key][d], keys in order (two per step, written left to right
 * as the scalar loop adds them). P rows ldBytes apart; V and acc rows dBytes apart (a
 * positive multiple of 16: D padded to even).
 */
function pvKernel(): WasmFunction {
  const [p, v, acc, keys, dBytes, ldBytes] = [0, 1, 2, 3, 4, 5];
  const [o, p1, p2, p3, c1, c2, c3] = [6, 7, 8, 9, 10, 11, 12];
  const [x00, x01, x10, x11, x20, x21, x30, x31, w0, w1] = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
  const pRows = [p, p1, p2, p3];
  const accRows = [acc, c1, c2, c3];
  const xs = [
    [x00, x01],
    [x10, x11],
    [x20, x21],
    [x30, x31],
  ];
  /** acc_r[o] = acc_r[o] + x_r0 * w0 (+ x_r1 * w1 for a key pair). */
  const accumulate = (pair: boolean): Code[] =>
    accRows.map((c, r) => [
      ...get(c),
      ...get(o),
      ...add32,
      ...[...get(c), ...get(o), ...add32, ...v128Load],
      ...[...get(xs[r][0]), ...get(w0), ...f64x2Mul, ...f64x2Add],
      ...(pair ? [...get(xs[r][1]), ...get(w1), ...f64x2Mul, ...f64x2Add] : []),
      ...v128Store,
    ]);
  const overColumns = (pair: boolean): Code =>
    loop([
      [...get(v), ...get(o), ...add32, ...v128Load, ...set(w0)],
      ...(pair ? [[...get(v), ...get(dBytes), ...add32, ...get(o), ...add32, ...v128Load, ...set(w1)]] : []),
      ...accumulate(pair),
      inc(o, i32(16)),
      [...get(o), ...get(dBytes), ...ltU32, ...brIf(0)],
    ]);
  return {
    name: 'pv',
    params: [I32, I32, I32, I32, I32, I32],
    locals: [
      [7, I32],
      [10, V128],
    ],
    code: [
      ...[1, 2, 3].map((i) => [...get(pRows[i - 1]), ...get(ldBytes), ...add32, ...set(pRows[i])]),
      ...[1, 2, 3].map((i) => [...get(accRows[i - 1]), ...get(dBytes), ...add32, ...set(accRows[i])]),
      block([
        loop([
          [...get(keys), ...i32(2), ...ltS32, ...brIf(1)],
          ...xs.flatMap(([xa, xb], r) => [
            [...get(pRows[r]), ...v128Load64Splat, ...set(xa)],
            [...get(pRows[r]), ...i32(8), ...add32, ...v128Load64Splat, ...set(xb)],
          ]),
          [...i32(0), ...set(o)],
          overColumns(true),
          ...pRows.map((row) => inc(row, i32(16))),
          inc(v, [...get(dBytes), ...get(dBytes), ...add32]),
          [...get(keys), ...i32(2), ...sub32, ...set(keys)],
          br(0),
        ]),
      ]),
      [...get(keys), ...i32(1), ...eq32],
      ifThen([...xs.map(([xa], r) => [...get(pRows[r]), ...v128Load64Splat, ...set(xa)]), [...i32(0), ...set(o)], overColumns(false)]),
    ],
  };
}

interface Kernels {
  memory: WebAssembly.Memory;
  scores(q: number, kp: number, s: number, pairs: number, dBytes: number, ldBytes: number, scale: number): void;
  pv(p: number, v: number, acc: number, keys: number, dBytes: number, ldBytes: number): void;
}

let kernels: Kernels | undefined;

/** Compiles the module once, synchronously: at about 1.6 KB it is under the 4 KB that browsers allow for synchronous compiles on the main thread. */
function loadKernels(): Kernels {
  if (kernels) return kernels;
  const bytes = wasmModule([scoresKernel(), pvKernel()]);
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes))
    throw new UnsupportedFeatureError('cpu attention: needs WebAssembly with 128-bit SIMD (Node >= 16.4, Chrome >= 91, Firefox >= 89, Safari >= 16.4)');
  const memory = new WebAssembly.Memory({ initial: 1 });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as Omit<Kernels, 'memory'>;
  kernels = { memory, scores: exports.scores, pv: exports.pv };
  return kernels;
}

/** Keys per chunk: a chunk of K or V rows stays in cache while every row group of the tile reuses it. Even: chunks start on key pairs. */
const KEY_CHUNK = 64;

/** Query rows beyond a tile that the buffers hold: kernels run 4 rows at a time, so the last group may reach 3 rows past (never read back). */
const ROW_PAD = 3;

const WASM_PAGE = 65536;

/**
 * One attention call's buffers in the kernels' wasm memory (grown as needed, kept for later
 * calls), float64: the current (batch, head)'s Q rows, K stored as key pairs, V rows, and one
 * query tile's scores, probabilities and output accumulator. D is padded to even with zero
 * columns (adding q*0 = +-0 to a dot product never changes it) and Q gets ROW_PAD zero rows.
 */
export class AttentionWorkspace {
  /** Score row pitch (Lk rounded up to even: kernels write key pairs). */
  readonly ld: number;
  /** Padded head dimension (D rounded up to even, at least 2). */
  readonly dp: number;
  /** Scores of the current tile: row r, key j at `scores[r * ld + j]`. */
  readonly scores: Float64Array;
  /** exp(score - rowMax) of the current tile, same layout; the scores array itself when not kept apart. */
  readonly probs: Float64Array;
  /** Unnormalised output rows of the current tile: row r, column d at `acc[r * dp + d]`. */
  readonly acc: Float64Array;
  private readonly k: Kernels;
  private readonly q: Float64Array;
  private readonly kp: Float64Array;
  private readonly v: Float64Array;
  private readonly lq: number;
  private readonly lk: number;
  private readonly d: number;

  /** `keepScores`: give probabilities their own buffer, leaving the scores readable after the softmax. */
  constructor(lq: number, lk: number, d: number, tile: number, keepScores: boolean) {
    this.k = loadKernels();
    this.lq = lq;
    this.lk = lk;
    this.d = d;
    this.dp = Math.max(2, d + (d & 1));
    this.ld = lk + (lk & 1);
    const sizes = [(lq + ROW_PAD) * this.dp, this.ld * this.dp, lk * this.dp, (tile + ROW_PAD) * this.ld, keepScores ? (tile + ROW_PAD) * this.ld : 0, (tile + ROW_PAD) * this.dp];
    const bytes = sizes.reduce((a, n) => a + n, 0) * 8;
    const { memory } = this.k;
    const pages = Math.ceil(bytes / WASM_PAGE);
    const have = memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) {
      const fail = `cpu attention: Lq=${lq}, Lk=${lk}, D=${d} needs ${bytes} bytes of WebAssembly working memory`;
      if (pages > 65536) throw new UnsupportedFeatureError(`${fail}, over its 4 GiB limit`);
      try {
        memory.grow(pages - have);
      } catch (e) {
        throw new UnsupportedFeatureError(`${fail}; growing it failed: ${(e as Error).message}`);
      }
    }
    const views: Float64Array[] = [];
    let offset = 0;
    for (const n of sizes) {
      views.push(new Float64Array(memory.buffer, offset * 8, n));
      offset += n;
    }
    [this.q, this.kp, this.v, this.scores] = views;
    this.probs = keepScores ? views[4] : this.scores;
    this.acc = views[5];
    // zero padding (columns, rows, the pad key) that earlier calls may have left dirty
    this.q.fill(0);
    this.kp.fill(0);
    this.v.fill(0);
  }

  /** Loads one (batch, head): Q rows from `Q[qBase...]`, K and V rows from `K/V[kBase...]` ([L, D] row-major, f32). */
  loadHead(Q: Float32Array, K: Float32Array, V: Float32Array, qBase: number, kBase: number): void {
    const { d, dp } = this;
    for (let i = 0; i < this.lq; i++) for (let c = 0; c < d; c++) this.q[i * dp + c] = Q[qBase + i * d + c];
    for (let j = 0; j < this.lk; j++) {
      const pair = (j >> 1) * 2 * dp + (j & 1);
      for (let c = 0; c < d; c++) {
        this.kp[pair + 2 * c] = K[kBase + j * d + c];
        this.v[j * dp + c] = V[kBase + j * d + c];
      }
    }
  }

  /**
   * Scores of query rows [r0, r0 + rows) (tile row r = query r0 + r) against the keys of
   * `spans` (ascending [start, end) pairs), scaled. Spans are widened to whole key pairs:
   * an odd end adds a score the caller never reads (the pad key when Lk is odd).
   */
  score(r0: number, rows: number, spans: Int32Array, nSpans: number, scale: number): void {
    const { dp, ld } = this;
    const dBytes = dp * 8;
    for (let s = 0; s < nSpans; s++) {
      const end = spans[2 * s + 1] + (spans[2 * s + 1] & 1);
      for (let c0 = spans[2 * s] & ~1; c0 < end; c0 += KEY_CHUNK) {
        const pairs = (Math.min(end, c0 + KEY_CHUNK) - c0) >> 1;
        for (let r = 0; r < rows; r += 4)
          this.k.scores(this.q.byteOffset + (r0 + r) * dBytes, this.kp.byteOffset + c0 * dBytes, this.scores.byteOffset + (r * ld + c0) * 8, pairs, dBytes, ld * 8, scale);
      }
    }
  }

  /** acc = P·V over the keys of `spans` for the tile's rows (acc is zeroed first). */
  accumulate(rows: number, spans: Int32Array, nSpans: number): void {
    const { dp, ld } = this;
    const dBytes = dp * 8;
    this.acc.fill(0);
    for (let s = 0; s < nSpans; s++) {
      const end = spans[2 * s + 1];
      for (let c0 = spans[2 * s]; c0 < end; c0 += KEY_CHUNK) {
        const keys = Math.min(end, c0 + KEY_CHUNK) - c0;
        for (let r = 0; r < rows; r += 4)
          this.k.pv(this.probs.byteOffset + (r * ld + c0) * 8, this.v.byteOffset + c0 * dBytes, this.acc.byteOffset + r * dBytes, keys, dBytes, ld * 8);
      }
    }
  }
}
