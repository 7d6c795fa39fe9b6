#!/usr/bin/env bash
# The WebGPU benchmark in one device command (docs/benchmarks.md, "WebGPU backend on the H100"),
# from the repo root after building the packages (packages/cuda with its kernels, for step 4):
#   source .devkit/prelude.sh && bash tools/bench/webgpu_run.sh "$OUT"
# 1. webgpu-sgmat-check.mjs: every subgroup-matrix tiling (attention dense and block-sparse,
#    GEMM) and the map pass on them against the CPU reference on small awkward shapes, with
#    Dawn's robustness off; with it on, the first two tilings of each kind (the defaults among
#    them) and the map pass. Only what passed is timed below.
# 2. The shared conformance suite at size small, robustness off and on (default paths).
# 3. webgpu-attention.mjs --no-robustness: f16 attention at the Wan-1.3B 480p shape with the
#    predictor's video-like masks (default path dense + map + sparse, the portable map pass; the
#    portable kernel dense and sparse; every other tiling that passed 1) and the GEMMs (every
#    tiling that passed 1), GPU timestamps, median of N; then the defaults with robustness on.
# 4. attention.mjs --backend cuda: our CUDA backend on the same shape and masks (bf16, wall
#    clock), the rows "our CUDA" of the table.
# 5. webgpu_attention_torch.py: PyTorch SDPA / FlexAttention / F.linear on the same data, the
#    float32 check of our outputs, and the table against PyTorch and our CUDA backend.
# nvidia-smi logs SM clock, power and throttle reasons every second to smi.csv meanwhile.
# Results in $1 (8 files, what one device call brings back): webgpu-bench.{md,json},
# ours.json, ours-robust.json, sgmat-check.json, conformance{,-robust}.txt, and raw.tgz with
# the logs (sgmat-check{,-robust}.txt, sgmat-check-robust.json, ours{,-robust}.txt, cuda.{json,err},
# smi.csv).
# Step time limits add up to 520 s, under a device call's 600; the whole run took ~395 s on
# the H100 (checks ~125 s of it).
set -u
out=${1:?usage: webgpu_run.sh OUT_DIR}
cmd='source .devkit/prelude.sh && bash tools/bench/webgpu_run.sh "$OUT"'
t0=$(date +%s)
step() { echo "[$(($(date +%s) - t0)) s] $*"; }
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -l 1 > "$out/smi.csv" 2>&1 &
smi=$!
step sgmat check
timeout 110 node tools/bench/webgpu-sgmat-check.mjs --no-robustness --out "$out/sgmat-check.json" > "$out/sgmat-check.txt" 2>&1
grep -E "FAIL|checks (passed|failed)|nothing to check" "$out/sgmat-check.txt" | head -20
timeout 40 node tools/bench/webgpu-sgmat-check.mjs --limit 2 --out "$out/sgmat-check-robust.json" > "$out/sgmat-check-robust.txt" 2>&1
grep -E "FAIL|checks (passed|failed)|nothing to check" "$out/sgmat-check-robust.txt" | head -20
step conformance small
timeout 20 node tools/bench/webgpu-conformance.mjs --no-robustness --size small > "$out/conformance.txt" 2>&1
tail -1 "$out/conformance.txt"
timeout 20 node tools/bench/webgpu-conformance.mjs --size small > "$out/conformance-robust.txt" 2>&1
tail -1 "$out/conformance-robust.txt"
step f16 attention and GEMMs
timeout 170 node tools/bench/webgpu-attention.mjs --no-robustness --check "$out/sgmat-check.json" --dir /tmp/wgb --iters 10 --config-iters 3 --portable-iters 1 > "$out/ours.txt" 2>&1 || tail -5 "$out/ours.txt"
[ -e /tmp/wgb/ours.json ] && cp /tmp/wgb/ours.json "$out/ours.json" # early: a run cut short still brings it back
step f16 defaults with robustness on
timeout 70 node tools/bench/webgpu-attention.mjs --configs default --check "$out/sgmat-check-robust.json" --dir /tmp/wgb-rob --iters 10 > "$out/ours-robust.txt" 2>&1 || tail -5 "$out/ours-robust.txt"
[ -e /tmp/wgb-rob/ours.json ] && cp /tmp/wgb-rob/ours.json "$out/ours-robust.json"
step our CUDA backend, same shape and masks
timeout 45 node tools/bench/attention.mjs --backend cuda --iters 10 --dir /tmp/wgb-cuda > /dev/null 2> "$out/cuda.err" && cp /tmp/wgb-cuda/ours.json /tmp/wgb/cuda.json && cp /tmp/wgb-cuda/ours.json "$out/cuda.json" || tail -3 "$out/cuda.err"
step pytorch
timeout 45 python tools/bench/webgpu_attention_torch.py --dir /tmp/wgb --out "$out" --iters 10 --command "$cmd" 2>&1 | tail -130
step done
kill $smi
[ -e /tmp/wgb/ours.json ] && cp /tmp/wgb/ours.json "$out/ours.json"
raw=()
for f in sgmat-check.txt sgmat-check-robust.txt sgmat-check-robust.json ours.txt ours-robust.txt cuda.json cuda.err smi.csv; do [ -e "$out/$f" ] && raw+=("$f"); done
[ ${#raw[@]} -gt 0 ] && tar czf "$out/raw.tgz" -C "$out" "${raw[@]}" && (cd "$out" && rm -f "${raw[@]}")
rm -rf /tmp/wgb /tmp/wgb-rob /tmp/wgb-cuda
