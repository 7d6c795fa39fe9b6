// Elementwise, normalisation, RoPE and layout kernels. All math is f32; every output is
// rounded once (RNE) into its dtype, as the CPU reference does. Strided operands are
// described by up to 8 (shape, stride) pairs after the host merged contiguous dims.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "element_io.cuh"

namespace {

struct Dims {
  long long v[8];
};

// Element offset of logical index i of a row-major `shape` walked with `stride`.
__device__ __forceinline__ long long offsetOf(long long i, int rank, const Dims& shape, const Dims& stride) {
  long long off = 0;
  for (int ax = rank - 1; ax >= 0; ax--) {
    const long long d = shape.v[ax];
    off += (i % d) * stride.v[ax];
    i /= d;
  }
  return off;
}

template <typename E>
__device__ void copyStrided(E* dst, const E* src, long long n, int rank, Dims shape, Dims dstStride, Dims srcStride) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    dst[offsetOf(i, rank, shape, dstStride)] = src[offsetOf(i, rank, shape, srcStride)];
}

template <typename A, typename B>
__device__ void castContig(B* dst, const A* src, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    st(dst + i, ld(src + i));
}

// op: 0 add, 1 sub, 2 mul
template <typename T, typename U>
__device__ void binary(T* out, const T* a, const U* b, long long n, int op, int rank, Dims shape, Dims sa, Dims sb) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const float x = ld(a + offsetOf(i, rank, shape, sa)), y = ld(b + offsetOf(i, rank, shape, sb));
    st(out + i, op == 0 ? x + y : op == 1 ? x - y : x * y);
  }
}

// op: 0 modulate a * (1 + b) + c, 1 gated add a + b * c
template <typename T, typename U>
__device__ void ternary(T* out, const T* a, const U* b, const U* c, long long n, int op, int rank, Dims shape, Dims sa,
                        Dims sb, Dims sc) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const float x = ld(a + offsetOf(i, rank, shape, sa));
    const float y = ld(b + offsetOf(i, rank, shape, sb)), z = ld(c + offsetOf(i, rank, shape, sc));
    st(out + i, op == 0 ? x * (1.f + y) + z : x + y * z);
  }
}

// op: 0 gelu (tanh approximation), 1 silu
template <typename T>
__device__ void unary(T* out, const T* a, long long n, int op) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const float x = ld(a + i);
    float y;
    // 0.5 x (1 + tanh z) written as x / (1 + e^-2z): no cancellation in the negative tail
    if (op == 0) y = x / (1.f + expf(-2.f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
    else y = x / (1.f + expf(-x));
    st(out + i, y);
  }
}

// Block-wide sum of one value per thread (blockDim.x a multiple of 32, at most 1024).
__device__ float blockSum(float x, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[w] = x;
  __syncthreads();
  float t = 0.f;
  for (int i = 0; i < nw; i++) t += scratch[i];
  return t;
}
__device__ float blockMax(float x, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[w] = x;
  __syncthreads();
  float t = -INFINITY;
  for (int i = 0; i < nw; i++) t = fmaxf(t, scratch[i]);
  return t;
}

// One block per row. Two passes (mean, then centred variance) for accuracy on large offsets.
template <typename T>
__device__ void layerNorm(T* out, const T* x, const float* w, const float* b, int C, float eps) {
  __shared__ float scratch[32];
  const T* xr = x + (size_t)blockIdx.x * C;
  T* yr = out + (size_t)blockIdx.x * C;
  float s = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) s += ld(xr + i);
  const float mean = blockSum(s, scratch) / C;
  float v = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    const float d = ld(xr + i) - mean;
    v += d * d;
  }
  const float rstd = rsqrtf(blockSum(v, scratch) / C + eps);
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float y = (ld(xr + i) - mean) * rstd;
    if (w) y *= w[i];
    if (b) y += b[i];
    st(yr + i, y);
  }
}

template <typename T>
__device__ void rmsNorm(T* out, const T* x, const float* w, int C, float eps) {
  __shared__ float scratch[32];
  const T* xr = x + (size_t)blockIdx.x * C;
  T* yr = out + (size_t)blockIdx.x * C;
  float s = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    const float a = ld(xr + i);
    s += a * a;
  }
  const float r = rsqrtf(blockSum(s, scratch) / C + eps);
  for (int i = threadIdx.x; i < C; i += blockDim.x) st(yr + i, ld(xr + i) * r * w[i]);
}

template <typename T>
__device__ void softmaxRows(T* out, const T* x, int C) {
  __shared__ float scratch[32];
  const T* xr = x + (size_t)blockIdx.x * C;
  T* yr = out + (size_t)blockIdx.x * C;
  float m = -INFINITY;
  for (int i = threadIdx.x; i < C; i += blockDim.x) m = fmaxf(m, ld(xr + i));
  m = blockMax(m, scratch);
  float s = 0.f;
  for (int i = threadIdx.x; i < C; i += blockDim.x) s += expf(ld(xr + i) - m);
  const float inv = 1.f / blockSum(s, scratch);
  for (int i = threadIdx.x; i < C; i += blockDim.x) st(yr + i, expf(ld(xr + i) - m) * inv);
}

// x [B, L, H, D], one thread per rotated pair. Angles in double: positions reach the hundreds
// and an f32 angle would lose ~1e-5 of the rotation.
template <typename T>
__device__ void rope3d(T* out, const T* x, long long pairs, int L, int H, int D, int gt, int gh, int gw, int s0,
                       int s1, int s2, double theta) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pairs; i += (long long)gridDim.x * blockDim.x) {
    const int p = (int)(i % (D / 2));
    const int l = (int)((i / ((long long)(D / 2) * H)) % L);
    const float a = ld(x + 2 * i), b = ld(x + 2 * i + 1);
    if (l >= gt * gh * gw) {
      st(out + 2 * i, a);
      st(out + 2 * i + 1, b);
      continue;
    }
    int pos, j, dim;
    if (p < s0 / 2) {
      pos = l / (gh * gw), j = p, dim = s0;
    } else if (p < (s0 + s1) / 2) {
      pos = (l / gw) % gh, j = p - s0 / 2, dim = s1;
    } else {
      pos = l % gw, j = p - (s0 + s1) / 2, dim = s2;
    }
    const double ang = pos * pow(theta, -2.0 * j / dim);
    const float c = (float)cos(ang), s = (float)sin(ang);
    st(out + 2 * i, a * c - b * s);
    st(out + 2 * i + 1, a * s + b * c);
  }
}

}  // namespace

extern "C" {

__global__ void copy_e1(uint8_t* d, const uint8_t* s, long long n, int r, Dims sh, Dims ds, Dims ss) { copyStrided(d, s, n, r, sh, ds, ss); }
__global__ void copy_e2(uint16_t* d, const uint16_t* s, long long n, int r, Dims sh, Dims ds, Dims ss) { copyStrided(d, s, n, r, sh, ds, ss); }
__global__ void copy_e4(uint32_t* d, const uint32_t* s, long long n, int r, Dims sh, Dims ds, Dims ss) { copyStrided(d, s, n, r, sh, ds, ss); }

#define CAST(A, NA, B, NB) \
  __global__ void cast_##NA##_##NB(B* d, const A* s, long long n) { castContig<A, B>(d, s, n); }
CAST(float, f32, __half, f16)
CAST(float, f32, __nv_bfloat16, bf16)
CAST(__half, f16, float, f32)
CAST(__half, f16, __nv_bfloat16, bf16)
CAST(__nv_bfloat16, bf16, float, f32)
CAST(__nv_bfloat16, bf16, __half, f16)

#define PER_PAIR(T, NT, U, NU)                                                                                        \
  __global__ void binary_##NT##_##NU(T* o, const T* a, const U* b, long long n, int op, int r, Dims sh, Dims sa,      \
                                     Dims sb) {                                                                       \
    binary<T, U>(o, a, b, n, op, r, sh, sa, sb);                                                                      \
  }                                                                                                                   \
  __global__ void ternary_##NT##_##NU(T* o, const T* a, const U* b, const U* c, long long n, int op, int r, Dims sh,  \
                                      Dims sa, Dims sb, Dims sc) {                                                    \
    ternary<T, U>(o, a, b, c, n, op, r, sh, sa, sb, sc);                                                              \
  }
PER_PAIR(float, f32, float, f32)
PER_PAIR(__half, f16, __half, f16)
PER_PAIR(__half, f16, float, f32)
PER_PAIR(__nv_bfloat16, bf16, __nv_bfloat16, bf16)
PER_PAIR(__nv_bfloat16, bf16, float, f32)

#define PER_TYPE(T, NT)                                                                                             \
  __global__ void unary_##NT(T* o, const T* a, long long n, int op) { unary<T>(o, a, n, op); }                      \
  __global__ void layernorm_##NT(T* o, const T* x, const float* w, const float* b, int C, float eps) {             \
    layerNorm<T>(o, x, w, b, C, eps);                                                                               \
  }                                                                                                                 \
  __global__ void rmsnorm_##NT(T* o, const T* x, const float* w, int C, float eps) { rmsNorm<T>(o, x, w, C, eps); } \
  __global__ void softmax_##NT(T* o, const T* x, int C) { softmaxRows<T>(o, x, C); }                                \
  __global__ void rope3d_##NT(T* o, const T* x, long long pairs, int L, int H, int D, int gt, int gh, int gw,       \
                              int s0, int s1, int s2, double theta) {                                               \
    rope3d<T>(o, x, pairs, L, H, D, gt, gh, gw, s0, s1, s2, theta);                                                 \
  }
PER_TYPE(float, f32)
PER_TYPE(__half, f16)
PER_TYPE(__nv_bfloat16, bf16)

}  // extern "C"
