// Loads and stores between f32 math and the storage dtypes (stores round to nearest even),
// shared by the elementwise and the simple attention kernels. ld8/st8 move 8 consecutive
// elements with 16-byte accesses (one for f16/bf16, two for f32): the pointer must be
// 16-byte aligned.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {

__device__ __forceinline__ float ld(const float* p) { return *p; }
__device__ __forceinline__ float ld(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float ld(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st(float* p, float x) { *p = x; }
__device__ __forceinline__ void st(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void st(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
// x rounded (RNE) to T's precision, as f32 (the identity for f32).
template <typename T>
__device__ __forceinline__ float roundTo(float x) {
  T h;
  st(&h, x);
  return ld(&h);
}

__device__ __forceinline__ void ld8(const float* p, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
// Two 2-byte elements as one 32-bit word: packing (RNE) and unpacking per storage dtype.
__device__ __forceinline__ __half2 pack2(float a, float b, const __half*) { return __floats2half2_rn(a, b); }
__device__ __forceinline__ __nv_bfloat162 pack2(float a, float b, const __nv_bfloat16*) { return __floats2bfloat162_rn(a, b); }
__device__ __forceinline__ float2 unpack2(__half2 h) { return __half22float2(h); }
__device__ __forceinline__ float2 unpack2(__nv_bfloat162 h) { return __bfloat1622float2(h); }

// T: __half or __nv_bfloat16 (f32 has its own overloads, preferred as non-templates).
template <typename T>
__device__ __forceinline__ void ld8(const T* p, float (&v)[8]) {
  using Pair = decltype(pack2(0.f, 0.f, p));
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const float2 f = unpack2(*reinterpret_cast<const Pair*>(&w[k]));
    v[2 * k] = f.x, v[2 * k + 1] = f.y;
  }
}

__device__ __forceinline__ void st8(float* p, const float (&v)[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
template <typename T>
__device__ __forceinline__ void st8(T* p, const float (&v)[8]) {
  unsigned w[4];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const auto h = pack2(v[2 * k], v[2 * k + 1], p);
    w[k] = *reinterpret_cast<const unsigned*>(&h);
  }
  *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
}

}  // namespace
