#!/usr/bin/env bash
# One-step setup on Debian 12: installs what is missing, builds, then either
# runs the main job on a bundled example host (demo) or the whole test suite
# (test). Usage: scripts/setup.sh demo|test
set -euo pipefail

mode=${1:-}
case "$mode" in
  demo|test) ;;
  *) echo "usage: $0 demo|test" >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libvirt-dev libxml2-dev libpugixml-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  pci.ids pciutils libvirt0 libvirt-clients libxml2-utils jq
  # scripts/check-format.sh (ctest -L format)
  clang-format-14
  # The man pages (scdoc; ctest -L man renders them with man-db and groff) and
  # the bash completion's test (ctest -L completion loads bash-completion first).
  scdoc man-db groff-base bash-completion
  # The sanitizer and fuzz tests (ctest -L sanitize, -L fuzz): clang, its
  # libFuzzer and ASan/UBSan runtimes, llvm-symbolizer for their reports.
  clang libclang-rt-14-dev llvm
  # The Debian packages (ctest -L package): dpkg-buildpackage (dpkg-dev) with
  # debhelper, lintian on the result, fakeroot for a build as a user.
  debhelper dpkg-dev lintian fakeroot
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

case "$mode" in
  demo)
    ./build/cli/hostdev-fix --host examples/hosts/z170-gtx970.json --diff examples/domains/win10-gtx970.xml
    ;;
  test)
    cd build
    ctest --output-on-failure -j"$jobs"
    ;;
esac
