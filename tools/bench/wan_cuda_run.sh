#!/usr/bin/env bash
# Wan2.1 end to end on the CUDA backend, in one device command (see docs/benchmarks.md, "Wan2.1 end to end on the H100"):
#   source .devkit/prelude.sh && bash tools/bench/wan_cuda_run.sh "$OUT" [MODE[,MODE...]|all], MODE one of forward, compare, profile, memory14b
# forward:   one T2V-1.3B 480p forward (32,760 tokens, bf16, seeded weights), PyTorch eager with
#            cuDNN SDPA (tools/reference/wan_reference.py) and ours, dense and a MOD sparse step.
# compare:   50-step UniPC + CFG runs of T2V-1.3B at 480p, dense vs MOD-DiT (density 0.2 on
#            sparse steps, layer 0 dense): wall time, fidelity, peak device memory. REPEAT=N in the
#            environment times N dense/MOD pairs in alternating order (about 90 s a pair on an H100).
# profile:   the same, with --profile: the device is drained around every timed op so that the
#            time split per op category is real (the barriers cost a little wall time).
# memory14b: one dense T2V-14B 720p forward (75,600 tokens), all 40 blocks, with its time and
#            peak device memory.
# Results land in $1 as JSON lines.
set -u
out=${1:?usage: wan_cuda_run.sh OUT_DIR [MODE[,MODE...]|all]}
what=${2:-all}
want() { [ "$what" = all ] || [[ ",$what," == *",$1,"* ]]; }
if want forward; then
  timeout 240 python3 tools/reference/wan_reference.py --time --model 1.3B --iters 3 > "$out/wan13b-pytorch.jsonl" 2> "$out/wan13b-pytorch.log"
  echo "pytorch exit $?"; tail -c 400 "$out/wan13b-pytorch.jsonl"
  timeout 240 node tools/reference/wan-forward.mjs --backend cuda --model t2v-1.3B --dtype bf16 --iters 3 --attention dense,mod --density 0.2 --out "$out/wan13b-forward.jsonl" 2> "$out/wan13b-forward.log"
  echo "forward exit $?"; tail -c 600 "$out/wan13b-forward.log"
fi
for mode in compare profile; do
  if want $mode; then
    flags=(--repeat "${REPEAT:-1}"); [ $mode = profile ] && flags=(--profile)
    timeout 420 node tools/reference/wan-compare.mjs --backend cuda --model t2v-1.3B --steps 50 --density 0.2 "${flags[@]}" --out "$out/wan13b-$mode.jsonl" 2> "$out/wan13b-$mode.log"
    echo "$mode exit $?"; tail -c 600 "$out/wan13b-$mode.log"
  fi
done
if want memory14b; then
  timeout 420 node tools/reference/wan-forward.mjs --backend cuda --model t2v-14B --latent 21x90x160 --iters 1 --out "$out/wan14b-forward.jsonl" 2> "$out/wan14b-forward.log"
  echo "14B exit $?"; tail -c 600 "$out/wan14b-forward.log"
fi
