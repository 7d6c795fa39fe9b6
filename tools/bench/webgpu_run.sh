#!/usr/bin/env bash
# The WebGPU benchmark in one device command (docs/benchmarks.md, "WebGPU backend on the H100"),
# from the repo root after building packages/tensor, packages/predictor and packages/webgpu:
#   source .devkit/prelude.sh && bash tools/bench/webgpu_run.sh "$OUT"
# 1. webgpu-sgmat-check.mjs: every subgroup-matrix tiling (attention, GEMM) against the CPU
#    reference on small awkward shapes; only those that pass are timed below.
# 2. The shared conformance suite at size small (default paths).
# 3. attention.mjs --backend webgpu: the predictor's video-like masks at the Wan-1.3B 480p shape,
#    and the portable kernel (bf16) dense / sparse, wall clock (~1 s calls).
# 4. webgpu-attention.mjs: f16 attention (default path dense + map; the portable kernel dense
#    and sparse on those masks; each tiling that passed 1, dense, and sparse where its sparse
#    check passed) and the GEMMs (each tiling that passed 1), GPU timestamps, median of N.
# 5. webgpu_attention_torch.py: PyTorch SDPA / FlexAttention / F.linear on the same data and
#    the float32 check of our outputs.
# Results in $1: sgmat-check.{txt,json}, conformance.txt, portable-attention.json,
# ours.txt, webgpu-bench.{md,json}. About 3.5 minutes on the H100 (3.2 on 2026-11-27).
set -u
out=${1:?usage: webgpu_run.sh OUT_DIR}
cmd='source .devkit/prelude.sh && bash tools/bench/webgpu_run.sh "$OUT"'
t0=$(date +%s)
step() { echo "[$(($(date +%s) - t0)) s] $*"; }
step sgmat check
timeout 75 node tools/bench/webgpu-sgmat-check.mjs --out "$out/sgmat-check.json" > "$out/sgmat-check.txt" 2>&1
grep -E "FAIL|checks (passed|failed)|nothing to check" "$out/sgmat-check.txt" | head -20
step conformance small
timeout 35 node tools/bench/webgpu-conformance.mjs --size small > "$out/conformance.txt" 2>&1
tail -3 "$out/conformance.txt"
step portable attention with the predictor masks
timeout 50 node tools/bench/attention.mjs --backend webgpu --no-gemm --iters 1 --dir /tmp/wgb-masks > "$out/portable-attention.json" 2>&1 || tail -3 "$out/portable-attention.json"
step f16 attention and GEMMs
timeout 110 node tools/bench/webgpu-attention.mjs --masks /tmp/wgb-masks --check "$out/sgmat-check.json" --dir /tmp/wgb --iters 10 --config-iters 3 --portable-iters 1 > "$out/ours.txt" 2>&1 || tail -5 "$out/ours.txt"
step pytorch
timeout 70 python tools/bench/webgpu_attention_torch.py --dir /tmp/wgb --out "$out" --iters 10 --command "$cmd" 2>&1 | tail -130
step done
rm -rf /tmp/wgb /tmp/wgb-masks
