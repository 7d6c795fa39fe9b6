// Flash attention (FA2 style: mma.sync m16n8k16, online softmax in registers) for f16/bf16,
// head_dim 64 or 128, any token count. One CTA owns BR = 16 * NW * MT query rows of one
// (batch, head) and sweeps 64-key tiles, either all of them (dense) or those of the BlockMask
// CSR row of its query block (sparse: BR equals the mask block size, so one CSR row drives the
// whole CTA). q/k/v/out are addressed through element strides (batch, head, token; head_dim
// contiguous, every token row 16-byte aligned), so permuted [B, L, H, D] views need no copy.
//
// Sparse launches append a CTA order to the CSR: rowPtr[H * nQmask + 1 ...] lists the
// H * nQmask rows longest first (by length class, head-major within a class: see
// longestRowsFirst in attention-plan.ts), and the c-th CTA of batch b runs the c-th listed row.
// The last wave then holds short rows instead of one long straggler.
//
// With a map request the CTA also owns one query row of the sparsity map (BR equals the map
// block size). The final LSE is only known after the last key, so the map is "bound and
// recheck": the sweep starts at the CTA's diagonal key tile (the running max settles early) and
// keeps, per map key block J, X_J = max over rows of (tile max - running max); after the sweep,
// X_J < G = min over rows of (threshold - final max) proves every entry of J is below its
// row's threshold (map = 1 exactly); only the other blocks get QK^T recomputed and counted.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace {

__device__ __forceinline__ uint32_t pack2(float a, float b, __nv_bfloat16*) {
  __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ uint32_t pack2(float a, float b, __half*) {
  __half2 v = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1, __nv_bfloat16*) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1, __half*) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ldmatrix on a shared-memory byte address
__device__ __forceinline__ void ldsm4(uint32_t r[4], uint32_t a) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldsm4t(uint32_t r[4], uint32_t a) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ uint32_t smemAddr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// 16-byte async copy; rows past the end are zero-filled (src size 0) from a valid address.
__device__ __forceinline__ void cp16(void* s, const void* g, bool valid) {
  uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(s));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(g), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cpCommit() { asm volatile("cp.async.commit_group;\n"); }
template <int N>
__device__ __forceinline__ void cpWait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Shared tiles are [rows][D] with 16-byte chunks XOR-swizzled by (row & 7): the 8 rows an
// ldmatrix reads at one logical column land in 8 different bank groups.
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

// ROWS token rows [row0, row0 + ROWS) of a tile whose rows are `ld` elements apart in global memory
template <typename T, int D, int ROWS, int NT>
__device__ __forceinline__ void loadTile(T* s, const T* g, int row0, int limit, int ld, int tid) {
  constexpr int CH = D / 8;
  for (int i = tid; i < ROWS * CH; i += NT) {
    int r = i / CH, c = i % CH;
    bool v = row0 + r < limit;
    cp16(s + swz<D>(r, c), v ? g + (long long)(row0 + r) * ld + c * 8 : g, v);
  }
}

// Floats ordered as ints (for atomicMax/atomicMin on shared floats): monotonic for non-NaN values.
__device__ __forceinline__ int orderedKey(float f) {
  const int i = __float_as_int(f);
  return i >= 0 ? i : i ^ 0x7fffffff;
}
__device__ __forceinline__ float orderedValue(int k) { return __int_as_float(k >= 0 ? k : k ^ 0x7fffffff); }

// The key tiles of one CTA: its CSR row's blocks (sparse), or every tile starting at `first`
// and wrapping around (dense; first != 0 only in the map's diagonal-first order).
template <int BC>
struct Sweep {
  const int* colIdx;  // null: dense
  int beg;            // first CSR entry of this query block's row
  int blockShift;     // log2(mask block size / BC): mask blocks of 64 or 128 keys
  int maskBs;
  int first, nTiles;
  __device__ __forceinline__ int keyBase(int t) const {
    if (colIdx) return colIdx[beg + (t >> blockShift)] * maskBs + (t & ((1 << blockShift) - 1)) * BC;
    const int u = t + first;
    return (u >= nTiles ? u - nTiles : u) * BC;
  }
};

template <typename T, int D, int NW, int MT, int BC, bool MAP>
__device__ __forceinline__ void flashAttention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                               T* __restrict__ out, float* __restrict__ lse, int H, int Lq, int Lk,
                                               float scaleLog2, const int* __restrict__ rowPtr,
                                               const int* __restrict__ colIdx, int maskBs, int nQmask,
                                               float* __restrict__ map, float log2Tau, int mapBs, int mapTokQ,
                                               int mapTokK, long long qsb, long long qsh, int qsl, long long ksb,
                                               long long ksh, int ksl, long long vsb, long long vsh, int vsl,
                                               long long osb, long long osh, int osl) {
  // Each warp owns MT 16-row m-tiles: every K/V fragment read from shared memory feeds MT mmas.
  constexpr int BR = NW * 16 * MT;
  constexpr int NT = NW * 32;
  constexpr int DK = D / 16;  // k-chunks of QK^T
  constexpr int DN = D / 8;   // n-tiles of O
  constexpr int SN = BC / 8;  // n-tiles of S
  extern __shared__ __align__(16) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);
  T* sK = sQ + BR * D;      // 2 stages
  T* sV = sK + 2 * BC * D;  // 2 stages
  // map only: X_J per map key block (ordered-int floats), then the list of blocks to recheck
  int* sX = reinterpret_cast<int*>(sV + 2 * BC * D);
  __shared__ int sG, sFlagged;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  // the map is a dense-only request: its instantiations carry no sparse path
  if (MAP) rowPtr = colIdx = nullptr;
  int bh = blockIdx.y, qBlock = blockIdx.x;
  if (rowPtr) {
    // the CTA order appended to the CSR (gridDim.x == nQmask)
    const int rows = H * nQmask;
    const int lin = blockIdx.y * gridDim.x + blockIdx.x;
    const int r = rowPtr[rows + 1 + lin % rows];
    bh = lin / rows * H + r / nQmask;
    qBlock = r % nQmask;
  }
  const int b = bh / H, h = bh - b * H;
  const int q0 = qBlock * BR;
  const T* qp = q + b * qsb + h * qsh;
  const T* kp = k + b * ksb + h * ksh;
  const T* vp = v + b * vsb + h * vsh;

  Sweep<BC> sw{colIdx, 0, maskBs > BC ? 1 : 0, maskBs, 0, 0};
  int nTiles;
  if (rowPtr) {
    int r = h * nQmask + qBlock;
    sw.beg = rowPtr[r];
    nTiles = (rowPtr[r + 1] - sw.beg) << sw.blockShift;
  } else {
    nTiles = (Lk + BC - 1) / BC;
    // the diagonal tile usually holds the row max, so the running max is near final early
    if (MAP && Lq == Lk) sw.first = q0 / BC;
  }
  sw.nTiles = nTiles;

  // map bookkeeping: visible to all threads after the first barrier of the sweep
  const bool track = MAP && q0 < mapTokQ;
  const int nKm = MAP ? (mapTokK + mapBs - 1) / mapBs : 0;
  if (MAP) {
    for (int J = tid; J < nKm; J += NT) sX[J] = orderedKey(-INFINITY);
    if (tid == 0) sG = orderedKey(INFINITY), sFlagged = 0;
  }

  // cp.async groups are committed in the order Q+K0, V0, K1, V1, ...: each wait_group(1)
  // below waits for the older of the two groups in flight, so the K load of tile t+1
  // overlaps softmax and PV of tile t, and the V load overlaps the next QK^T.
  loadTile<T, D, BR, NT>(sQ, qp, q0, Lq, qsl, tid);
  const int kb0 = nTiles > 0 ? sw.keyBase(0) : 0;
  if (nTiles > 0) loadTile<T, D, BC, NT>(sK, kp, kb0, Lk, ksl, tid);
  cpCommit();
  if (nTiles > 0) loadTile<T, D, BC, NT>(sV, vp, kb0, Lk, vsl, tid);
  cpCommit();

  float o[MT][DN][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++)
#pragma unroll
    for (int i = 0; i < DN; i++) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.f;
  float m[MT][2], l[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.f;
  const int mi = lane >> 3, mr = lane & 7;
  const int wrow = warp * 16 * MT;
  // ldmatrix addresses. Every row a lane addresses is (multiple of 8) + mr, so the swizzled
  // chunk of logical chunk 2c + b is (2c) ^ (b ^ mr): a per-lane constant XOR-ed with the
  // compile-time 2c, and row offsets of whole m/n tiles become immediates.
  constexpr uint32_t ROW = D * 2;  // bytes per shared row
  const uint32_t qBase = smemAddr(sQ) + (wrow + mr + (mi & 1) * 8) * ROW, qSw = ((mi >> 1) ^ mr) << 4;
  const uint32_t kRow = (mr + (mi >> 1) * 8) * ROW, kSw = ((mi & 1) ^ mr) << 4;
  const uint32_t vRow = (mr + (mi & 1) * 8) * ROW, vSw = ((mi >> 1) ^ mr) << 4;

  // S = Q K^T for this warp's MT m-tiles against the BC keys of tile cK
  auto scores = [&](float (&s)[MT][SN][4], const T* cK) {
    const uint32_t kBase = smemAddr(cK) + kRow;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int i = 0; i < SN; i++) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.f;
#pragma unroll
    for (int kc = 0; kc < DK; kc++) {
      uint32_t qa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) ldsm4(qa[mt], qBase + mt * 16 * ROW + ((kc << 5) ^ qSw));
      const uint32_t kCol = (kc << 5) ^ kSw;
#pragma unroll
      for (int np = 0; np < BC / 16; np++) {
        uint32_t b[4];
        ldsm4(b, kBase + np * 16 * ROW + kCol);
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          mma(s[mt][2 * np], qa[mt], b[0], b[1], (T*)nullptr);
          mma(s[mt][2 * np + 1], qa[mt], b[2], b[3], (T*)nullptr);
        }
      }
    }
  };

  // Tile t's key base: carried from the previous iteration in the map instantiations, re-read
  // (an L1 hit) in the others; with ptxas 13 this choice keeps both free of register spills.
  int kbNext = kb0;
  for (int t = 0; t < nTiles; t++) {
    const int st = t & 1;
    const int kb = MAP ? kbNext : sw.keyBase(t);
    kbNext = t + 1 < nTiles ? sw.keyBase(t + 1) : 0;
    cpWait<1>();  // K_t
    __syncthreads();
    float s[MT][SN][4];
    scores(s, sK + st * BC * D);
    if (t + 1 < nTiles) loadTile<T, D, BC, NT>(sK + (st ^ 1) * BC * D, kp, kbNext, Lk, ksl, tid);
    cpCommit();
    const bool ragged = kb + BC > Lk;
    const bool mapTile = track && kb < mapTokK;
    float xw = -INFINITY;  // map: this warp's max of (tile max - running max) over map rows
    // m is kept on raw scores (the host routes scale <= 0 elsewhere), so exp2(s*scale - m*scale) is one FFMA
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < SN; nt++) {
        if (ragged) {
#pragma unroll
          for (int e = 0; e < 4; e++)
            if (kb + nt * 8 + 2 * tq + (e & 1) >= Lk) s[mt][nt][e] = -INFINITY;
        }
        mx0 = fmaxf(mx0, fmaxf(s[mt][nt][0], s[mt][nt][1]));
        mx1 = fmaxf(mx1, fmaxf(s[mt][nt][2], s[mt][nt][3]));
      }
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
      float t0 = mx0, t1 = mx1;  // this tile's row maxima
      mx0 = fmaxf(m[mt][0], mx0);
      mx1 = fmaxf(m[mt][1], mx1);
      if (MAP && mapTile) {
        if (kb + BC > mapTokK) {  // the tile straddles the map's last key: its maxima over map keys only
          t0 = t1 = -INFINITY;
#pragma unroll
          for (int nt = 0; nt < SN; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++)
              if (kb + nt * 8 + 2 * tq + (e & 1) < mapTokK) (e < 2 ? t0 : t1) = fmaxf(e < 2 ? t0 : t1, s[mt][nt][e]);
          t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 1));
          t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, 2));
          t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 1));
          t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, 2));
        }
        const int r = q0 + wrow + mt * 16 + g;
        if (r < mapTokQ) xw = fmaxf(xw, t0 - mx0);
        if (r + 8 < mapTokQ) xw = fmaxf(xw, t1 - mx1);
      }
      // a row with no finite score yet keeps base 0 so exp2(-inf - base) is 0, never NaN
      const float base0 = mx0 == -INFINITY ? 0.f : mx0 * scaleLog2, base1 = mx1 == -INFINITY ? 0.f : mx1 * scaleLog2;
      const float c0 = ex2(m[mt][0] * scaleLog2 - base0), c1 = ex2(m[mt][1] * scaleLog2 - base1);
      m[mt][0] = mx0;
      m[mt][1] = mx1;
      l[mt][0] *= c0;
      l[mt][1] *= c1;
      // once the row maxima settle (most tiles of a long row) the O rescale is skipped warp-wide
      if (!__all_sync(0xffffffffu, c0 == 1.f && c1 == 1.f)) {
#pragma unroll
        for (int i = 0; i < DN; i++) {
          o[mt][i][0] *= c0;
          o[mt][i][1] *= c0;
          o[mt][i][2] *= c1;
          o[mt][i][3] *= c1;
        }
      }
#pragma unroll
      for (int nt = 0; nt < SN; nt++) {
        s[mt][nt][0] = ex2(fmaf(s[mt][nt][0], scaleLog2, -base0));
        s[mt][nt][1] = ex2(fmaf(s[mt][nt][1], scaleLog2, -base0));
        s[mt][nt][2] = ex2(fmaf(s[mt][nt][2], scaleLog2, -base1));
        s[mt][nt][3] = ex2(fmaf(s[mt][nt][3], scaleLog2, -base1));
        l[mt][0] += s[mt][nt][0] + s[mt][nt][1];
        l[mt][1] += s[mt][nt][2] + s[mt][nt][3];
      }
    }
    if (MAP && mapTile) {
      xw = fmaxf(xw, __shfl_xor_sync(0xffffffffu, xw, 4));
      xw = fmaxf(xw, __shfl_xor_sync(0xffffffffu, xw, 8));
      xw = fmaxf(xw, __shfl_xor_sync(0xffffffffu, xw, 16));
      if (lane == 0) atomicMax(&sX[kb / mapBs], orderedKey(xw));
    }
    cpWait<1>();  // V_t
    __syncthreads();
    const uint32_t vBase = smemAddr(sV + st * BC * D) + vRow;
#pragma unroll
    for (int kk = 0; kk < BC / 16; kk++) {
      uint32_t pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        pa[mt][0] = pack2(s[mt][2 * kk][0], s[mt][2 * kk][1], (T*)nullptr);
        pa[mt][1] = pack2(s[mt][2 * kk][2], s[mt][2 * kk][3], (T*)nullptr);
        pa[mt][2] = pack2(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1], (T*)nullptr);
        pa[mt][3] = pack2(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3], (T*)nullptr);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; dp++) {
        uint32_t b[4];
        ldsm4t(b, vBase + kk * 16 * ROW + ((dp << 5) ^ vSw));
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          mma(o[mt][2 * dp], pa[mt], b[0], b[1], (T*)nullptr);
          mma(o[mt][2 * dp + 1], pa[mt], b[2], b[3], (T*)nullptr);
        }
      }
    }
    if (t + 1 < nTiles) loadTile<T, D, BC, NT>(sV + (st ^ 1) * BC * D, vp, kbNext, Lk, vsl, tid);
    cpCommit();
  }
  cpWait<0>();
  __syncthreads();

  T* op = out + b * osb + h * osh;
  float thr[MT][2];  // per-row map threshold on raw scores
  float gw = INFINITY;  // map: this thread's smallest (threshold - final max) minus rounding slack
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
#pragma unroll
    for (int hh = 0; hh < 2; hh++) {
      float lt = l[mt][hh];
      lt += __shfl_xor_sync(0xffffffffu, lt, 1);
      lt += __shfl_xor_sync(0xffffffffu, lt, 2);
      const float inv = lt > 0.f ? 1.f / lt : 0.f;
      const int r = q0 + wrow + mt * 16 + g + hh * 8;
      if (r < Lq) {
#pragma unroll
        for (int i = 0; i < DN; i++)
          *reinterpret_cast<uint32_t*>(op + (long long)r * osl + i * 8 + 2 * tq) =
              pack2(o[mt][i][2 * hh] * inv, o[mt][i][2 * hh + 1] * inv, (T*)nullptr);
      }
      const float lse2 = lt > 0.f ? m[mt][hh] * scaleLog2 + __log2f(lt) : -INFINITY;
      if (tq == 0 && r < Lq) lse[(size_t)bh * Lq + r] = lse2 * 0.69314718055994531f;
      // raw-score threshold (scale > 0): s < (LSE2 + log2 tau) / scaleLog2; -inf for rows outside the map
      thr[mt][hh] = r < mapTokQ ? (lse2 + log2Tau) / scaleLog2 : -INFINITY;
      // The skip test X_J < G chains f32 differences of scores of magnitude |thr| + |m|; a slack
      // of 2^-10 of that magnitude (rounding is 2^-24 of it) keeps the proof exact.
      if (MAP && r < mapTokQ) {
        const float mm = m[mt][hh], th = thr[mt][hh];
        gw = fminf(gw, th - mm - 0x1p-10f * (fabsf(th) + fabsf(mm)));
      }
    }
  }
  if (!MAP || !track) return;

  const int nQm = (mapTokQ + mapBs - 1) / mapBs;
  const int rowsI = min(mapBs, mapTokQ - q0);
  const int tileShift = mapBs > BC ? 1 : 0;  // map blocks of 64 or 128 keys: 1 or 2 tiles
  float* mapRow = map + ((size_t)bh * nQm + qBlock) * nKm;
  gw = fminf(gw, __shfl_xor_sync(0xffffffffu, gw, 4));
  gw = fminf(gw, __shfl_xor_sync(0xffffffffu, gw, 8));
  gw = fminf(gw, __shfl_xor_sync(0xffffffffu, gw, 16));
  if (lane == 0) atomicMin(&sG, orderedKey(gw));
  __syncthreads();
  // Blocks with X_J < G hold no entry at or above its row's threshold: map 1 without a recheck.
  // The others are listed, and their X_J slot becomes their entry count.
  const float G = orderedValue(sG);
  int* sList = sX + nKm;
  for (int J = tid; J < nKm; J += NT) {
    if (orderedValue(sX[J]) < G) {
      mapRow[J] = 1.f;
    } else {
      sX[J] = 0;
      sList[atomicAdd(&sFlagged, 1)] = J;
    }
  }
  __syncthreads();

  // Recheck sweep over the listed blocks: QK^T only, counting p < tau  <=>  s*scale*log2e < LSE2 + log2(tau).
  // One barrier per tile: it publishes tile u and retires every read of the stage tile u+1 refills.
  const int nFlagged = sFlagged;
  const int rTiles = nFlagged << tileShift;
  auto recheckBase = [&](int u) { return sList[u >> tileShift] * mapBs + (u & tileShift) * BC; };
  if (rTiles > 0) loadTile<T, D, BC, NT>(sK, kp, recheckBase(0), Lk, ksl, tid);
  cpCommit();
  for (int u = 0; u < rTiles; u++) {
    const int st = u & 1;
    cpWait<0>();
    __syncthreads();
    if (u + 1 < rTiles) loadTile<T, D, BC, NT>(sK + (st ^ 1) * BC * D, kp, recheckBase(u + 1), Lk, ksl, tid);
    cpCommit();
    float s[MT][SN][4];
    scores(s, sK + st * BC * D);
    // two instructions per score (compare, predicated add); the key bound only on the ragged tile
    int cnt = 0;
    const int kb = recheckBase(u);
    if (kb + BC > mapTokK) {
#pragma unroll
      for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int nt = 0; nt < SN; nt++)
#pragma unroll
          for (int e = 0; e < 4; e++)
            if (kb + nt * 8 + 2 * tq + (e & 1) >= mapTokK) s[mt][nt][e] = INFINITY;
    }
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int nt = 0; nt < SN; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) cnt += s[mt][nt][e] < thr[mt][e >> 1] ? 1 : 0;
    cnt = __reduce_add_sync(0xffffffffu, cnt);
    if (lane == 0 && cnt) atomicAdd(&sX[kb / mapBs], cnt);
  }
  cpWait<0>();
  __syncthreads();
  for (int e = tid; e < nFlagged; e += NT) {
    const int J = sList[e];
    const int colsJ = min(mapBs, mapTokK - J * mapBs);
    mapRow[J] = (float)sX[J] / (float)(rowsI * colsJ);
  }
}

}  // namespace

// Launch: grid (ceil(Lq / BR), B * H), block NW * 32, dynamic smem (BR + 4 * BC) * D * sizeof(T)
// (+ 8 bytes per map key block with a map), BR = NW * 16 * MT rows per CTA. Token strides
// (qsl, ksl, vsl, osl) must fit in 32 bits: the host copies operands whose strides do not.
#define FLASH_KERNEL(NAME, T, D, NW, MT, BC, MAP)                                                                   \
  extern "C" __global__ void __launch_bounds__(NW * 32)                                                             \
      NAME(const T* q, const T* k, const T* v, T* out, float* lse, int H, int Lq, int Lk, float scaleLog2,          \
           const int* rowPtr, const int* colIdx, int maskBs, int nQmask, float* map, float log2Tau, int mapBs,      \
           int mapTokQ, int mapTokK, long long qsb, long long qsh, long long qsl, long long ksb, long long ksh,     \
           long long ksl, long long vsb, long long vsh, long long vsl, long long osb, long long osh,                \
           long long osl) {                                                                                         \
    flashAttention<T, D, NW, MT, BC, MAP>(q, k, v, out, lse, H, Lq, Lk, scaleLog2, rowPtr, colIdx, maskBs, nQmask,  \
                                          map, log2Tau, mapBs, mapTokQ, mapTokK, qsb, qsh, (int)qsl, ksb, ksh,      \
                                          (int)ksl, vsb, vsh, (int)vsl, osb, osh, (int)osl);                        \
  }

// 128-row CTAs: 4 warps x 2 m-tiles; 64-row CTAs: 4 warps x 1 m-tile. The map is a separate
// instantiation so plain attention carries none of its registers.
#define FLASH_FAMILY(T, TN, D)                                                       \
  FLASH_KERNEL(flash_##TN##_d##D##_r128, T, D, 4, 2, 64, false)                       \
  FLASH_KERNEL(flash_##TN##_d##D##_r64, T, D, 4, 1, 64, false)                        \
  FLASH_KERNEL(flash_map_##TN##_d##D##_r128, T, D, 4, 2, 64, true)                    \
  FLASH_KERNEL(flash_map_##TN##_d##D##_r64, T, D, 4, 1, 64, true)
FLASH_FAMILY(__nv_bfloat16, bf16, 128)
FLASH_FAMILY(__nv_bfloat16, bf16, 64)
FLASH_FAMILY(__half, f16, 128)
FLASH_FAMILY(__half, f16, 64)
