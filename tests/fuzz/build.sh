#!/usr/bin/env bash
# sanitize.build: configures and builds the sanitizer tree with clang (ASan,
# UBSan, libFuzzer): the library, test support, unit tests and fuzz targets,
# nothing that links libvirt. Prints how long it took.
# Usage: build.sh SOURCE_DIR BUILD_DIR [COMPILER_LAUNCHER]
set -euo pipefail
src=$1 build=$2 launcher=${3:-}
start=$(date +%s)

if ! command -v clang++ >/dev/null; then
  echo "sanitize.build: clang++ is missing: install clang and libclang-rt-14-dev (scripts/setup.sh does)" >&2
  exit 1
fi
runtime="$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
if [ ! -f "$runtime" ]; then
  echo "sanitize.build: $runtime is missing: install libclang-rt-14-dev (scripts/setup.sh does)" >&2
  exit 1
fi

args=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DHOSTDEV_SANITIZE=ON -DHOSTDEV_BUILD_VIRSH_PLUGIN=OFF)
[ -n "$launcher" ] && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
cmake -S "$src" -B "$build" "${args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target hostdev_unit_tests fuzz_targets
echo "sanitize.build: built in $(($(date +%s) - start)) s"
