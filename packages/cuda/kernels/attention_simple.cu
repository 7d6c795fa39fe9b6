// Attention for what the tensor-core kernel does not cover (f32, head_dim other than 64/128,
// block sizes other than a multiple of 64): one thread per query row, f32 math with precise
// expf, same semantics (dense, CSR block-sparse, sparsity map). Slow by design; correct first.
// q/k/v/out are addressed through element strides (batch, head, token; head_dim contiguous).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "element_io.cuh"

namespace {

constexpr int MAX_D = 256;

template <typename T>
__device__ float dot(const T* a, const T* b, int D) {
  float s = 0.f;
  for (int d = 0; d < D; d++) s = fmaf(ld(a + d), ld(b + d), s);
  return s;
}

template <typename T>
__device__ void simpleAttention(const T* q, const T* k, const T* v, T* out, float* lse, int BH, int H, int Lq,
                                int Lk, int D, float scale, const int* rowPtr, const int* colIdx, int maskBs,
                                int nQmask, unsigned* mapCount, float lnTau, int mapBs, int mapTokQ, int mapTokK,
                                const long long* qs, const long long* ks, const long long* vs, const long long* os) {
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long long)BH * Lq) return;
  const int bh = (int)(idx / Lq), row = (int)(idx % Lq), b = bh / H, h = bh % H;
  const T* qr = q + b * qs[0] + h * qs[1] + row * qs[2];
  const T* kp = k + b * ks[0] + h * ks[1];
  const T* vp = v + b * vs[0] + h * vs[1];
  T* orow = out + b * os[0] + h * os[1] + row * os[2];
  float acc[MAX_D];
  for (int d = 0; d < D; d++) acc[d] = 0.f;
  float m = -INFINITY, l = 0.f;
  int beg = 0, end = 1;
  if (rowPtr) {
    const int r = h * nQmask + row / maskBs;
    beg = rowPtr[r];
    end = rowPtr[r + 1];
  }
  for (int e = beg; e < end; e++) {
    const int k0 = rowPtr ? colIdx[e] * maskBs : 0;
    const int k1 = rowPtr ? min(k0 + maskBs, Lk) : Lk;
    for (int j = k0; j < k1; j++) {
      const float x = dot(qr, kp + j * ks[2], D) * scale;
      const float mn = fmaxf(m, x);
      const float c = expf(m - mn), p = expf(x - mn);
      l = l * c + p;
      for (int d = 0; d < D; d++) acc[d] = acc[d] * c + p * ld(vp + j * vs[2] + d);
      m = mn;
    }
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  for (int d = 0; d < D; d++) st(orow + d, acc[d] * inv);
  const float rowLse = l > 0.f ? m + logf(l) : -INFINITY;
  lse[idx] = rowLse;
  if (!mapCount || row >= mapTokQ) return;
  const int nQm = (mapTokQ + mapBs - 1) / mapBs, nKm = (mapTokK + mapBs - 1) / mapBs;
  unsigned* countRow = mapCount + ((size_t)bh * nQm + row / mapBs) * nKm;
  const float thr = rowLse + lnTau;
  for (int J = 0; J < nKm; J++) {
    unsigned c = 0;
    for (int j = J * mapBs; j < min((J + 1) * mapBs, mapTokK); j++)
      c += dot(qr, kp + j * ks[2], D) * scale < thr ? 1u : 0u;
    if (c) atomicAdd(countRow + J, c);
  }
}

}  // namespace

// The 12 element strides (batch, head, token of q, k, v, out) follow the flash kernels' order.
#define SIMPLE_KERNEL(NAME, T)                                                                                     \
  extern "C" __global__ void NAME(const T* q, const T* k, const T* v, T* out, float* lse, int BH, int H, int Lq,   \
                                  int Lk, int D, float scale, const int* rowPtr, const int* colIdx, int maskBs,    \
                                  int nQmask, unsigned* mapCount, float lnTau, int mapBs, int mapTokQ,            \
                                  int mapTokK, long long qsb, long long qsh, long long qsl, long long ksb,        \
                                  long long ksh, long long ksl, long long vsb, long long vsh, long long vsl,       \
                                  long long osb, long long osh, long long osl) {                                  \
    const long long qs[3] = {qsb, qsh, qsl}, ks[3] = {ksb, ksh, ksl}, vs[3] = {vsb, vsh, vsl}, os[3] = {osb, osh, osl}; \
    simpleAttention<T>(q, k, v, out, lse, BH, H, Lq, Lk, D, scale, rowPtr, colIdx, maskBs, nQmask, mapCount, lnTau, \
                       mapBs, mapTokQ, mapTokK, qs, ks, vs, os);                                                   \
  }

SIMPLE_KERNEL(attn_simple_f32, float)
SIMPLE_KERNEL(attn_simple_f16, __half)
SIMPLE_KERNEL(attn_simple_bf16, __nv_bfloat16)

// counts [B, H, nQm, nKm] -> fractions, dividing by each (ragged) block's real entry count.
extern "C" __global__ void map_counts_to_fraction(const unsigned* counts, float* map, long long n, int nQm, int nKm,
                                                  int mapBs, int tokQ, int tokK) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int J = (int)(i % nKm), I = (int)((i / nKm) % nQm);
  const int rows = min(mapBs, tokQ - I * mapBs), cols = min(mapBs, tokK - J * mapBs);
  map[i] = (float)counts[i] / (float)(rows * cols);
}

// Map blocks outside map.within read NaN (the mma.sync and simple kernels count every block;
// the sm90 map kernel skips them itself). Membership by binary search in the CSR row.
extern "C" __global__ void map_outside_nan(float* map, long long n, int H, int nQm, int nKm, const int* rowPtr,
                                           const int* colIdx, int nQmask) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int J = (int)(i % nKm), I = (int)((i / nKm) % nQm), h = (int)((i / ((long long)nKm * nQm)) % H);
  const int r = h * nQmask + I, end = rowPtr[r + 1];
  int lo = rowPtr[r], hi = end;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (colIdx[mid] < J) lo = mid + 1;
    else hi = mid;
  }
  if (lo == end || colIdx[lo] != J) map[i] = __int_as_float(0x7fc00000);
}
