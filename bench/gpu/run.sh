#!/usr/bin/env bash
# Runs on the device machine (or anywhere, to try it): unpacks the archive pack.sh made, writes the benchmark model,
# checks that its layers are offloaded, then runs the bench at 1/8/32/64 streams for the gateway (batched layout)
# against node-llama-cpp in-process and llama-server, all three on the same GPU and the same native libraries, two
# rounds (the second is the one to read: the first compiles shaders). Everything it writes goes to $OUT.
# Usage: bash run.sh <gpu-pack.tar.xz>   with GPU=vulkan (default; GPU=off tries it on a CPU), LEVELS, REQUESTS,
#        MAX_TOKENS, ROUNDS (2), MODEL_ARGS (make-model's size flags) and OUT (default ./gpu-results) in the environment.
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

# llama-server on the same libraries as the gateway (the backend's bins folder), as many slots as the most streams.
case "$GPU" in off) VARIANT=cpu ;; *) VARIANT=$GPU ;; esac
SERVER=$(PREBUILT="$WORK/llama-server" bash "$APP/bench/gpu/llama-server.sh" "$WORK/llama-server-run" "$VARIANT")
SLOTS=$(echo "$LEVELS" | tr , '\n' | sort -n | tail -1)
"$SERVER" --list-devices 2>&1 | tee "$OUT/llama-server-devices.txt"
"$SERVER" -m "$WORK/gpu-bench.gguf" --port 8091 -np "$SLOTS" -c $((1024 * SLOTS)) -ngl 999 -t 4 -fa on --no-warmup \
  --override-kv llama.context_length=int:$((1024 * SLOTS)) >"$OUT/llama-server.log" 2>&1 &
LLAMA_SERVER_PID=$!
trap 'kill $LLAMA_SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 120); do "$NODE" -e "fetch('http://127.0.0.1:8091/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break; sleep 1; done

cd "$APP"
"$NODE" dist-bench/bench/run.js --model "$WORK/gpu-bench.gguf" --gpu "$GPU" --layout batched \
  --targets gateway,in-process,llama-server=http://127.0.0.1:8091/v1 \
  --concurrency "$LEVELS" --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --ctx-size 1024 --threads 4 --rounds "${ROUNDS:-2}" --name "gpu-$GPU" 2>&1 | tee "$OUT/bench.log"
cp bench/results/* "$OUT/"
echo "results in $OUT"
