// Flash attention (FA2 style: mma.sync m16n8k16, online softmax in registers) for f16/bf16,
// head_dim 64 or 128, any token count. One CTA owns BR = 16 * NW query rows of one (batch, head)
// and sweeps 64-key tiles, either all of them (dense) or those of the BlockMask CSR row of its
// query block (sparse: BR equals the mask block size, so one CSR row drives the whole CTA).
// With a map request the CTA also owns one query row of the sparsity map (BR equals the map
// block size): after the softmax sweep it knows each row's final LSE and sweeps QK^T once more
// (no exp, no PV) counting s < LSE + ln(tau) per key block. That second sweep is a deliberate,
// exact choice: the final LSE is only known after the last key, and a one-sweep count against
// the running LSE would be approximate.
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

template <typename T, int D, int ROWS, int NT>
__device__ __forceinline__ void loadTile(T* s, const T* g, int row0, int limit, int tid) {
  constexpr int CH = D / 8;
  for (int i = tid; i < ROWS * CH; i += NT) {
    int r = i / CH, c = i % CH;
    bool v = row0 + r < limit;
    cp16(s + swz<D>(r, c), v ? g + (size_t)(row0 + r) * D + c * 8 : g, v);
  }
}

template <int BC>
struct Sweep {
  const int* colIdx;  // null: dense
  int beg;            // first CSR entry of this query block's row
  int tilesPerBlock;  // mask block size / BC
  int maskBs;
  __device__ __forceinline__ int keyBase(int t) const {
    return colIdx ? colIdx[beg + t / tilesPerBlock] * maskBs + (t % tilesPerBlock) * BC : t * BC;
  }
};

template <typename T, int D, int NW, int MT, int BC, bool MAP>
__device__ __forceinline__ void flashAttention(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                               T* __restrict__ out, float* __restrict__ lse, int H, int Lq, int Lk,
                                               float scaleLog2, const int* __restrict__ rowPtr,
                                               const int* __restrict__ colIdx, int maskBs, int nQmask,
                                               float* __restrict__ map, float log2Tau, int mapBs, int mapTokQ,
                                               int mapTokK) {
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
  __shared__ int sCount;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int bh = blockIdx.y, h = bh % H;
  const int qBlock = blockIdx.x, q0 = qBlock * BR;
  const T* qp = q + (size_t)bh * Lq * D;
  const T* kp = k + (size_t)bh * Lk * D;
  const T* vp = v + (size_t)bh * Lk * D;

  Sweep<BC> sw{colIdx, 0, maskBs / BC, maskBs};
  int nTiles;
  if (rowPtr) {
    int r = h * nQmask + qBlock;
    sw.beg = rowPtr[r];
    nTiles = (rowPtr[r + 1] - sw.beg) * sw.tilesPerBlock;
  } else {
    nTiles = (Lk + BC - 1) / BC;
  }

  // cp.async groups are committed in the order Q+K0, V0, K1, V1, ...: each wait_group(1)
  // below waits for the older of the two groups in flight, so the K load of tile t+1
  // overlaps softmax and PV of tile t, and the V load overlaps the next QK^T.
  loadTile<T, D, BR, NT>(sQ, qp, q0, Lq, tid);
  const int kb0 = nTiles > 0 ? sw.keyBase(0) : 0;
  if (nTiles > 0) loadTile<T, D, BC, NT>(sK, kp, kb0, Lk, tid);
  cpCommit();
  if (nTiles > 0) loadTile<T, D, BC, NT>(sV, vp, kb0, Lk, tid);
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

  for (int t = 0; t < nTiles; t++) {
    const int st = t & 1;
    const int kb = sw.keyBase(t);
    const int kbNext = t + 1 < nTiles ? sw.keyBase(t + 1) : 0;
    cpWait<1>();  // K_t
    __syncthreads();
    float s[MT][SN][4];
    scores(s, sK + st * BC * D);
    if (t + 1 < nTiles) loadTile<T, D, BC, NT>(sK + (st ^ 1) * BC * D, kp, kbNext, Lk, tid);
    cpCommit();
    const bool ragged = kb + BC > Lk;
    // m is kept on raw scores (the host routes scale <= 0 elsewhere), so exp2(s*scale - m*scale) is one FFMA
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      float mx0 = m[mt][0], mx1 = m[mt][1];
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
    if (t + 1 < nTiles) loadTile<T, D, BC, NT>(sV + (st ^ 1) * BC * D, vp, kbNext, Lk, tid);
    cpCommit();
  }
  cpWait<0>();
  __syncthreads();

  T* op = out + (size_t)bh * Lq * D;
  float thr[MT][2];  // per-row map threshold on raw scores
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
          *reinterpret_cast<uint32_t*>(op + (size_t)r * D + i * 8 + 2 * tq) =
              pack2(o[mt][i][2 * hh] * inv, o[mt][i][2 * hh + 1] * inv, (T*)nullptr);
      }
      const float lse2 = lt > 0.f ? m[mt][hh] * scaleLog2 + __log2f(lt) : -INFINITY;
      if (tq == 0 && r < Lq) lse[(size_t)bh * Lq + r] = lse2 * 0.69314718055994531f;
      // raw-score threshold (scale > 0): s < (LSE2 + log2 tau) / scaleLog2; -inf for rows outside the map
      thr[mt][hh] = r < mapTokQ ? (lse2 + log2Tau) / scaleLog2 : -INFINITY;
    }
  }
  if (!MAP || q0 >= mapTokQ) return;

  // Map sweep: QK^T only, counting p < tau  <=>  s*scale*log2e < LSE2 + log2(tau).
  const int nQm = (mapTokQ + mapBs - 1) / mapBs, nKm = (mapTokK + mapBs - 1) / mapBs;
  const int rowsI = min(mapBs, mapTokQ - q0);
  const int tilesPerMapBlock = mapBs / BC;
  const int mTiles = (mapTokK + BC - 1) / BC;
  float* mapRow = map + ((size_t)bh * nQm + qBlock) * nKm;
  if (tid == 0) sCount = 0;
  loadTile<T, D, BC, NT>(sK, kp, 0, Lk, tid);
  cpCommit();
  for (int t = 0; t < mTiles; t++) {
    const int st = t & 1;
    if (t + 1 < mTiles) loadTile<T, D, BC, NT>(sK + (st ^ 1) * BC * D, kp, (t + 1) * BC, Lk, tid);
    cpCommit();
    cpWait<1>();
    __syncthreads();
    float s[MT][SN][4];
    scores(s, sK + st * BC * D);
    // two instructions per score (compare, predicated add); the key bound only on the ragged tile
    int cnt = 0;
    const int kb = t * BC;
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
    if (lane == 0 && cnt) atomicAdd(&sCount, cnt);
    __syncthreads();
    if (tid == 0 && ((t + 1) % tilesPerMapBlock == 0 || t + 1 == mTiles)) {
      const int J = t / tilesPerMapBlock;
      const int colsJ = min(mapBs, mapTokK - J * mapBs);
      mapRow[J] = (float)sCount / (float)(rowsI * colsJ);
      sCount = 0;
    }
  }
  cpWait<0>();
}

}  // namespace

// Launch: grid (ceil(Lq / BR), B * H), block NW * 32, dynamic smem (BR + 4 * BC) * D * sizeof(T),
// BR = NW * 16 * MT rows per CTA.
#define FLASH_KERNEL(NAME, T, D, NW, MT, BC, MAP)                                                                            \
  extern "C" __global__ void __launch_bounds__(NW * 32)                                                              \
      NAME(const T* q, const T* k, const T* v, T* out, float* lse, int H, int Lq, int Lk, float scaleLog2,           \
           const int* rowPtr, const int* colIdx, int maskBs, int nQmask, float* map, float log2Tau, int mapBs,       \
           int mapTokQ, int mapTokK) {                                                                               \
    flashAttention<T, D, NW, MT, BC, MAP>(q, k, v, out, lse, H, Lq, Lk, scaleLog2, rowPtr, colIdx, maskBs, nQmask, map,       \
                                 log2Tau, mapBs, mapTokQ, mapTokK);                                                  \
  }

// 128-row CTAs: 4 warps x 2 m-tiles; 64-row CTAs: 4 warps x 1 m-tile. The map sweep is a
// separate instantiation so plain attention carries none of its registers.
#define FLASH_FAMILY(T, TN, D)                                                       \
  FLASH_KERNEL(flash_##TN##_d##D##_r128, T, D, 4, 2, 64, false)                       \
  FLASH_KERNEL(flash_##TN##_d##D##_r64, T, D, 4, 1, 64, false)                        \
  FLASH_KERNEL(flash_map_##TN##_d##D##_r128, T, D, 4, 2, 64, true)                    \
  FLASH_KERNEL(flash_map_##TN##_d##D##_r64, T, D, 4, 1, 64, true)
FLASH_FAMILY(__nv_bfloat16, bf16, 128)
FLASH_FAMILY(__nv_bfloat16, bf16, 64)
FLASH_FAMILY(__half, f16, 128)
FLASH_FAMILY(__half, f16, 64)
