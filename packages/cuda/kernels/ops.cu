// Elementwise, normalisation, RoPE and layout kernels. All math is f32; every output is
// rounded once (RNE) into its dtype, as the CPU reference does. Strided operands are
// described by up to 8 (shape, stride) pairs after the host merged contiguous dims.
//
// Speed: these are memory-bound passes, so the aim is to keep the index arithmetic under
// the memory time: 16-byte vector accesses where the host proved alignment, 32-bit index
// math whenever every index and offset fits (the host passes `wide` otherwise), one
// coordinate decomposition per element shared by all operands, and a division-free fast
// path for the layouts a DiT block produces (contiguous operands next to per-row [.., C]
// or scalar broadcasts).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "element_io.cuh"

namespace {

constexpr int MAX_DIMS = 8;

struct Dims {
  long long v[MAX_DIMS];
};

// Offsets of logical element i of a row-major loop nest `shape` in each operand (one stride
// list each): one div/mod per inner axis, shared by all operands; the outermost needs none.
template <typename I, typename O, typename... S>
__device__ __forceinline__ void offsetsOf(I i, int rank, const Dims& shape, O (&off)[sizeof...(S)], const S&... strides) {
#pragma unroll
  for (int k = 0; k < (int)sizeof...(S); k++) off[k] = 0;
#pragma unroll
  for (int ax = MAX_DIMS - 1; ax > 0; ax--) {
    if (ax < rank) {
      const I d = (I)shape.v[ax];
      const I q = i / d;
      const O c = (O)(i - q * d);
      int k = 0;
      ((off[k++] += c * (O)strides.v[ax]), ...);
      i = q;
    }
  }
  int k = 0;
  ((off[k++] += (O)i * (O)strides.v[0]), ...);
}

// A grid-stride loop over [0, n) in index type I.
#define GRID_LOOP(I, i, n) for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < (I)(n); i += (I)gridDim.x * blockDim.x)

// ---- layout -------------------------------------------------------------------------------

// E is the copy unit: the element, or up to 16 bytes of elements the host proved contiguous
// and aligned on both sides.
template <typename I, typename O, typename E>
__device__ __forceinline__ void copyLoop(E* dst, const E* src, long long n, int rank, const Dims& shape, const Dims& ds, const Dims& ss) {
  GRID_LOOP(I, i, n) {
    O o[2];
    offsetsOf<I, O>(i, rank, shape, o, ds, ss);
    dst[o[0]] = src[o[1]];
  }
}

template <typename E>
__device__ void copyStrided(E* dst, const E* src, long long n, int rank, const Dims& shape, const Dims& ds, const Dims& ss, int wide) {
  if (wide) copyLoop<unsigned long long, long long>(dst, src, n, rank, shape, ds, ss);
  else copyLoop<unsigned, int>(dst, src, n, rank, shape, ds, ss);
}

__device__ __forceinline__ bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

// dst[i] = f(src[i]) over contiguous arrays (dst may be src): a 16-byte vector body where both
// are aligned, then a scalar tail.
template <typename A, typename B, typename F>
__device__ __forceinline__ void mapContig(B* dst, const A* src, long long n, F f) {
  long long head = 0;
  if (aligned16(dst) && aligned16(src)) {
    const long long chunks = n / 8;
    GRID_LOOP(long long, c, chunks) {
      float v[8];
      ld8(src + 8 * c, v);
#pragma unroll
      for (int j = 0; j < 8; j++) v[j] = f(v[j]);
      st8(dst + 8 * c, v);
    }
    head = chunks * 8;
  }
  GRID_LOOP(long long, i, n - head) st(dst + head + i, f(ld(src + head + i)));
}

template <typename A, typename B>
__device__ void castContig(B* dst, const A* src, long long n) {
  mapContig(dst, src, n, [](float v) { return v; });
}

// ---- pointwise ----------------------------------------------------------------------------

__device__ __forceinline__ float binaryOp(int op, float x, float y) { return op == 0 ? x + y : op == 1 ? x - y : x * y; }
// op: 0 modulate x (1 + y) + z, 1 gated add x + y z
__device__ __forceinline__ float ternaryOp(int op, float x, float y, float z) { return op == 0 ? x * (1.f + y) + z : x + y * z; }
// op: 0 gelu (tanh approximation), 1 silu
__device__ __forceinline__ float unaryOp(int op, float x) {
  // 0.5 x (1 + tanh z) written as x / (1 + e^-2z): no cancellation in the negative tail
  if (op == 0) return x / (1.f + expf(-2.f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
  return x / (1.f + expf(-x));
}

// Fast-path operand addressing (2 bits per operand in `modes`): element i of a contiguous
// operand, element i % C of a per-row broadcast [.., C], or the one element of a scalar.
enum : int { CONTIG = 0, ROW = 1, SCALAR = 2 };

__device__ __forceinline__ int modeOf(int modes, int k) { return (modes >> (2 * k)) & 3; }

template <typename T>
__device__ __forceinline__ void ldMode8(const T* p, int mode, unsigned i, unsigned c, float (&v)[8]) {
  if (mode == SCALAR) {
    const float s = ld(p);
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = s;
  } else {
    ld8(p + (mode == CONTIG ? i : c), v);
  }
}
template <typename T>
__device__ __forceinline__ float ldMode(const T* p, int mode, unsigned i, unsigned c) {
  return ld(p + (mode == CONTIG ? i : mode == ROW ? c : 0u));
}

// out (contiguous, n < 2^31) = op(a, b). vec: n and C are multiples of 8 and every pointer is
// 16-byte aligned, so 8 elements share one row and one modulo.
template <typename A, typename B>
__device__ void binaryFast(A* out, const A* a, const B* b, unsigned n, int op, int modes, unsigned C, int vec) {
  const int ma = modeOf(modes, 0), mb = modeOf(modes, 1);
  if (vec) {
    GRID_LOOP(unsigned, v, n / 8) {
      const unsigned i = 8 * v, c = i % C;
      float x[8], y[8];
      ldMode8(a, ma, i, c, x);
      ldMode8(b, mb, i, c, y);
#pragma unroll
      for (int j = 0; j < 8; j++) x[j] = binaryOp(op, x[j], y[j]);
      st8(out + i, x);
    }
  } else {
    GRID_LOOP(unsigned, i, n) {
      const unsigned c = i % C;
      st(out + i, binaryOp(op, ldMode(a, ma, i, c), ldMode(b, mb, i, c)));
    }
  }
}

template <typename I, typename O, typename A, typename B>
__device__ __forceinline__ void binaryLoop(A* out, const A* a, const B* b, long long n, int op, int rank, const Dims& shape, const Dims& sa, const Dims& sb) {
  GRID_LOOP(I, i, n) {
    O o[2];
    offsetsOf<I, O>(i, rank, shape, o, sa, sb);
    st(out + i, binaryOp(op, ld(a + o[0]), ld(b + o[1])));
  }
}

template <typename A, typename B>
__device__ void binaryStrided(A* out, const A* a, const B* b, long long n, int op, int rank, const Dims& shape, const Dims& sa, const Dims& sb, int wide) {
  if (wide) binaryLoop<unsigned long long, long long>(out, a, b, n, op, rank, shape, sa, sb);
  else binaryLoop<unsigned, int>(out, a, b, n, op, rank, shape, sa, sb);
}

template <typename X, typename Y, typename Z>
__device__ void ternaryFast(X* out, const X* x, const Y* y, const Z* z, unsigned n, int op, int modes, unsigned C, int vec) {
  const int mx = modeOf(modes, 0), my = modeOf(modes, 1), mz = modeOf(modes, 2);
  if (vec) {
    GRID_LOOP(unsigned, v, n / 8) {
      const unsigned i = 8 * v, c = i % C;
      float p[8], q[8], r[8];
      ldMode8(x, mx, i, c, p);
      ldMode8(y, my, i, c, q);
      ldMode8(z, mz, i, c, r);
#pragma unroll
      for (int j = 0; j < 8; j++) p[j] = ternaryOp(op, p[j], q[j], r[j]);
      st8(out + i, p);
    }
  } else {
    GRID_LOOP(unsigned, i, n) {
      const unsigned c = i % C;
      st(out + i, ternaryOp(op, ldMode(x, mx, i, c), ldMode(y, my, i, c), ldMode(z, mz, i, c)));
    }
  }
}

template <typename I, typename O, typename X, typename Y, typename Z>
__device__ __forceinline__ void ternaryLoop(X* out, const X* x, const Y* y, const Z* z, long long n, int op, int rank, const Dims& shape,
                                            const Dims& sx, const Dims& sy, const Dims& sz) {
  GRID_LOOP(I, i, n) {
    O o[3];
    offsetsOf<I, O>(i, rank, shape, o, sx, sy, sz);
    st(out + i, ternaryOp(op, ld(x + o[0]), ld(y + o[1]), ld(z + o[2])));
  }
}

template <typename X, typename Y, typename Z>
__device__ void ternaryStrided(X* out, const X* x, const Y* y, const Z* z, long long n, int op, int rank, const Dims& shape, const Dims& sx,
                               const Dims& sy, const Dims& sz, int wide) {
  if (wide) ternaryLoop<unsigned long long, long long>(out, x, y, z, n, op, rank, shape, sx, sy, sz);
  else ternaryLoop<unsigned, int>(out, x, y, z, n, op, rank, shape, sx, sy, sz);
}

template <typename T>
__device__ void unary(T* out, const T* a, long long n, int op) {
  mapContig(out, a, n, [op](float v) { return unaryOp(op, v); });
}

// ---- row-wise -----------------------------------------------------------------------------
//
// G warps (1..16) share one row; a CTA holds max(8 / G, 1) rows. A row is read as chunks of 8
// elements (16-byte loads when vec: C % 8 == 0 and aligned rows), and kept in registers
// (VPT chunks per lane) when it fits, so the passes (mean, centred variance, output) read
// memory once; longer rows are re-read per pass.

// Chunk ci (elements 8ci .. 8ci+7) of row p as f32; elements past C read as 0. Elements are
// `stride` apart (vec implies stride 1).
template <typename T>
__device__ __forceinline__ void ldChunk(const T* p, int ci, int C, bool vec, float (&e)[8], long long stride = 1) {
  const int e0 = 8 * ci;
  if (vec) {
    ld8(p + e0, e);
  } else {
#pragma unroll
    for (int j = 0; j < 8; j++) e[j] = e0 + j < C ? ld(p + (e0 + j) * stride) : 0.f;
  }
}
template <typename T>
__device__ __forceinline__ void stChunk(T* p, int ci, int C, bool vec, const float (&e)[8]) {
  const int e0 = 8 * ci;
  if (vec) {
    st8(p + e0, e);
  } else {
#pragma unroll
    for (int j = 0; j < 8; j++)
      if (e0 + j < C) st(p + e0 + j, e[j]);
  }
}

// The elements of chunk ci that lie inside the row.
__device__ __forceinline__ int chunkLen(int ci, int C) { return min(8, C - 8 * ci); }

template <typename T, int VPT>
struct RowTile {
  const T* x;
  int C, nv, tid, step;
  bool vec, resident;
  float r[VPT][8];

  // Row `row` of x [rows, C] for this thread; rows past the end get no chunks but still
  // take part in the CTA-wide reductions.
  __device__ __forceinline__ RowTile(const T* base, long long row, long long rows, int C_, int G, bool vec_) {
    const int warp = threadIdx.x >> 5;
    C = C_;
    vec = vec_;
    x = base + row * C;
    nv = row < rows ? (C + 7) / 8 : 0;
    tid = (warp % G) * 32 + (threadIdx.x & 31);
    step = G * 32;
    resident = (C + 7) / 8 <= VPT * step;
    if (resident) {
#pragma unroll
      for (int k = 0; k < VPT; k++) {
        const int ci = tid + k * step;
        if (ci < nv) ldChunk(x, ci, C, vec, r[k]);
      }
    }
  }

  // f(chunk values, chunk index) for every chunk of this thread, from registers if resident.
  template <typename F>
  __device__ __forceinline__ void each(F&& f) {
    if (resident) {
#pragma unroll
      for (int k = 0; k < VPT; k++) {
        const int ci = tid + k * step;
        if (ci < nv) f(r[k], ci);
      }
    } else {
      for (int ci = tid; ci < nv; ci += step) {
        float e[8];
        ldChunk(x, ci, C, vec, e);
        f(e, ci);
      }
    }
  }
};

// Sum (or max) over the G warps of one row; `red` has a slot per warp of the CTA. Every
// thread of the CTA calls it the same number of times (G > 1 synchronises).
template <bool MAX>
__device__ __forceinline__ float rowReduce(float v, int G, float* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float u = __shfl_xor_sync(0xffffffffu, v, o);
    v = MAX ? fmaxf(v, u) : v + u;
  }
  if (G == 1) return v;
  const int w = threadIdx.x >> 5, g0 = w / G * G;
  if ((threadIdx.x & 31) == 0) red[w] = v;
  __syncthreads();
  float t = red[g0];
  for (int k = 1; k < G; k++) t = MAX ? fmaxf(t, red[g0 + k]) : t + red[g0 + k];
  __syncthreads();
  return t;
}

__device__ __forceinline__ long long rowOf(int G) { return (long long)blockIdx.x * (blockDim.x / 32 / G) + (threadIdx.x >> 5) / G; }

// y = LN(row tile) (* w) (+ b), then adaLN's y (1 + scale) + shift where scale/shift are given:
// f32 rows picked per x row through the leading-dims layout (broadcast strides 0), walked with
// their column strides (0 or 1 in practice).
// Two passes (mean, then centred variance) for accuracy on large offsets.
template <typename Tile, typename Tout>
__device__ void layerNormTile(Tile& t, Tout* out, long long row, const float* w, const float* b, const float* scale, const float* shift,
                              int leadRank, const Dims& leadShape, const Dims& scaleStride, const Dims& shiftStride, long long scaleCol,
                              long long shiftCol, long long rows, int C, float eps, int G, int vec) {
  __shared__ float red[32];
  float s = 0.f;
  t.each([&](float(&e)[8], int) {
#pragma unroll
    for (int j = 0; j < 8; j++) s += e[j];
  });
  const float mean = rowReduce<false>(s, G, red) / C;
  float v = 0.f;
  t.each([&](float(&e)[8], int ci) {
    const int m = chunkLen(ci, C);
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const float d = e[j] - mean;
      if (j < m) v += d * d;
    }
  });
  const float rstd = rsqrtf(rowReduce<false>(v, G, red) / C + eps);
  const float *sr = nullptr, *hr = nullptr;
  if (scale && row < rows) {
    long long o[2];
    offsetsOf<unsigned long long, long long>((unsigned long long)row, leadRank, leadShape, o, scaleStride, shiftStride);
    sr = scale + o[0];
    hr = shift + o[1];
  }
  Tout* yr = out + row * C;
  t.each([&](float(&e)[8], int ci) {
    float y[8], p[8];
#pragma unroll
    for (int j = 0; j < 8; j++) y[j] = (e[j] - mean) * rstd;
    if (w) {
      ldChunk(w, ci, C, vec, p);
#pragma unroll
      for (int j = 0; j < 8; j++) y[j] *= p[j];
    }
    if (b) {
      ldChunk(b, ci, C, vec, p);
#pragma unroll
      for (int j = 0; j < 8; j++) y[j] += p[j];
    }
    if (sr) {
      float q[8];
      ldChunk(sr, ci, C, vec, p, scaleCol);
      ldChunk(hr, ci, C, vec, q, shiftCol);
#pragma unroll
      for (int j = 0; j < 8; j++) y[j] = y[j] * (1.f + p[j]) + q[j];
    }
    stChunk(yr, ci, C, vec, y);
  });
}

template <typename Tin, typename Tout, int VPT>
__device__ void layerNorm(Tout* out, const Tin* x, const float* w, const float* b, const float* scale, const float* shift, int leadRank,
                          const Dims& leadShape, const Dims& scaleStride, const Dims& shiftStride, long long scaleCol, long long shiftCol,
                          long long rows, int C, float eps, int G, int vec) {
  const long long row = rowOf(G);
  RowTile<Tin, VPT> t(x, row, rows, C, G, vec);
  layerNormTile(t, out, row, w, b, scale, shift, leadRank, leadShape, scaleStride, shiftStride, scaleCol, shiftCol, rows, C, eps, G, vec);
}

// sum = x + y (* gate), rounded into x's dtype and written out, then the layerNorm above of that
// rounded row: gatedAdd (or add) and layerNorm in one pass over the residual stream. The gate
// row comes through the same leading-dims layout as scale/shift. The x tile must be resident
// (the host checks C): the sum replaces it in registers.
template <typename Tx, typename Ty, typename Tout, int VPT>
__device__ void residualLayerNorm(Tout* out, const Tx* x, Tx* sum, const Ty* y, const float* gate, const float* w, const float* b,
                                  const float* scale, const float* shift, int leadRank, const Dims& leadShape, const Dims& gateStride,
                                  const Dims& scaleStride, const Dims& shiftStride, long long gateCol, long long scaleCol,
                                  long long shiftCol, long long rows, int C, float eps, int G, int vec) {
  const long long row = rowOf(G);
  RowTile<Tx, VPT> t(x, row, rows, C, G, vec);
  const float* gr = nullptr;
  if (gate && row < rows) {
    long long o[1];
    offsetsOf<unsigned long long, long long>((unsigned long long)row, leadRank, leadShape, o, gateStride);
    gr = gate + o[0];
  }
  const Ty* yr = y + row * C;
  Tx* sr = sum + row * C;
  t.each([&](float(&e)[8], int ci) {
    float p[8], g[8];
    ldChunk(yr, ci, C, vec, p);
    if (gr) {
      ldChunk(gr, ci, C, vec, g, gateCol);
#pragma unroll
      for (int j = 0; j < 8; j++) e[j] = ternaryOp(1, e[j], p[j], g[j]);
    } else {
#pragma unroll
      for (int j = 0; j < 8; j++) e[j] = binaryOp(0, e[j], p[j]);
    }
#pragma unroll
    for (int j = 0; j < 8; j++) e[j] = roundTo<Tx>(e[j]);
    stChunk(sr, ci, C, vec, e);
  });
  layerNormTile(t, out, row, w, b, scale, shift, leadRank, leadShape, scaleStride, shiftStride, scaleCol, shiftCol, rows, C, eps, G, vec);
}

// 1 / RMS of a row tile (every thread of the CTA calls it: it synchronises when G > 1).
template <typename Tile>
__device__ __forceinline__ float rowInvRms(Tile& t, int C, float eps, int G, float* red) {
  float s = 0.f;
  t.each([&](float(&e)[8], int) {
#pragma unroll
    for (int j = 0; j < 8; j++) s += e[j] * e[j];
  });
  return rsqrtf(rowReduce<false>(s, G, red) / C + eps);
}

// Chunk ci of the RMS-normalised row (values e, 1 / RMS r) times the weight, into p.
__device__ __forceinline__ void rmsChunk(const float (&e)[8], const float* w, int ci, int C, int vec, float r, float (&p)[8]) {
  ldChunk(w, ci, C, vec, p);
#pragma unroll
  for (int j = 0; j < 8; j++) p[j] *= e[j] * r;
}

template <typename T, int VPT>
__device__ void rmsNorm(T* out, const T* x, const float* w, long long rows, int C, float eps, int G, int vec) {
  __shared__ float red[32];
  const long long row = rowOf(G);
  RowTile<T, VPT> t(x, row, rows, C, G, vec);
  const float r = rowInvRms(t, C, eps, G, red);
  T* yr = out + row * C;
  t.each([&](float(&e)[8], int ci) {
    float p[8];
    rmsChunk(e, w, ci, C, vec, r, p);
    stChunk(yr, ci, C, vec, p);
  });
}

template <typename T, int VPT>
__device__ void softmaxRows(T* out, const T* x, long long rows, int C, int G, int vec) {
  __shared__ float red[32];
  const long long row = rowOf(G);
  RowTile<T, VPT> t(x, row, rows, C, G, vec);
  float m = -INFINITY;
  t.each([&](float(&e)[8], int ci) {
    const int n = chunkLen(ci, C);
#pragma unroll
    for (int j = 0; j < 8; j++)
      if (j < n) m = fmaxf(m, e[j]);
  });
  m = rowReduce<true>(m, G, red);
  float s = 0.f;
  t.each([&](float(&e)[8], int ci) {
    const int n = chunkLen(ci, C);
#pragma unroll
    for (int j = 0; j < 8; j++)
      if (j < n) s += expf(e[j] - m);
  });
  const float inv = 1.f / rowReduce<false>(s, G, red);
  T* yr = out + row * C;
  t.each([&](float(&e)[8], int ci) {
    float y[8];
#pragma unroll
    for (int j = 0; j < 8; j++) y[j] = expf(e[j] - m) * inv;
    stChunk(yr, ci, C, vec, y);
  });
}

// ---- RoPE ---------------------------------------------------------------------------------
//
// The (cos, sin) table holds, per grid axis a, per position along a, per pair j < split[a]/2,
// the rotation by pos * theta^(-2j / split[a]), computed once in double (positions reach the
// hundreds: an f32 angle would lose ~1e-5 of the rotation). Axes are stored one after the
// other: [gt][h0], then [gh][h1], then [gw][h2], with h_a = split[a] / 2.

__device__ void ropeTable(float2* table, int gt, int gh, int gw, int s0, int s1, int s2, double theta) {
  const int h0 = s0 / 2, h1 = s1 / 2, h2 = s2 / 2;
  const int n0 = gt * h0, n1 = gh * h1, n = n0 + n1 + gw * h2;
  GRID_LOOP(int, i, n) {
    int k = i, half = h0, dim = s0;
    if (k >= n0) {
      k -= n0, half = h1, dim = s1;
      if (k >= n1) k -= n1, half = h2, dim = s2;
    }
    const double ang = (k / half) * pow(theta, -2.0 * (k % half) / dim);
    table[i] = make_float2((float)cos(ang), (float)sin(ang));
  }
}

struct RopeGeom {
  int L, H, D, gt, gh, gw, h0, h1;
};

// Table entry of pair p (p < D/2) for the token at grid position (pt, ph, pw).
__device__ __forceinline__ int ropeEntry(const RopeGeom& g, int p, int pt, int ph, int pw) {
  if (p < g.h0) return pt * g.h0 + p;
  if (p < g.h0 + g.h1) return g.gt * g.h0 + ph * g.h1 + (p - g.h0);
  const int h2 = g.D / 2 - g.h0 - g.h1;
  return g.gt * g.h0 + g.gh * g.h1 + pw * h2 + (p - g.h0 - g.h1);
}

// K consecutive pairs starting at element e (inside one head row of D) of x [B, L, H, D].
template <typename I, typename T, int K>
__device__ __forceinline__ void ropePairs(T* out, const T* x, const float2* table, const RopeGeom& g, I e) {
  const I row = e / g.D;
  const int p0 = (int)(e - row * g.D) / 2;
  const int l = (int)((row / g.H) % g.L);
  float v[2 * K];
  if constexpr (K == 4) ld8(x + e, v);
  else v[0] = ld(x + e), v[1] = ld(x + e + 1);
  const int video = g.gt * g.gh * g.gw;
  if (l < video) {
    const int pt = l / (g.gh * g.gw), hw = l - pt * g.gh * g.gw, ph = hw / g.gw, pw = hw - ph * g.gw;
#pragma unroll
    for (int k = 0; k < K; k++) {
      const float2 cs = table[ropeEntry(g, p0 + k, pt, ph, pw)];
      const float a = v[2 * k], b = v[2 * k + 1];
      v[2 * k] = a * cs.x - b * cs.y;
      v[2 * k + 1] = a * cs.y + b * cs.x;
    }
  }
  if constexpr (K == 4) st8(out + e, v);
  else st(out + e, v[0]), st(out + e + 1, v[1]);
}

// vec: D % 8 == 0 and both pointers 16-byte aligned: 4 pairs (one 16-byte access for 2-byte
// dtypes) per step.
template <typename I, typename T>
__device__ __forceinline__ void ropeLoop(T* out, const T* x, const float2* table, long long n, const RopeGeom& g, int vec) {
  if (vec) {
    GRID_LOOP(I, c, n / 8) ropePairs<I, T, 4>(out, x, table, g, 8 * c);
  } else {
    GRID_LOOP(I, c, n / 2) ropePairs<I, T, 1>(out, x, table, g, 2 * c);
  }
}

template <typename T>
__device__ void rope3d(T* out, const T* x, const float2* table, long long n, RopeGeom g, int vec, int wide) {
  if (wide) ropeLoop<unsigned long long>(out, x, table, n, g, vec);
  else ropeLoop<unsigned>(out, x, table, n, g, vec);
}

// Grid position of token row `row` of x [B * L, ...]; `video` false for tokens past the grid (text).
struct TokenPos {
  bool video;
  int pt, ph, pw;
};
__device__ __forceinline__ TokenPos tokenPos(const RopeGeom& g, long long row) {
  const int l = (int)(row % g.L), hw = g.gh * g.gw;
  const int pt = l / hw, ph = (l - pt * hw) / g.gw;
  return {l < g.gt * hw, pt, ph, l - pt * hw - ph * g.gw};
}

// Rotates the 4 pairs of chunk ci (8 channels, inside one head as D % 8 == 0) of a token at `at`.
__device__ __forceinline__ void ropeChunk(float (&p)[8], int ci, const RopeGeom& g, const float2* table, const TokenPos& at) {
  const int p0 = (8 * ci % g.D) / 2;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const float2 cs = table[ropeEntry(g, p0 + k, at.pt, at.ph, at.pw)];
    const float a = p[2 * k], b = p[2 * k + 1];
    p[2 * k] = a * cs.x - b * cs.y;
    p[2 * k + 1] = a * cs.y + b * cs.x;
  }
}

// rope3d with its RMSNorm: one row per token of x [B * L, H * D] (D % 8 == 0, so a chunk of 8
// lies inside one head), normalised over all H * D channels, then each chunk's 4 pairs rotated;
// rounded once. The row is read twice (the second time from cache) rather than kept in
// registers: faster at Wan's 1536 channels than the register-resident tile (0.088 vs 0.118 ms,
// tools/bench/hopper/row_kernels_bench.cu).
template <typename T, int VPT>
__device__ void rmsNormRope(T* out, const T* x, const float* w, const float2* table, long long rows, int C, float eps, RopeGeom g,
                            int G, int vec) {
  __shared__ float red[32];
  const long long row = rowOf(G);
  RowTile<T, VPT> t(x, row, rows, C, G, vec);
  const float r = rowInvRms(t, C, eps, G, red);
  const TokenPos at = tokenPos(g, row);
  T* yr = out + row * C;
  t.each([&](float(&e)[8], int ci) {
    float p[8];
    rmsChunk(e, w, ci, C, vec, r, p);
    if (at.video) ropeChunk(p, ci, g, table, at);
    stChunk(yr, ci, C, vec, p);
  });
}

}  // namespace

// X-macros over the float storage dtypes: M(args..., T, NT) for each; one name per nesting
// level, as the preprocessor does not re-enter a macro inside its own expansion.
#define DTYPES_0(M) M(float, f32) M(__half, f16) M(__nv_bfloat16, bf16)
#define DTYPES_1(M, ...) M(__VA_ARGS__, float, f32) M(__VA_ARGS__, __half, f16) M(__VA_ARGS__, __nv_bfloat16, bf16)
#define DTYPES_2(M, ...) M(__VA_ARGS__, float, f32) M(__VA_ARGS__, __half, f16) M(__VA_ARGS__, __nv_bfloat16, bf16)

extern "C" {

__global__ void rope_table(float2* t, int gt, int gh, int gw, int s0, int s1, int s2, double theta) {
  ropeTable(t, gt, gh, gw, s0, s1, s2, theta);
}

#define COPY(E, NAME)                                                                                   \
  __global__ void copy_##NAME(E* d, const E* s, long long n, int r, Dims sh, Dims ds, Dims ss, int wide) { \
    copyStrided(d, s, n, r, sh, ds, ss, wide);                                                           \
  }
COPY(uint8_t, e1)
COPY(uint16_t, e2)
COPY(uint32_t, e4)
COPY(uint2, e8)
COPY(uint4, e16)

#define CAST(A, NA, B, NB) \
  __global__ void cast_##NA##_##NB(B* d, const A* s, long long n) { castContig<A, B>(d, s, n); }
CAST(float, f32, __half, f16)
CAST(float, f32, __nv_bfloat16, bf16)
CAST(__half, f16, float, f32)
CAST(__half, f16, __nv_bfloat16, bf16)
CAST(__nv_bfloat16, bf16, float, f32)
CAST(__nv_bfloat16, bf16, __half, f16)

// binary_<a>_<b>, binary_strided_<a>_<b>: output in a's dtype, b in any float dtype.
#define BINARY(A, NA, B, NB)                                                                                               \
  __global__ void binary_##NA##_##NB(A* o, const A* a, const B* b, unsigned n, int op, int modes, unsigned C, int vec) {  \
    binaryFast<A, B>(o, a, b, n, op, modes, C, vec);                                                                       \
  }                                                                                                                        \
  __global__ void binary_strided_##NA##_##NB(A* o, const A* a, const B* b, long long n, int op, int r, Dims sh, Dims sa, \
                                             Dims sb, int wide) {                                                          \
    binaryStrided<A, B>(o, a, b, n, op, r, sh, sa, sb, wide);                                                              \
  }
#define BINARY_A(A, NA) DTYPES_1(BINARY, A, NA)
DTYPES_0(BINARY_A)

// ternary_<x>_<y>_<z>, ternary_strided_<x>_<y>_<z>: output in x's dtype, y and z in any float dtype.
#define TERNARY(X, NX, Y, NY, Z, NZ)                                                                                          \
  __global__ void ternary_##NX##_##NY##_##NZ(X* o, const X* x, const Y* y, const Z* z, unsigned n, int op, int modes,        \
                                             unsigned C, int vec) {                                                         \
    ternaryFast<X, Y, Z>(o, x, y, z, n, op, modes, C, vec);                                                                 \
  }                                                                                                                         \
  __global__ void ternary_strided_##NX##_##NY##_##NZ(X* o, const X* x, const Y* y, const Z* z, long long n, int op, int r,   \
                                                     Dims sh, Dims sx, Dims sy, Dims sz, int wide) {                        \
    ternaryStrided<X, Y, Z>(o, x, y, z, n, op, r, sh, sx, sy, sz, wide);                                                    \
  }
#define TERNARY_XY(X, NX, Y, NY) DTYPES_2(TERNARY, X, NX, Y, NY)
#define TERNARY_X(X, NX) DTYPES_1(TERNARY_XY, X, NX)
DTYPES_0(TERNARY_X)

// Row kernels: _r2 keeps up to 2 chunks of 8 per lane in registers, _r8 up to 8.
#define LAYERNORM(VPT, TI, NI, TO, NO)                                                                                  \
  __global__ void __launch_bounds__(512) layernorm_##NI##_##NO##_r##VPT(TO* o, const TI* x, const float* w, const float* b, \
                                                                        const float* sc, const float* sh, int lr, Dims ls,  \
                                                                        Dims ss, Dims hs, long long scol, long long hcol,   \
                                                                        long long rows, int C, float eps, int G, int vec) { \
    layerNorm<TI, TO, VPT>(o, x, w, b, sc, sh, lr, ls, ss, hs, scol, hcol, rows, C, eps, G, vec);                          \
  }
#define ROWS(VPT, T, NT)                                                                                                \
  DTYPES_2(LAYERNORM, VPT, T, NT)                                                                                       \
  __global__ void __launch_bounds__(512) rmsnorm_##NT##_r##VPT(T* o, const T* x, const float* w, long long rows, int C, \
                                                               float eps, int G, int vec) {                             \
    rmsNorm<T, VPT>(o, x, w, rows, C, eps, G, vec);                                                                     \
  }                                                                                                                     \
  __global__ void __launch_bounds__(512) softmax_##NT##_r##VPT(T* o, const T* x, long long rows, int C, int G, int vec) { \
    softmaxRows<T, VPT>(o, x, rows, C, G, vec);                                                                         \
  }
DTYPES_1(ROWS, 2)
DTYPES_1(ROWS, 8)

// residual_layernorm_f32_<y>_<out>: for an f32 residual stream (other x dtypes compose two ops
// on the host, as do rows too long for the tile: 8 chunks per lane, up to 8 * 32 * 16 chunks).
#define RESIDUAL_LAYERNORM(TY, NY, TO, NO)                                                                             \
  __global__ void __launch_bounds__(512) residual_layernorm_f32_##NY##_##NO(                                          \
      TO* o, const float* x, float* sum, const TY* y, const float* gate, const float* w, const float* b, const float* sc, \
      const float* sh, int lr, Dims ls, Dims gs, Dims ss, Dims hs, long long gcol, long long scol, long long hcol,      \
      long long rows, int C, float eps, int G, int vec) {                                                              \
    residualLayerNorm<float, TY, TO, 8>(o, x, sum, y, gate, w, b, sc, sh, lr, ls, gs, ss, hs, gcol, scol, hcol, rows, C, eps, \
                                     G, vec);                                                                           \
  }
#define RESIDUAL_LAYERNORM_Y(TY, NY) DTYPES_1(RESIDUAL_LAYERNORM, TY, NY)
DTYPES_0(RESIDUAL_LAYERNORM_Y)

#define STREAM(T, NT)                                                                                                 \
  __global__ void unary_##NT(T* o, const T* a, long long n, int op) { unary<T>(o, a, n, op); }                        \
  __global__ void rope3d_##NT(T* o, const T* x, const float2* table, long long n, int L, int H, int D, int gt, int gh, \
                              int gw, int h0, int h1, int vec, int wide) {                                            \
    rope3d<T>(o, x, table, n, RopeGeom{L, H, D, gt, gh, gw, h0, h1}, vec, wide);                                      \
  }                                                                                                                   \
  __global__ void __launch_bounds__(512) rmsnorm_rope_##NT(T* o, const T* x, const float* w, const float2* table,      \
                                                           long long rows, int C, float eps, int L, int H, int D, int gt, \
                                                           int gh, int gw, int h0, int h1, int G, int vec) {          \
    rmsNormRope<T, 1>(o, x, w, table, rows, C, eps, RopeGeom{L, H, D, gt, gh, gw, h0, h1}, G, vec);                      \
  }
DTYPES_0(STREAM)

}  // extern "C"
