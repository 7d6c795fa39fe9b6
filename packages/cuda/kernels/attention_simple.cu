// Attention for what the tensor-core kernel does not cover (f32, head_dim other than 64/128,
// block sizes other than a multiple of 64): one thread per query row, f32 math with precise
// expf, same semantics (dense, CSR block-sparse, sparsity map). Slow by design; correct first.
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
                                int nQmask, unsigned* mapCount, float lnTau, int mapBs, int mapTokQ, int mapTokK) {
  const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (long long)BH * Lq) return;
  const int bh = (int)(idx / Lq), row = (int)(idx % Lq), h = bh % H;
  const T* qr = q + idx * D;
  const T* kp = k + (size_t)bh * Lk * D;
  const T* vp = v + (size_t)bh * Lk * D;
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
      const float x = dot(qr, kp + (size_t)j * D, D) * scale;
      const float mn = fmaxf(m, x);
      const float c = expf(m - mn), p = expf(x - mn);
      l = l * c + p;
      for (int d = 0; d < D; d++) acc[d] = acc[d] * c + p * ld(vp + (size_t)j * D + d);
      m = mn;
    }
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  for (int d = 0; d < D; d++) st(out + idx * D + d, acc[d] * inv);
  const float rowLse = l > 0.f ? m + logf(l) : -INFINITY;
  lse[idx] = rowLse;
  if (!mapCount || row >= mapTokQ) return;
  const int nQm = (mapTokQ + mapBs - 1) / mapBs, nKm = (mapTokK + mapBs - 1) / mapBs;
  unsigned* countRow = mapCount + ((size_t)bh * nQm + row / mapBs) * nKm;
  const float thr = rowLse + lnTau;
  for (int J = 0; J < nKm; J++) {
    unsigned c = 0;
    for (int j = J * mapBs; j < min((J + 1) * mapBs, mapTokK); j++)
      c += dot(qr, kp + (size_t)j * D, D) * scale < thr ? 1u : 0u;
    if (c) atomicAdd(countRow + J, c);
  }
}

}  // namespace

#define SIMPLE_KERNEL(NAME, T)                                                                                     \
  extern "C" __global__ void NAME(const T* q, const T* k, const T* v, T* out, float* lse, int BH, int H, int Lq,   \
                                  int Lk, int D, float scale, const int* rowPtr, const int* colIdx, int maskBs,    \
                                  int nQmask, unsigned* mapCount, float lnTau, int mapBs, int mapTokQ,            \
                                  int mapTokK) {                                                                   \
    simpleAttention<T>(q, k, v, out, lse, BH, H, Lq, Lk, D, scale, rowPtr, colIdx, maskBs, nQmask, mapCount, lnTau, \
                       mapBs, mapTokQ, mapTokK);                                                                   \
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
