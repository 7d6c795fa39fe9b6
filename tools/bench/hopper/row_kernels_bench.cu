// Same-binary timing of rope3d's fused RMSNorm kernel against candidate layouts, at Wan-1.3B 480p
// (32,760 tokens x 12 heads x 128, bf16), next to the two kernels it fuses. Built here with nvcc,
// run on the GPU machine (no Node needed):
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o /tmp/row_bench tools/bench/hopper/row_kernels_bench.cu
//   /tmp/row_bench
//
// Every candidate's output must equal the shipped kernel's bit for bit (same math, same order
// per element); each CUDA call's status is checked.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../../../packages/cuda/kernels/ops.cu"

#define CK(call)                                                                              \
  do {                                                                                        \
    cudaError_t e_ = (call);                                                                  \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s failed: %s (%s:%d)\n", #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

namespace {

// The whole row in registers as raw 16-byte words (8 per lane at most, 4 registers each instead
// of 8 floats): one warp per row, C % 8 == 0, aligned rows.
template <typename T>
__global__ void __launch_bounds__(256) rmsnormRopePacked(T* out, const T* x, const float* w, const float2* table, long long rows, int C,
                                                         float eps, RopeGeom g) {
  const long long row = (long long)blockIdx.x * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31, nv = C / 8;
  uint4 raw[8];
  float ss = 0.f;
  if (row < rows) {
    const uint4* src = reinterpret_cast<const uint4*>(x + row * C);
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (lane + 32 * k < nv) raw[k] = src[lane + 32 * k];
#pragma unroll
    for (int k = 0; k < 8; k++)
      if (lane + 32 * k < nv) {
        float e[8];
        ld8(reinterpret_cast<const T*>(&raw[k]), e);
#pragma unroll
        for (int j = 0; j < 8; j++) ss += e[j] * e[j];
      }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if (row >= rows) return;
  const float r = rsqrtf(ss / C + eps);
  const TokenPos at = tokenPos(g, row);
  T* yr = out + row * C;
#pragma unroll
  for (int k = 0; k < 8; k++) {
    const int ci = lane + 32 * k;
    if (ci >= nv) continue;
    float e[8], p[8];
    ld8(reinterpret_cast<const T*>(&raw[k]), e);
    rmsChunk(e, w, ci, C, true, r, p);
    if (at.video) ropeChunk(p, ci, g, table, at);
    st8(yr + 8 * ci, p);
  }
}

// The shipped row function on a resident 8-chunk float tile instead of the streaming one.
template <typename T>
__global__ void __launch_bounds__(256) rmsnormRopeResident(T* out, const T* x, const float* w, const float2* table, long long rows, int C,
                                                           float eps, RopeGeom g) {
  rmsNormRope<T, 8>(out, x, w, table, rows, C, eps, g, 1, 1);
}

// residualLayerNorm with VPT chunks per lane and G warps per row (the shipped kernel: 8, 1)
template <int VPT>
__global__ void __launch_bounds__(256) residualLn(__nv_bfloat16* o, const float* x, float* sum, const __nv_bfloat16* y, const float* gate,
                                                  const float* sc, const float* sh, Dims lead, Dims zero, long long rows, int C, int G) {
  residualLayerNorm<float, __nv_bfloat16, __nv_bfloat16, VPT>(o, x, sum, y, gate, nullptr, nullptr, sc, sh, 1, lead, zero, zero, zero, 1, 1, 1,
                                                               rows, C, 1e-6f, G, 1);
}

}  // namespace

template <typename F>
float timeIt(F launch, int iters) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  launch();
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  CK(cudaEventRecord(a));
  for (int i = 0; i < iters; i++) launch();
  CK(cudaGetLastError());
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0.f;
  CK(cudaEventElapsedTime(&ms, a, b));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return ms / iters;
}

int main() {
  const int L = 32760, H = 12, D = 128, C = H * D, GT = 21, GH = 30, GW = 52, S0 = 44, S1 = 42, S2 = 42, iters = 50;
  const long long n = (long long)L * C;
  const RopeGeom g{L, H, D, GT, GH, GW, S0 / 2, S1 / 2};
  std::vector<__nv_bfloat16> hx(n);
  std::vector<float> hw(C);
  unsigned s = 12345u;
  auto rnd = [&]() { s = s * 1664525u + 1013904223u; return ((s >> 8) & 0xffff) / 32768.f - 1.f; };
  for (auto& v : hx) v = __float2bfloat16(2.f * rnd());
  for (auto& v : hw) v = 1.f + 0.3f * rnd();
  __nv_bfloat16 *x, *o0, *o1;
  float* w;
  float2* table;
  const int entries = GT * S0 / 2 + GH * S1 / 2 + GW * S2 / 2;
  CK(cudaMalloc(&x, n * 2));
  CK(cudaMalloc(&o0, n * 2));
  CK(cudaMalloc(&o1, n * 2));
  CK(cudaMalloc(&w, C * 4));
  CK(cudaMalloc(&table, entries * sizeof(float2)));
  CK(cudaMemcpy(x, hx.data(), n * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(w, hw.data(), C * 4, cudaMemcpyHostToDevice));
  rope_table<<<16, 256>>>(table, GT, GH, GW, S0, S1, S2, 10000.0);
  CK(cudaGetLastError());
  const int rowBlocks = (L + 7) / 8;
  auto shipped = [&] { rmsnorm_rope_bf16<<<rowBlocks, 256>>>(o0, x, w, table, L, C, 1e-6f, L, H, D, GT, GH, GW, S0 / 2, S1 / 2, 1, 1); };
  const float tShipped = timeIt(shipped, iters);
  std::vector<__nv_bfloat16> ref(n), got(n);
  CK(cudaMemcpy(ref.data(), o0, n * 2, cudaMemcpyDeviceToHost));
  auto check = [&](const char* what) {
    CK(cudaMemcpy(got.data(), o1, n * 2, cudaMemcpyDeviceToHost));
    long long diff = 0;
    for (long long i = 0; i < n; i++) diff += *reinterpret_cast<unsigned short*>(&got[i]) != *reinterpret_cast<unsigned short*>(&ref[i]);
    std::printf("  %-44s elements differing from the shipped kernel: %lld\n", what, diff);
    return diff == 0;
  };
  const float tPacked = timeIt([&] { rmsnormRopePacked<__nv_bfloat16><<<rowBlocks, 256>>>(o1, x, w, table, L, C, 1e-6f, g); }, iters);
  bool ok = check("packed registers");
  const float tResident = timeIt([&] { rmsnormRopeResident<__nv_bfloat16><<<rowBlocks, 256>>>(o1, x, w, table, L, C, 1e-6f, g); }, iters);
  ok &= check("resident float tile");
  const int ropeGrid = 132 * 16;
  const float tRope = timeIt([&] { rope3d_bf16<<<ropeGrid, 256>>>(o1, x, table, n, L, H, D, GT, GH, GW, S0 / 2, S1 / 2, 1, 0); }, iters);
  const float tRms = timeIt([&] { rmsnorm_bf16_r8<<<rowBlocks, 256>>>(o1, x, w, L, C, 1e-6f, 1, 1); }, iters);
  // residualLayerNorm: f32 x + bf16 y * gate -> f32 sum, adaLN norm -> bf16 (12 bytes per element)
  float *xf, *sumf, *rowp;
  __nv_bfloat16* normb;
  CK(cudaMalloc(&xf, n * 4));
  CK(cudaMalloc(&sumf, n * 4));
  CK(cudaMalloc(&normb, n * 2));
  CK(cudaMalloc(&rowp, C * 4));
  {
    std::vector<float> hxf(n);
    for (auto& v : hxf) v = 0.5f + rnd();
    CK(cudaMemcpy(xf, hxf.data(), n * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(rowp, hw.data(), C * 4, cudaMemcpyHostToDevice));
  }
  Dims lead{}, zero{};
  lead.v[0] = L;
  std::vector<__nv_bfloat16> refN(n), gotN(n);
  auto rln = [&](auto kernel, int G, bool first) {
    const int perCta = 256 / 32 / G;
    const float ms = timeIt([&] { kernel<<<(L + perCta - 1) / perCta, 256>>>(normb, xf, sumf, x, rowp, rowp, w, lead, zero, L, C, G); }, iters);
    CK(cudaMemcpy((first ? refN : gotN).data(), normb, n * 2, cudaMemcpyDeviceToHost));
    long long diff = 0;
    if (!first)
      for (long long i = 0; i < n; i++) diff += *reinterpret_cast<unsigned short*>(&gotN[i]) != *reinterpret_cast<unsigned short*>(&refN[i]);
    return std::pair<float, long long>(ms, diff);
  };
  const auto r8 = rln(residualLn<8>, 1, true);
  const auto r6 = rln(residualLn<6>, 1, false);
  const auto r4g2 = rln(residualLn<4>, 2, false);
  const auto r2g4 = rln(residualLn<2>, 4, false);
  const double rb = n * 12 / 1e6;
  std::printf("residualLayerNorm f32 x + bf16 y -> f32 sum, bf16 norm [%d, %d] (GB/s at %.0f MB):\n", L, C, rb);
  std::printf("  shipped: 8 chunks per lane, 1 warp per row   %.4f ms  %5.0f GB/s\n", r8.first, rb / r8.first);
  std::printf("  6 chunks per lane, 1 warp per row            %.4f ms  %5.0f GB/s  (norm elements differing: %lld)\n", r6.first, rb / r6.first, r6.second);
  std::printf("  4 chunks per lane, 2 warps per row           %.4f ms  %5.0f GB/s  (norm elements differing: %lld)\n", r4g2.first, rb / r4g2.first, r4g2.second);
  std::printf("  2 chunks per lane, 4 warps per row           %.4f ms  %5.0f GB/s  (norm elements differing: %lld)\n", r2g4.first, rb / r2g4.first, r2g4.second);
  for (void* p : {(void*)xf, (void*)sumf, (void*)normb, (void*)rowp}) CK(cudaFree(p));
  const double mb = n * 2 * 2 / 1e6;
  std::printf("rmsNorm + rope3d bf16 [%d, %d, %d], mean of %d launches (GB/s at 2 x %.0f MB):\n", L, H, D, iters, n * 2 / 1e6);
  std::printf("  shipped rmsnorm_rope (streaming tile)   %.4f ms  %5.0f GB/s\n", tShipped, mb / tShipped);
  std::printf("  packed registers, one warp per row      %.4f ms  %5.0f GB/s\n", tPacked, mb / tPacked);
  std::printf("  resident float tile (RowTile<T, 8>)     %.4f ms  %5.0f GB/s\n", tResident, mb / tResident);
  std::printf("  rope3d alone / rmsNorm alone            %.4f / %.4f ms\n", tRope, tRms);
  for (void* p : {(void*)x, (void*)o0, (void*)o1, (void*)w, (void*)table}) CK(cudaFree(p));
  return ok ? 0 : 1;
}
