#!/usr/bin/env bash
# Runs on the device machine (or anywhere, to try it): unpacks the archive pack.sh made, writes the benchmark model,
# checks that its layers are offloaded, then runs the bench at 1/8/32/64 streams for the gateway (batched layout)
# against node-llama-cpp in-process on the same GPU. Everything it writes goes to $OUT.
# Usage: bash run.sh <gpu-pack.tar.xz>   with GPU=vulkan (default; GPU=off tries it on a CPU), LEVELS, REQUESTS,
#        MAX_TOKENS, MODEL_ARGS (make-model's size flags) and OUT (default ./gpu-results) in the environment.
set -euo pipefail
ARCHIVE=$(realpath "${1:?usage: run.sh <gpu-pack.tar.xz>}")
GPU=${GPU:-vulkan}
LEVELS=${LEVELS:-1,8,32,64}
REQUESTS=${REQUESTS:-4}
MAX_TOKENS=${MAX_TOKENS:-128}
MODEL_ARGS=${MODEL_ARGS:---embd 2048 --layers 16 --ff 5632 --heads 16}
OUT=$(realpath -m "${OUT:-./gpu-results}")
WORK=$(mktemp -d)
mkdir -p "$OUT"
tar -C "$WORK" -xJf "$ARCHIVE"
if [ "$GPU" = vulkan ] && ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" /; done   # the Vulkan loader and libglvnd the machine lacks
  ldconfig
fi
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$NVIDIA_ICD" ] && export VK_DRIVER_FILES="$NVIDIA_ICD" __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
NODE="$WORK/node/package/bin/node"
APP="$WORK/app"
export PATH="$(dirname "$NODE"):$PATH"
{ echo "node: $("$NODE" --version)"; nvidia-smi -L 2>/dev/null || true; vulkaninfo --summary 2>/dev/null | head -20 || true; } | tee "$OUT/machine.txt"

"$NODE" "$APP/dist-bench/bench/gpu/make-model.js" "$WORK/gpu-bench.gguf" "$APP/models/tokenizer-source.gguf" $MODEL_ARGS | tee "$OUT/model.json"
"$NODE" "$APP/dist-bench/bench/gpu/check-offload.js" "$WORK/gpu-bench.gguf" "$GPU" "$OUT" 2>&1 | tee "$OUT/offload.log"   # fails the run when not offloaded

cd "$APP"
"$NODE" dist-bench/bench/run.js --model "$WORK/gpu-bench.gguf" --gpu "$GPU" --layout batched --targets gateway,in-process \
  --concurrency "$LEVELS" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --ctx-size 1024 --threads 4 --name "gpu-$GPU" 2>&1 | tee "$OUT/bench.log"
cp bench/results/* "$OUT/"
echo "results in $OUT"
