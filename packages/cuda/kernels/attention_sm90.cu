// Flash attention for Hopper (sm_90a only; FlashAttention-3 style) for f16/bf16, head_dim 128,
// any token count, with the semantics of attention.cu (online softmax on raw scores with exp2,
// LSE, CSR block-sparse sweep, ragged last tiles, rows with no key -> 0 / -inf).
//
// One CTA owns BR = 128 query rows of one (batch, head) = one mask / map query block, and runs
// three warpgroups:
//  - warpgroup 0, the producer (few registers after setmaxnreg), copies Q once and then the K and
//    V tiles of the key sweep into shared memory with cp.async, STAGES deep, each tile laid out
//    in the 128-byte-swizzled form wgmma reads; completion is signalled on "full" mbarriers by
//    cp.async.mbarrier.arrive, and it refills a stage when the consumers arrive on its "empty"
//    mbarrier. (Not TMA: the kernel signature carries pointers and strides, not tensor maps.)
//  - warpgroups 1 and 2, the consumers, own 64 query rows each: S = Q K^T with wgmma (both
//    operands from shared memory, K-major), online softmax in registers, O += P V with P taken
//    from registers (the S accumulator re-packed to 16-bit pairs is the A fragment) and V read
//    N-major (transpose bit) from the same swizzled layout. Within a warpgroup the QK^T of tile t
//    is issued before the PV of tile t-1, so the softmax of tile t runs while PV t-1 is on the
//    tensor cores.
// K and V have separate pipelines: a K stage is released as soon as its S is computed.
//
// Map (MAP instantiation, dense only): bound-and-recheck, see the shared attention contract.
// With Lq == Lk the sweep starts at the CTA's diagonal key tile and wraps around, so the running
// maxima are near final early. Per key tile J inside the map the consumers keep
// X_J = max over map rows i of (max_{j in J} s_ij - m_i(t)) (m_i(t): running max including the
// tile), as an atomic max on the ordered-int pattern, in map[b,h,I,J] itself (this CTA owns that
// row of the map, so it is free scratch). After the sweep G = min over map rows of (thr_i - m_i).
// X_J < G proves every s_ij of block J is below thr_i (fl(x - c) is monotone in x): map = 1.
// Every other block gets a bit in a mask in shared memory and is recomputed (QK^T only) and counted
// exactly like attention.cu's second sweep. The recheck reuses the sweep's producer/consumer
// pipeline with the V stages turned into K stages (2 * STAGES K tiles in flight). Its QK^T takes
// Q from registers (A fragments loaded once with ldmatrix): with both operands in shared memory
// the wgmma reads plus the K stream saturate shared-memory bandwidth. Each consumer warpgroup
// keeps two score accumulators (the QK^T of the next block runs while this one is counted),
// counts its rows in registers, reduces per warp (redux) and adds the warp's count to the block's
// integer count in the map row with a fire-and-forget atomic; the counts become fractions once
// per chunk of blocks. With map.within (the launch's CSR in a map kernel) blocks outside it are
// written NaN and never rechecked: a refresh step recounts only the blocks its mask computes. A
// CTA whose within row holds at most a quarter of the blocks skips the bound and recounts them all
// (they are the blocks its mask predicted to matter: the bound would settle few, at full cost).
#include <stdint.h>

#include "element_io.cuh"

// K/V pipeline depth. 3 (224 KiB of shared memory) measured no faster than 2 on the H100
// (tools/bench/hopper/check_sm90.py); attention-sm90.ts sizes shared memory for 2.
#ifndef SM90_STAGES
#define SM90_STAGES 2
#endif

namespace {

constexpr int D = 128;          // head_dim
constexpr int BR = 128;         // query rows per CTA (2 consumer warpgroups x 64)
constexpr int BC = 128;         // keys per tile (= mask and map block)
constexpr int STAGES = SM90_STAGES;
constexpr int HALF = BC * 128;  // bytes of one 64-column half of a 128-row tile (128-byte rows)
constexpr int TILE = 2 * HALF;  // bytes of one 128 x 128 tile
constexpr int THREADS = 384;
constexpr int CONSUMER_WARPS = 8;
// registers per thread after setmaxnreg: 128 * P + 256 * C = 384 * 168, the launch allocation
// (ptxas fits each role's code to its own count: no spills at 72 / 216)
constexpr int PRODUCER_REGS = 72;
constexpr int CONSUMER_REGS = 216;

__device__ __forceinline__ uint32_t smemAddr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// ---- mbarriers -------------------------------------------------------------------------
__device__ __forceinline__ void mbarInit(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbarArrive(uint32_t bar) {
  asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbarWait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// ---- cp.async --------------------------------------------------------------------------
// 16-byte copy; rows past the end are zero-filled (src size 0) from a valid address.
__device__ __forceinline__ void cp16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
}
// the barrier gets this thread's arrival once all its earlier cp.async have landed
__device__ __forceinline__ void cpArrive(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

// One 128-row x 128-column tile (rows row0.. of a [*, rowStride] matrix, rows >= limit zeroed)
// into the 128B-swizzled layout: two 64-column halves, each [128 rows][128 bytes] with 16-byte
// chunk c of row r stored at chunk c ^ (r & 7). Thread pt of 128 copies chunk pt & 15 of rows
// (pt >> 4) + 8j: a warp covers two full 256-byte rows per step (coalesced), and its destination
// only moves by 1024 bytes per step. The source pointer steps by 8 rows (one 64-bit add per
// copy) and a full tile skips the row checks: the producer warps share the schedulers with the
// consumers, so every instruction they save is an issue slot for the softmax and the map count.
template <typename T>
__device__ __forceinline__ void loadTile(uint32_t sBase, const T* g, long long rowStride, int row0, int limit, int pt) {
  const int r = pt >> 4, c = pt & 15;
  const uint32_t dst = sBase + (c >> 3) * HALF + r * 128 + (((c & 7) ^ r) << 4);
  const T* src = g + (long long)(row0 + r) * rowStride + c * 8;
  const long long step = 8 * rowStride;
  if (row0 + 128 <= limit) {
#pragma unroll
    for (int j = 0; j < 16; j++, src += step) cp16(dst + j * 1024, src);
  } else {
#pragma unroll
    for (int j = 0; j < 16; j++, src += step) {
      const bool ok = row0 + r + 8 * j < limit;
      cp16(dst + j * 1024, ok ? src : g, ok);
    }
  }
}

// ---- wgmma -----------------------------------------------------------------------------
// Shared-memory matrix descriptor, 128-byte swizzle; tiles are 1024-byte aligned (base offset 0).
__device__ __forceinline__ uint64_t gmmaDesc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}
__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Tells the compiler the accumulators change here (at a wait), so it neither reads them early
// nor keeps stale copies across the asynchronous MMA.
template <int N>
__device__ __forceinline__ void fenceRegs(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}
// cp.async (unlike TMA) writes shared memory through the generic proxy and wgmma reads it through
// the async proxy: a consumer fences after the full barrier and before its wgmma.
__device__ __forceinline__ void proxyFence() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

#define ACC_REGS                                                                                                     \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, "   \
  "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define ACC8(b) \
  "+f"(d[b]), "+f"(d[b + 1]), "+f"(d[b + 2]), "+f"(d[b + 3]), "+f"(d[b + 4]), "+f"(d[b + 5]), "+f"(d[b + 6]), "+f"(d[b + 7])
#define ACC_OPS ACC8(0), ACC8(8), ACC8(16), ACC8(24), ACC8(32), ACC8(40), ACC8(48), ACC8(56)

// D[64x128] (+)= A[64x16] B[16x128]: A and B from shared memory, both K-major.
#define WGMMA_SS(TY)                                                                                              \
  __device__ __forceinline__ void wgmmaSS(float (&d)[64], uint64_t a, uint64_t b, int accumulate, TY*) {          \
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %66, 0;\n"                                                   \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." #TY "." #TY " " ACC_REGS ", %64, %65, p, 1, 1, 0, 0;\n}\n" \
                 : ACC_OPS                                                                                        \
                 : "l"(a), "l"(b), "r"(accumulate));                                                              \
  }
// D[64x128] += A[64x16] B[16x128]: A from registers, B from shared memory N-major (transposed).
#define WGMMA_RS(TY)                                                                                                 \
  __device__ __forceinline__ void wgmmaRS(float (&d)[64], const uint32_t (&a)[4], uint64_t b, TY*) {                 \
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"                                                   \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." #TY "." #TY " " ACC_REGS                             \
                 ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"                                                    \
                 : ACC_OPS                                                                                           \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                                      \
  }
typedef __nv_bfloat16 bf16;
typedef __half f16;
WGMMA_SS(bf16)
WGMMA_SS(f16)
WGMMA_RS(bf16)
WGMMA_RS(f16)
// D[64x128] (+)= A[64x16] B[16x128]: A from registers, B from shared memory K-major.
#define WGMMA_RSK(TY)                                                                                                 \
  __device__ __forceinline__ void wgmmaRSK(float (&d)[64], const uint32_t (&a)[4], uint64_t b, int accumulate, TY*) { \
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"                                                   \
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32." #TY "." #TY " " ACC_REGS                             \
                 ", {%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"                                                    \
                 : ACC_OPS                                                                                           \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(accumulate));                             \
  }
WGMMA_RSK(bf16)
WGMMA_RSK(f16)

// two values as one 32-bit word of T pairs (RNE)
template <typename T>
__device__ __forceinline__ uint32_t packWord(float a, float b) {
  const auto h = pack2(a, b, static_cast<const T*>(nullptr));
  return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
// float <-> int with the same order (for atomic max / min on floats)
__device__ __forceinline__ int orderedKey(float f) {
  const int i = __float_as_int(f);
  return i >= 0 ? i : i ^ 0x7fffffff;
}
__device__ __forceinline__ float orderedFloat(int k) { return __int_as_float(k >= 0 ? k : k ^ 0x7fffffff); }

__device__ __forceinline__ float quadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}
__device__ __forceinline__ void namedBarrier(int id, int count) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory"); }

// The key tile a sweep step t reads: CSR order (sparse), or all tiles from `first` wrapping
// around (dense; first = the diagonal tile for a map sweep with Lq == Lk, else 0).
struct Sweep {
  const int* colIdx;  // null: dense
  int beg;            // first CSR entry of this query block's row
  int nTiles;
  int first;
  __device__ __forceinline__ int keyBase(int t) const {
    if (colIdx) return colIdx[beg + t] * BC;
    const int u = t + first;
    return (u < nTiles ? u : u - nTiles) * BC;
  }
};

constexpr int SLOTS = 2 * STAGES;
constexpr int MASK_WORDS = 32;
constexpr int CHUNK = MASK_WORDS * 32;  // map blocks per recheck mask; longer map rows go chunk by chunk

// Walks the set bits of the recheck mask in order (producer and consumers see the same sequence).
struct MaskIter {
  const uint32_t* words;
  int w = -1;
  uint32_t bits = 0;
  // next set bit, -1 once there is none (and on every later call)
  __device__ __forceinline__ int next() {
    while (bits == 0) {
      if (w + 1 >= MASK_WORDS) return -1;
      bits = words[++w];
    }
    const int j = w * 32 + __ffs(bits) - 1;
    bits &= bits - 1;
    return j;
  }
};

// Shared memory: Q, STAGES K tiles, STAGES V tiles (1024-byte aligned), then the mbarriers and
// the map's recheck mask. Pipeline slot i < STAGES is K stage i, slot STAGES + i V stage i; the
// recheck streams K tiles through all 2 * STAGES slots.
struct Barriers {
  uint64_t fullQ;
  uint64_t full[SLOTS], empty[SLOTS];
  int gKey;                       // ordered key of G (map)
  uint32_t recheck[MASK_WORDS];   // bit j: block c0 + j of the current chunk is rechecked
  uint32_t within[MASK_WORDS];    // bit j: block c0 + j is in map.within (when given)
};
static_assert(sizeof(Barriers) <= 512, "the host reserves 512 bytes for the barriers");
constexpr int SMEM_BYTES = 1024 /* alignment slack */ + (1 + 2 * STAGES) * TILE + 512;
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory beyond the H100's per-block opt-in limit");

template <typename T, bool MAP>
__device__ __forceinline__ void flashSm90(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                          T* __restrict__ out, float* __restrict__ lse, int H, int Lq, int Lk,
                                          float scaleLog2, const int* __restrict__ rowPtr,
                                          const int* __restrict__ colIdx, int nQmask, float* __restrict__ map,
                                          float log2Tau, int mapTokQ, int mapTokK, long long qsb, long long qsh,
                                          long long qsl, long long ksb, long long ksh, long long ksl, long long vsb,
                                          long long vsh, long long vsl, long long osb, long long osh, long long osl) {
  extern __shared__ unsigned char smemRaw[];
  const uint32_t rawAddr = smemAddr(smemRaw);
  unsigned char* smem = smemRaw + ((1024 - (rawAddr & 1023)) & 1023);
  const uint32_t sQ = smemAddr(smem), sK = sQ + TILE, sV = sK + STAGES * TILE;
  Barriers& bars = *reinterpret_cast<Barriers*>(smem + (1 + 2 * STAGES) * TILE);
  const uint32_t fullQ = smemAddr(&bars.fullQ);
  auto full = [&](int slot) { return smemAddr(&bars.full[slot]); };
  auto empty = [&](int slot) { return smemAddr(&bars.empty[slot]); };
  auto fullK = [&](int s) { return full(s); };
  auto fullV = [&](int s) { return full(STAGES + s); };
  auto emptyK = [&](int s) { return empty(s); };
  auto emptyV = [&](int s) { return empty(STAGES + s); };

  const int tid = threadIdx.x, wg = tid >> 7;
  // CTAs in launch order (query blocks of one head together); the longest-rows-first order
  // appended to the CSR is for the mma.sync kernels (tried here: no measurable gain on the H100)
  const int bh = blockIdx.y, b = bh / H, h = bh % H;
  const int qBlock = blockIdx.x, q0 = qBlock * BR;

  // a map launch's CSR is map.within (the blocks that need values), not a sparse sweep
  Sweep sw{MAP ? nullptr : colIdx, 0, 0, 0};
  if (!MAP && rowPtr) {
    const int r = h * nQmask + qBlock;
    sw.beg = rowPtr[r];
    sw.nTiles = rowPtr[r + 1] - sw.beg;
  } else {
    sw.nTiles = (Lk + BC - 1) / BC;
    if (MAP && Lq == Lk) sw.first = qBlock;
  }
  const bool mapCta = MAP && map != nullptr && q0 < mapTokQ;
  // map.within row of this CTA (empty without within)
  const int wBeg = MAP && rowPtr ? rowPtr[h * nQmask + qBlock] : 0, wEnd = MAP && rowPtr ? rowPtr[h * nQmask + qBlock + 1] : 0;
  // The bound costs every tile of the sweep a reduction and an atomic; it pays only where many
  // blocks are negligible. A within row of at most a quarter of the blocks (a refresh step's
  // active mask: the blocks predicted to matter) is recounted whole instead.
  const bool bound = mapCta && (!rowPtr || 4 * (wEnd - wBeg) > (mapTokK + BC - 1) / BC);
  // Recheck tile r uses slot r % SLOTS; it is that slot's fills(r)-th fill overall (the sweep
  // filled K / V stage s once per tile t < nTiles with t % STAGES == s). The consumers wait for
  // "full" with its parity, the producer for the previous fill's "empty".
  auto fills = [&](int r) {
    const int slot = r % SLOTS;
    return (sw.nTiles - slot % STAGES + STAGES - 1) / STAGES + r / SLOTS;
  };
  const int nKm = (mapTokK + BC - 1) / BC;
  float* mapRow = mapCta ? map + ((size_t)bh * ((mapTokQ + BR - 1) / BR) + qBlock) * nKm : nullptr;

  if (tid == 0) {
    mbarInit(fullQ, 128);
    for (int s = 0; s < SLOTS; s++) {
      mbarInit(full(s), 128);
      mbarInit(empty(s), CONSUMER_WARPS);
    }
    bars.gKey = orderedKey(INFINITY);
  }
  __syncthreads();

  if (wg == 0) {
    // ---------------- producer ----------------
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(PRODUCER_REGS));
    const int pt = tid;
    const T* kp = k + b * ksb + h * ksh;
    const T* vp = v + b * vsb + h * vsh;
    loadTile(sQ, q + b * qsb + h * qsh, qsl, q0, Lq, pt);
    cpArrive(fullQ);
    for (int t = 0; t < sw.nTiles; t++) {
      const int s = t % STAGES;
      const uint32_t par = ((t / STAGES) & 1) ^ 1;
      const int kb = sw.keyBase(t);
      if (t >= STAGES) mbarWait(emptyK(s), par);
      loadTile(sK + s * TILE, kp, ksl, kb, Lk, pt);
      cpArrive(fullK(s));
      if (t >= STAGES) mbarWait(emptyV(s), par);
      loadTile(sV + s * TILE, vp, vsl, kb, Lk, pt);
      cpArrive(fullV(s));
    }
    if (mapCta) {
      // recheck: the K tiles of the blocks the consumers marked, through all SLOTS slots
      int r = 0;
      for (int c0 = 0; c0 < nKm; c0 += CHUNK) {
        namedBarrier(2, THREADS);  // the mask is complete
        MaskIter it{bars.recheck};
        for (int j = it.next(); j >= 0; j = it.next(), r++) {
          const int slot = r % SLOTS;
          mbarWait(empty(slot), (fills(r) & 1) ^ 1);
          loadTile(sK + slot * TILE, kp, ksl, (c0 + j) * BC, Lk, pt);
          cpArrive(full(slot));
        }
        namedBarrier(2, THREADS);  // the consumers are done with the mask
      }
    }
    asm volatile("cp.async.wait_all;\n" ::: "memory");
    return;
  }

  // ---------------- consumers ----------------
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(CONSUMER_REGS));
  const int cw = wg - 1;                // consumer warpgroup: rows cw * 64 ..
  const int ct = tid - 128;             // 0..255
  const int warp = (tid >> 5) & 3, lane = tid & 31;
  const int g = lane >> 2, tq = lane & 3;
  const int rowL0 = cw * 64 + warp * 16 + g;  // CTA-local rows of this thread: rowL0, rowL0 + 8
  const int row0 = q0 + rowL0, row1 = row0 + 8;
  const bool inMap0 = row0 < mapTokQ, inMap1 = row1 < mapTokQ;

  if (bound) {
    for (int J = ct; J < nKm; J += 256) __stcg(reinterpret_cast<int*>(mapRow) + J, orderedKey(-INFINITY));
    __threadfence_block();
    namedBarrier(1, 256);
  }

  // descriptors: Q rows cw*64.. (8-row groups 1024 bytes apart); K the same with 128 rows;
  // V N-major: the two 64-column halves HALF apart (LBO), 8-key groups 1024 apart (SBO)
  const uint64_t qDesc = gmmaDesc(sQ + cw * 64 * 128, 16, 1024);
  const uint64_t kDesc0 = gmmaDesc(sK, 16, 1024);
  const uint64_t vDesc0 = gmmaDesc(sV, HALF, 1024);
  // descriptor address field counts 16-byte units
  auto scores = [&](float (&s)[64], int st) {
    wgmmaFence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      const uint64_t off = ((kk >> 2) * HALF + (kk & 3) * 32) >> 4;
      wgmmaSS(s, qDesc + off, kDesc0 + ((st * TILE) >> 4) + off, kk, (T*)nullptr);
    }
    wgmmaCommit();
  };
  auto pv = [&](float (&o)[64], const uint32_t (&p)[32], int st) {
    wgmmaFence();
#pragma unroll
    for (int kk = 0; kk < BC / 16; kk++) {
      const uint32_t a[4] = {p[4 * kk], p[4 * kk + 1], p[4 * kk + 2], p[4 * kk + 3]};
      wgmmaRS(o, a, vDesc0 + ((st * TILE + kk * 16 * 128) >> 4), (T*)nullptr);
    }
    wgmmaCommit();
  };
  auto release = [&](uint32_t bar) {
    __syncwarp();
    if (lane == 0) mbarArrive(bar);
  };

  float o[64];
#pragma unroll
  for (int i = 0; i < 64; i++) o[i] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
  uint32_t p[32];
  float s[64];

  // Masks keys >= Lk, updates the running max, turns s into p = exp2((s - m) * scaleLog2) and
  // returns the correction factors of the old O / l. Also feeds the map bound X_J.
  auto softmax = [&](int kb, float& c0, float& c1, float& sum0, float& sum1) {
    if (kb + BC > Lk) {
#pragma unroll
      for (int i = 0; i < 64; i++)
        if (kb + (i >> 2) * 8 + 2 * tq + (i & 1) >= Lk) s[i] = -INFINITY;
    }
    float t0 = -INFINITY, t1 = -INFINITY;
#pragma unroll
    for (int j = 0; j < 16; j++) {
      t0 = fmaxf(t0, fmaxf(s[4 * j], s[4 * j + 1]));
      t1 = fmaxf(t1, fmaxf(s[4 * j + 2], s[4 * j + 3]));
    }
    t0 = quadMax(t0);
    t1 = quadMax(t1);
    const float n0 = fmaxf(m0, t0), n1 = fmaxf(m1, t1);
    if (MAP && bound && kb < mapTokK) {
      // tile max over the keys inside the map, relative to the running max including the tile
      float u0 = t0, u1 = t1;
      if (kb + BC > mapTokK) {
        u0 = u1 = -INFINITY;
#pragma unroll
        for (int i = 0; i < 64; i += 2) {
          const int key = kb + (i >> 2) * 8 + 2 * tq;
          const float a = key < mapTokK ? s[i] : -INFINITY, bb = key + 1 < mapTokK ? s[i + 1] : -INFINITY;
          if (i & 2) u1 = fmaxf(u1, fmaxf(a, bb));
          else u0 = fmaxf(u0, fmaxf(a, bb));
        }
        u0 = quadMax(u0);
        u1 = quadMax(u1);
      }
      // u and n are quad-reduced already: the lanes of a quad agree, so only quads are combined
      float x = fmaxf(inMap0 ? u0 - n0 : -INFINITY, inMap1 ? u1 - n1 : -INFINITY);
#pragma unroll
      for (int w = 4; w < 32; w <<= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, w));
      if (lane == 0) atomicMax(reinterpret_cast<int*>(mapRow) + kb / BC, orderedKey(x));
    }
    // a row with no finite score yet keeps base 0 so exp2(-inf - base) is 0, never NaN
    const float base0 = n0 == -INFINITY ? 0.f : n0 * scaleLog2, base1 = n1 == -INFINITY ? 0.f : n1 * scaleLog2;
    c0 = ex2(m0 * scaleLog2 - base0);
    c1 = ex2(m1 * scaleLog2 - base1);
    m0 = n0;
    m1 = n1;
    sum0 = sum1 = 0.f;
#pragma unroll
    for (int j = 0; j < 16; j++) {
      s[4 * j] = ex2(fmaf(s[4 * j], scaleLog2, -base0));
      s[4 * j + 1] = ex2(fmaf(s[4 * j + 1], scaleLog2, -base0));
      s[4 * j + 2] = ex2(fmaf(s[4 * j + 2], scaleLog2, -base1));
      s[4 * j + 3] = ex2(fmaf(s[4 * j + 3], scaleLog2, -base1));
      sum0 += s[4 * j] + s[4 * j + 1];
      sum1 += s[4 * j + 2] + s[4 * j + 3];
    }
  };
  // S accumulator -> A fragments of the PV MMA: k-chunk kk = n8 tiles 2kk, 2kk+1
  auto packP = [&]() {
#pragma unroll
    for (int i = 0; i < 32; i++) p[i] = packWord<T>(s[2 * i], s[2 * i + 1]);
  };

  mbarWait(fullQ, 0);
  const int nT = sw.nTiles;
  if (nT > 0) {
    float c0, c1, sum0, sum1;
    mbarWait(fullK(0), 0);
    proxyFence();
    scores(s, 0);
    wgmmaWait<0>();
    fenceRegs(s);
    release(emptyK(0));
    softmax(sw.keyBase(0), c0, c1, sum0, sum1);
    l0 = sum0;
    l1 = sum1;
    packP();
    for (int t = 1; t < nT; t++) {
      const int st = t % STAGES, sp = (t - 1) % STAGES;
      const int kb = sw.keyBase(t);
      mbarWait(fullK(st), (t / STAGES) & 1);
      proxyFence();
      scores(s, st);
      mbarWait(fullV(sp), ((t - 1) / STAGES) & 1);
      proxyFence();
      pv(o, p, sp);
      wgmmaWait<1>();  // S_t done, PV_{t-1} may still run
      fenceRegs(s);
      release(emptyK(st));
      softmax(kb, c0, c1, sum0, sum1);
      wgmmaWait<0>();
      fenceRegs(o);
      release(emptyV(sp));
#pragma unroll
      for (int j = 0; j < 16; j++) {
        o[4 * j] *= c0;
        o[4 * j + 1] *= c0;
        o[4 * j + 2] *= c1;
        o[4 * j + 3] *= c1;
      }
      l0 = l0 * c0 + sum0;
      l1 = l1 * c1 + sum1;
      packP();
    }
    const int sp = (nT - 1) % STAGES;
    mbarWait(fullV(sp), ((nT - 1) / STAGES) & 1);
    proxyFence();
    pv(o, p, sp);
    wgmmaWait<0>();
    fenceRegs(o);
    release(emptyV(sp));
  }

  // ---- epilogue: O / l, LSE ----
  const float lt0 = quadSum(l0), lt1 = quadSum(l1);
  const float inv0 = lt0 > 0.f ? 1.f / lt0 : 0.f, inv1 = lt1 > 0.f ? 1.f / lt1 : 0.f;
  T* op = out + b * osb + h * osh;
  if (row0 < Lq) {
#pragma unroll
    for (int j = 0; j < 16; j++)
      *reinterpret_cast<uint32_t*>(op + row0 * osl + j * 8 + 2 * tq) = packWord<T>(o[4 * j] * inv0, o[4 * j + 1] * inv0);
  }
  if (row1 < Lq) {
#pragma unroll
    for (int j = 0; j < 16; j++)
      *reinterpret_cast<uint32_t*>(op + row1 * osl + j * 8 + 2 * tq) = packWord<T>(o[4 * j + 2] * inv1, o[4 * j + 3] * inv1);
  }
  const float lse20 = lt0 > 0.f ? m0 * scaleLog2 + __log2f(lt0) : -INFINITY;
  const float lse21 = lt1 > 0.f ? m1 * scaleLog2 + __log2f(lt1) : -INFINITY;
  if (tq == 0) {
    if (row0 < Lq) lse[(size_t)bh * Lq + row0] = lse20 * 0.69314718055994531f;
    if (row1 < Lq) lse[(size_t)bh * Lq + row1] = lse21 * 0.69314718055994531f;
  }
  if (!MAP || !mapCta) return;

  // ---- map: G, mark the blocks to recheck, recheck them ----
  // raw-score threshold (scale > 0): s < (LSE2 + log2 tau) / scaleLog2; -inf for rows outside the map
  const float thr0 = inMap0 && lt0 > 0.f ? (lse20 + log2Tau) / scaleLog2 : -INFINITY;
  const float thr1 = inMap1 && lt1 > 0.f ? (lse21 + log2Tau) / scaleLog2 : -INFINITY;
  float gmin = fminf(inMap0 && lt0 > 0.f ? thr0 - m0 : INFINITY, inMap1 && lt1 > 0.f ? thr1 - m1 : INFINITY);
#pragma unroll
  for (int w = 1; w < 32; w <<= 1) gmin = fminf(gmin, __shfl_xor_sync(0xffffffffu, gmin, w));
  if (lane == 0 && bound) atomicMin(&bars.gKey, orderedKey(gmin));
  namedBarrier(1, 256);
  const float G = orderedFloat(bars.gKey);  // +inf without the bound: no block is settled
  // this warp's 16 Q rows as the A fragments of the recheck's QK^T (ldmatrix from the swizzled
  // tile: lanes 8m..8m+7 address the rows of 8x8 matrix m = (row half m & 1, k half m >> 1))
  uint32_t qa[32];
  {
    const int mi = lane >> 3, row = cw * 64 + warp * 16 + (mi & 1) * 8 + (lane & 7);
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      const int chunk = (kk & 3) * 2 + (mi >> 1);
      const uint32_t addr = sQ + (kk >> 2) * HALF + row * 128 + ((chunk ^ (row & 7)) << 4);
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(qa[4 * kk]), "=r"(qa[4 * kk + 1]), "=r"(qa[4 * kk + 2]), "=r"(qa[4 * kk + 3])
                   : "r"(addr));
    }
  }
  const int rowsI = min(BR, mapTokQ - q0);
  int* mapCount = reinterpret_cast<int*>(mapRow);  // a rechecked block's entry holds its count until the end
  // adds this warp's count of entries below their row threshold in block J (scores untouched:
  // ptxas serializes every wgmma of a kernel that writes accumulators while another wgmma is in
  // flight)
  auto count = [&](const float (&sc)[64], int J) {
    const int kb = J * BC;
    int cnt = 0;
    if (kb + BC > mapTokK) {
#pragma unroll
      for (int i = 0; i < 64; i++)
        cnt += sc[i] < ((i & 2) ? thr1 : thr0) && kb + (i >> 2) * 8 + 2 * tq + (i & 1) < mapTokK ? 1 : 0;
    } else {
      // s < thr is the sign bit of s - thr (IEEE subtraction is exact in sign; thr = -inf gives
      // +inf, never counted): a subtract and a shift-add per score, in four independent sums,
      // instead of a compare and a select-add that chain all 64 scores
      unsigned part[4] = {0u, 0u, 0u, 0u};
#pragma unroll
      for (int i = 0; i < 64; i++) part[i & 3] += __float_as_uint(sc[i] - ((i & 2) ? thr1 : thr0)) >> 31;
      cnt = (int)((part[0] + part[1]) + (part[2] + part[3]));
    }
    cnt = __reduce_add_sync(0xffffffffu, cnt);
    if (lane == 0 && cnt != 0) atomicAdd(mapCount + J, cnt);
  };
  auto issue = [&](float (&acc)[64], int r) {
    const int slot = r % SLOTS;
    mbarWait(full(slot), fills(r) & 1);
    proxyFence();
    wgmmaFence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      const uint32_t a[4] = {qa[4 * kk], qa[4 * kk + 1], qa[4 * kk + 2], qa[4 * kk + 3]};
      wgmmaRSK(acc, a, kDesc0 + ((slot * TILE) >> 4) + (((kk >> 2) * HALF + (kk & 3) * 32) >> 4), kk, (T*)nullptr);
    }
    wgmmaCommit();
  };
  int r = 0;  // recheck tile position
  for (int c0 = 0; c0 < nKm; c0 += CHUNK) {
    if (rowPtr) {
      for (int w = ct; w < MASK_WORDS; w += 256) bars.within[w] = 0u;
      namedBarrier(1, 256);
      for (int e = wBeg + ct; e < wEnd; e += 256) {
        const int j = colIdx[e] - c0;
        if (j >= 0 && j < CHUNK) atomicOr(&bars.within[j >> 5], 1u << (j & 31));
      }
      namedBarrier(1, 256);
    }
    // blocks outside map.within get NaN, blocks the bound settles 1 now; the others get a bit
    // in the recheck mask and a count of 0
    for (int w = ct >> 5; w < MASK_WORDS; w += CONSUMER_WARPS) {
      const int J = c0 + w * 32 + lane;
      bool re = false;
      if (J < nKm) {
        if (rowPtr && !((bars.within[w] >> lane) & 1u)) {
          __stcg(mapRow + J, __int_as_float(0x7fc00000));
        } else {
          re = !bound || !(orderedFloat(__ldcg(mapCount + J)) < G);
          if (re) __stcg(mapCount + J, 0);
          else __stcg(mapRow + J, 1.f);
        }
      }
      const uint32_t bits = __ballot_sync(0xffffffffu, re);
      if (lane == 0) bars.recheck[w] = bits;
    }
    __threadfence_block();     // the zeroed counts before any warp's atomics
    namedBarrier(2, THREADS);  // the mask is complete; the producer reads it too
    // two blocks in flight per warpgroup: block j+1's QK^T runs while block j is counted (s and o
    // alternate; o is free after the epilogue); a slot is released as soon as its QK^T is done.
    // The two halves are written out with their own drains on purpose: a loop whose exit merges
    // the in-flight states makes ptxas serialize every wgmma of the kernel (C7514).
    MaskIter it{bars.recheck};
    auto done = [&](const float (&acc)[64], int j) {
      release(empty(r % SLOTS));
      count(acc, c0 + j);
      r++;
    };
    int j0 = it.next();
    if (j0 >= 0) {
      issue(s, r);
      for (;;) {  // s holds block j0's QK^T in flight
        const int j1 = it.next();
        if (j1 < 0) {
          wgmmaWait<0>();
          fenceRegs(s);
          done(s, j0);
          break;
        }
        issue(o, r + 1);
        wgmmaWait<1>();
        fenceRegs(s);
        done(s, j0);
        j0 = it.next();  // o holds block j1's QK^T in flight
        if (j0 < 0) {
          wgmmaWait<0>();
          fenceRegs(o);
          done(o, j1);
          break;
        }
        issue(s, r + 1);
        wgmmaWait<1>();
        fenceRegs(o);
        done(o, j1);
      }
    }
    __threadfence_block();  // every warp's count atomics before the division
    namedBarrier(1, 256);
    for (int J = c0 + ct; J < min(nKm, c0 + CHUNK); J += 256)
      if ((bars.recheck[(J - c0) >> 5] >> ((J - c0) & 31)) & 1)
        __stcg(mapRow + J, (float)__ldcg(mapCount + J) / (float)(rowsI * min(BC, mapTokK - J * BC)));
    namedBarrier(2, THREADS);  // everyone (the producer too) is done with this mask
  }
}

}  // namespace

// Launch: grid (ceil(Lq / 128), B * H), block 384, dynamic shared memory SMEM_BYTES
// (attention-sm90.ts keeps its copy of that number in step).
#define FLASH_SM90_KERNEL(NAME, T, MAP)                                                                                \
  extern "C" __global__ void __launch_bounds__(THREADS, 1)                                                            \
      NAME(const T* q, const T* k, const T* v, T* out, float* lse, int H, int Lq, int Lk, float scaleLog2,            \
           const int* rowPtr, const int* colIdx, int maskBs, int nQmask, float* map, float log2Tau, int mapBs,        \
           int mapTokQ, int mapTokK, long long qsb, long long qsh, long long qsl, long long ksb, long long ksh,        \
           long long ksl, long long vsb, long long vsh, long long vsl, long long osb, long long osh, long long osl) {  \
    flashSm90<T, MAP>(q, k, v, out, lse, H, Lq, Lk, scaleLog2, rowPtr, colIdx, nQmask, map, log2Tau, mapTokQ, mapTokK, \
                      qsb, qsh, qsl, ksb, ksh, ksl, vsb, vsh, vsl, osb, osh, osl);                                     \
  }

FLASH_SM90_KERNEL(flash_sm90_bf16_d128, __nv_bfloat16, false)
FLASH_SM90_KERNEL(flash_sm90_f16_d128, __half, false)
FLASH_SM90_KERNEL(flash_sm90_map_bf16_d128, __nv_bfloat16, true)
FLASH_SM90_KERNEL(flash_sm90_map_f16_d128, __half, true)
