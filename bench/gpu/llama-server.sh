#!/usr/bin/env bash
# The reference server on the gateway's own native code: builds llama-server from the llama.cpp sources that
# node-llama-cpp's package bundles (the same commit as its prebuilt binaries), then runs it on node-llama-cpp's
# prebuilt libraries instead of its own, so a benchmark compares the two servers, not two builds of llama.cpp.
# No relinking: a folder holds links to every file of node-llama-cpp's bins folder for the backend, the names
# llama-server was linked against (libllama.so.0, ...) pointing at node-llama-cpp's files, and a copy of
# llama-server itself (ggml looks for its backends beside the executable); llama-server.sh there runs it.
#
# Usage: bash bench/gpu/llama-server.sh [build-dir] [cpu|vulkan|cuda]
#   build-dir: where the sources are cloned and built (default bench/gpu/llama-server-build; ~12 min on 2 cores,
#   reused when it is there). cuda: CUDA_BINS names the bins folder of a CUDA build of node-llama-cpp.
#   PREBUILT: a folder holding llama-server and its own libraries as built elsewhere (pack.sh ships them to the
#   device so that nothing is compiled there): then nothing is built.
#   Prints the path of the wrapper; `<wrapper> --version` and `--list-devices` check it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath -m "${1:-$ROOT/bench/gpu/llama-server-build}")
VARIANT=${2:-cpu}
case "$VARIANT" in
  cpu) BINS=$ROOT/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 ;;
  vulkan) BINS=$ROOT/node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan ;;
  cuda) BINS=${CUDA_BINS:?CUDA_BINS: the bins folder of node-llama-cpp built with CUDA} ;;
  *) echo "unknown variant $VARIANT (cpu, vulkan or cuda)" >&2; exit 2 ;;
esac
test -f "$BINS/llama-addon.node" || { echo "no node-llama-cpp binaries in $BINS" >&2; exit 1; }

SRC=$BUILD/llama.cpp
BUILT=${PREBUILT:-$SRC/build/bin}
if [ -z "${PREBUILT:-}" ] && [ ! -x "$SRC/build/bin/llama-server" ]; then
  rm -rf "$SRC" && mkdir -p "$BUILD"
  git clone --quiet "$ROOT/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$SRC"
  # The backend is whatever node-llama-cpp's libraries carry: llama-server itself is built for the CPU only.
  cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON >"$BUILD/cmake.log"
  cmake --build "$SRC/build" --target llama-server -j"$(nproc)" >"$BUILD/build.log"
fi

RUN=$BUILD/run-$VARIANT
rm -rf "$RUN" && mkdir -p "$RUN"
for file in "$BINS"/*; do ln -s "$file" "$RUN/"; done
# node-llama-cpp's names for what llama-server was linked against (libllama.vulkan.v0.5.0.so for libllama.so.0, ...).
only() { local found=("$@"); [ ${#found[@]} -eq 1 ] && [ -e "${found[0]}" ] || { echo "expected one file, found: ${found[*]}" >&2; exit 1; }; echo "${found[0]}"; }
ln -sf "$(only "$BINS"/libllama.*v*.so)" "$RUN/libllama.so.0"
ln -sf "$(only "$BINS"/libggml.*v*.so)" "$RUN/libggml.so.0"
ln -sf "$BINS/libggml-base.so" "$RUN/libggml-base.so.0"
ln -sf "$BINS/libllama-common.so" "$RUN/libllama-common.so.0"
# llama-server's own libraries (multimodal, the server's implementation), as built.
for lib in "$BUILT"/lib*.so*; do
  case "$(basename "$lib")" in libllama.so* | libggml*.so* | libllama-common.so*) ;; *) cp -P "$lib" "$RUN/" ;; esac
done
cp "$BUILT/llama-server" "$RUN/llama-server"
cat >"$RUN/llama-server.sh" <<EOF
#!/usr/bin/env bash
LD_LIBRARY_PATH="$RUN\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$RUN/llama-server" "\$@"
EOF
chmod +x "$RUN/llama-server.sh"
missing=$(LD_LIBRARY_PATH="$RUN" ldd "$RUN/llama-server" | grep "not found" || true)
[ -z "$missing" ] || { echo "unresolved libraries: $missing" >&2; exit 1; }
echo "$RUN/llama-server.sh"
