import { ShapeError } from '@mod-dit/tensor';
import type { BlockLayout } from './block-layout.js';
import { InvalidOptionError } from './errors.js';
import { gramStructure } from './normal-equations.js';

/**
 * A factorization of (M^T M + lambda I) that solves the normal equations of every head in
 * O(n), exploiting the structure instead of a dense 3n x 3n Cholesky:
 *
 * - the diagonal-diagonal block is diagonal (n - |k| + lambda) and the column-column block
 *   is diagonal (n + lambda); the diagonal-column block B^T is a band of ones, so products
 *   with it are sliding-window sums;
 * - eliminating the diagonals leaves the column Schur complement
 *   S = (n + lambda) I - B W B^T, W = diag(1 / (n - |k| + lambda)), whose entry (j, j') is
 *   (n + lambda) delta - (P[min + n] - P[max]) with P the prefix sums of W: a symmetric
 *   semiseparable-plus-diagonal matrix of generator rank 2. Its LDL^T (Cholesky) factor is
 *   semiseparable too and is computed and applied in O(n) by the generator recursion;
 * - the one tile unknown is a border, handled by one extra solve done at factor time.
 *
 * Built once per (geometry, lambda) and cached ({@link NormalFactor.cached}); the per-head
 * solve is then ~40 flops per block.
 */
export class NormalFactor {
  readonly n: number;
  readonly lambda: number;
  /** 1 / (n - |k| + lambda) per diagonal. */
  private readonly w: Float64Array;
  /** Prefix sums of w: P[m] = sum of w[kk] for kk < m; the generators of S. */
  private readonly p: Float64Array;
  private readonly tileDiagonal: Float64Array;
  /** LDL^T of S: pivots D and the two generator columns of L's strictly lower part. */
  private readonly pivot: Float64Array;
  private readonly gen0: Float64Array;
  private readonly gen1: Float64Array;
  /** Border: s_ce (tile column of the Schur complement), S^-1 s_ce, and the final scalar pivot. */
  private readonly borderCol: Float64Array;
  private readonly borderSolved: Float64Array;
  private readonly borderPivot: number;
  // scratch, reused across heads (the factor is not reentrant, JS is single-threaded)
  private readonly scratchDiag: Float64Array;
  private readonly scratchPrefix: Float64Array;
  private readonly scratchCol: Float64Array;
  private readonly scratchY: Float64Array;

  private static readonly cache = new Map<string, NormalFactor>();

  /** The factor for this geometry and lambda, built on first use and kept for the life of the process. */
  static cached(layout: BlockLayout, lambda = 1): NormalFactor {
    const key = `${layout.key}|${lambda}`;
    let f = NormalFactor.cache.get(key);
    if (!f) {
      f = new NormalFactor(layout, lambda);
      NormalFactor.cache.set(key, f);
    }
    return f;
  }

  constructor(layout: BlockLayout, lambda = 1) {
    if (!(lambda > 0) || !Number.isFinite(lambda)) throw new InvalidOptionError(`lambda must be a positive finite number, got ${lambda}`);
    const g = gramStructure(layout);
    const n = g.n;
    const nd = 2 * n - 1;
    this.n = n;
    this.lambda = lambda;
    this.tileDiagonal = g.tileDiagonal;
    this.w = new Float64Array(nd);
    this.p = new Float64Array(nd + 1);
    for (let kk = 0; kk < nd; kk++) {
      this.w[kk] = 1 / (g.diagonalLength[kk] + lambda);
      this.p[kk + 1] = this.p[kk] + this.w[kk];
    }
    // S[j][j] = n + lambda - (P[j+n] - P[j]); S[j][j'] (j > j') = u_j . v_j' with u_j = (P[j], -1), v_j' = (1, P[j'+n])
    this.pivot = new Float64Array(n);
    this.gen0 = new Float64Array(n);
    this.gen1 = new Float64Array(n);
    const p = this.p;
    let s00 = 0;
    let s01 = 0;
    let s11 = 0;
    for (let j = 0; j < n; j++) {
      if (j > 0) {
        const dp = this.pivot[j - 1];
        const a = this.gen0[j - 1];
        const b = this.gen1[j - 1];
        s00 += dp * a * a;
        s01 += dp * a * b;
        s11 += dp * b * b;
      }
      const u0 = p[j];
      const u1 = -1;
      const su0 = s00 * u0 + s01 * u1;
      const su1 = s01 * u0 + s11 * u1;
      const d = n + lambda - (p[j + n] - p[j]) - (u0 * su0 + u1 * su1);
      this.pivot[j] = d;
      this.gen0[j] = (1 - su0) / d;
      this.gen1[j] = (p[j + n] - su1) / d;
    }
    this.scratchDiag = new Float64Array(nd);
    this.scratchPrefix = new Float64Array(nd + 1);
    this.scratchCol = new Float64Array(n);
    this.scratchY = new Float64Array(n);
    // border: s_ce = tileColumn - B (w * tileDiagonal); s_ee = tileTotal + lambda - sum(w * tileDiagonal^2)
    const wt = new Float64Array(nd);
    let see = g.tileTotal + lambda;
    for (let kk = 0; kk < nd; kk++) {
      wt[kk] = this.w[kk] * g.tileDiagonal[kk];
      see -= wt[kk] * g.tileDiagonal[kk];
    }
    this.borderCol = new Float64Array(n);
    this.windowSums(wt, this.borderCol);
    for (let j = 0; j < n; j++) this.borderCol[j] = g.tileColumn[j] - this.borderCol[j];
    this.borderSolved = new Float64Array(n);
    this.solveSchur(this.borderCol, this.borderSolved);
    let dot = 0;
    for (let j = 0; j < n; j++) dot += this.borderCol[j] * this.borderSolved[j];
    this.borderPivot = see - dot;
  }

  /** out[j] = (B v)[j] = sum of v[kk] for kk in [j, j + n - 1]: the diagonals meeting column j. */
  private windowSums(v: Float64Array, out: Float64Array): void {
    const n = this.n;
    const pre = this.scratchPrefix;
    pre[0] = 0;
    for (let kk = 0; kk < 2 * n - 1; kk++) pre[kk + 1] = pre[kk] + v[kk];
    for (let j = 0; j < n; j++) out[j] = pre[j + n] - pre[j];
  }

  /** Solves S y = r with the semiseparable LDL^T factor (r and y may not alias). */
  private solveSchur(r: Float64Array, y: Float64Array): void {
    const n = this.n;
    const p = this.p;
    const { pivot, gen0, gen1 } = this;
    let f0 = 0;
    let f1 = 0;
    for (let j = 0; j < n; j++) {
      if (j > 0) {
        f0 += gen0[j - 1] * y[j - 1];
        f1 += gen1[j - 1] * y[j - 1];
      }
      y[j] = r[j] - (p[j] * f0 - f1);
    }
    let g0 = 0;
    let g1 = 0;
    for (let j = n - 1; j >= 0; j--) {
      if (j < n - 1) {
        g0 += p[j + 1] * y[j + 1];
        g1 -= y[j + 1];
      }
      y[j] = y[j] / pivot[j] - (gen0[j] * g0 + gen1[j] * g1);
    }
  }

  /**
   * Solves (M^T M + lambda I) x = r for `heads` right-hand sides stored [heads, 3n]
   * (order: 2n-1 diagonals, n columns, tile). Returns x in the same layout, written to `out`
   * (every entry; it may not alias `rhs`) when given.
   */
  solve(rhs: Float64Array, heads: number, out?: Float64Array): Float64Array {
    const n = this.n;
    const nd = 2 * n - 1;
    const size = 3 * n;
    if (!Number.isInteger(heads) || heads < 1 || rhs.length !== heads * size)
      throw new ShapeError(`NormalFactor.solve: right-hand sides must be [heads, 3n] = [${heads}, ${size}], got ${rhs.length} entries`);
    const { w, tileDiagonal, borderCol, borderSolved, borderPivot } = this;
    const u = this.scratchDiag;
    const rc = this.scratchCol;
    const y = this.scratchY;
    const pre = this.scratchPrefix;
    if (out === undefined) out = new Float64Array(heads * size);
    else if (out.length !== heads * size || out === rhs) throw new ShapeError(`NormalFactor.solve: out must be a separate [heads, 3n] = ${heads * size}-entry array, got ${out.length} entries${out === rhs ? ' (the right-hand sides)' : ''}`);
    for (let h = 0; h < heads; h++) {
      const base = h * size;
      // u = W r_d; r_c' = r_c - B u; r_e' = r_e - t_d . u
      let re = rhs[base + size - 1];
      for (let kk = 0; kk < nd; kk++) {
        const v = w[kk] * rhs[base + kk];
        u[kk] = v;
        re -= tileDiagonal[kk] * v;
      }
      this.windowSums(u, rc);
      for (let j = 0; j < n; j++) rc[j] = rhs[base + nd + j] - rc[j];
      this.solveSchur(rc, y);
      let dot = 0;
      for (let j = 0; j < n; j++) dot += borderCol[j] * y[j];
      const e = (re - dot) / borderPivot;
      // columns, then d = W (r_d - B^T c - t_d e) with B^T c a sliding window over the columns
      pre[0] = 0;
      for (let j = 0; j < n; j++) {
        const c = y[j] - borderSolved[j] * e;
        out[base + nd + j] = c;
        pre[j + 1] = pre[j] + c;
      }
      for (let kk = 0; kk < nd; kk++) {
        const btc = pre[Math.min(kk, n - 1) + 1] - pre[Math.max(0, kk - n + 1)];
        out[base + kk] = w[kk] * (rhs[base + kk] - btc - tileDiagonal[kk] * e);
      }
      out[base + size - 1] = e;
    }
    return out;
  }
}
