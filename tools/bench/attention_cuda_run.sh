#!/usr/bin/env bash
# The CUDA attention benchmark in one device command (see docs/benchmarks.md, "CUDA backend on the H100"):
#   source .devkit/prelude.sh && bash tools/bench/attention_cuda_run.sh "$OUT"
# Conformance suite, then ours and PyTorch on the same inputs at the Wan-1.3B 480p shape
# (dense, dense+map, sparse at 4 densities, GEMMs) and the HunyuanVideo 720p shape (dense,
# dense+map, sparse at 4 densities with the 256 text tokens' rows and columns always on).
# Each row names the kernel that ran it. Results land in $1 (vitest.txt, wan/bench.md,
# hunyuan/bench.md); about 7 minutes on an H100.
set -u
out=${1:?usage: attention_cuda_run.sh OUT_DIR}
cmd='source .devkit/prelude.sh && bash tools/bench/attention_cuda_run.sh "$OUT"'
timeout 200 node node_modules/vitest/vitest.mjs run --project @mod-dit/cuda 2>&1 | grep -v "VITE_CONFIG\|configLoader\|vitest.shared\|^  - " > "$out/vitest.txt"
grep -E "×|Tests  |Test Files" "$out/vitest.txt"
for shape in wan hunyuan; do
  # HunyuanVideo: ~0.5 s per dense call, so fewer iterations and no GEMMs (Wan's linears)
  iters=10; extra=(); [ "$shape" = hunyuan ] && iters=3 && extra=(--no-gemm)
  timeout 150 node tools/bench/attention.mjs --shape "$shape" --dir "/tmp/attn-$shape" --iters "$iters" "${extra[@]}" > "$out/ours-$shape.txt" 2>&1 || tail -5 "$out/ours-$shape.txt"
  timeout 200 python tools/bench/attention_torch.py --dir "/tmp/attn-$shape" --out "$out/$shape" --command "$cmd" --iters "$iters" 2>&1 | tail -40
  rm -rf "/tmp/attn-$shape"
done
