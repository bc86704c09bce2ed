#!/usr/bin/env bash
# libvirt start benchmark, on a real kernel: what the hook adds to `virsh
# start`, measured inside the kernel suite's guest (its libvirt profile:
# Debian's kernel with an emulated Intel IOMMU under TCG, libvirt's own
# daemon, the built hook installed as /etc/libvirt/hooks/qemu.d/50-hostdev).
#
#   bench/libvirt-start.sh [--reuse] BUILD_DIR
#
# Prepares the guest (tests/kernel/prepare.sh) and boots its libvirt profile
# (tests/kernel/boot.sh ... libvirt), then prints check L6's figures:
#   - virsh start of a domain without hostdevs: the hook's own share (timed by
#     stamp hooks libvirt runs just before and after it), and the whole start
#     with and without the hook installed (same daemon, taking turns);
#   - virsh start of a domain whose group has two endpoints, split into the
#     hook, QEMU (from the start hook to the started hook) and the rest
#     (libvirt and virsh);
#   - check L7's hot-plug: virt-hostdev attach of a two-function group to a
#     running domain, and its live detach, answered by the guest responder.
# With --reuse, prints the figures of the last boot under BUILD_DIR instead
# (what `ctest -L kernel-libvirt` left). Nested TCG is slow and noisy: read
# the figures as orders of magnitude, medians of few runs.
# Exit status: 0 when measured, 1 when something broke, 2 on bad usage.
set -uo pipefail
export LC_ALL=C

usage() {
    echo "usage: libvirt-start.sh [--reuse] BUILD_DIR   (libvirt-start.sh --help for more)" >&2
    exit 2
}
reuse=false
while [[ $# -gt 0 ]]; do
    case $1 in
        --reuse) reuse=true; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        -*) echo "libvirt-start.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ $# -eq 1 ]] || usage
build=$(cd "$1" 2>/dev/null && pwd) || { echo "libvirt-start.sh: no build directory $1" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
out=$build/tests/kernel
results=$out/libvirt/results.log

if ! $reuse; then
    bash "$src/tests/kernel/prepare.sh" "$build" "$src" "$out" >/dev/null || { echo "libvirt-start.sh: prepare failed" >&2; exit 1; }
    bash "$src/tests/kernel/boot.sh" "$out" 900 libvirt >/dev/null || { echo "libvirt-start.sh: the guest did not run to its end" >&2; exit 1; }
fi
[[ -f $results ]] || { echo "libvirt-start.sh: no $results (run without --reuse, or ctest -L kernel-libvirt)" >&2; exit 1; }
figures=$(tr -d '\r' <"$results" | awk '$1 == "HOSTDEV-INFO" && $2 == "L6"' | cut -d' ' -f3- | grep -E 'ms' | grep -v '^ *[0-9.]* [0-9]*-stamp')
result=$(tr -d '\r' <"$results" | awk '$1 == "HOSTDEV-RESULT" && $2 == "L6"' | cut -d' ' -f3-)
[[ -n $result ]] || { echo "libvirt-start.sh: the guest printed no L6 result" >&2; exit 1; }
echo "$figures"
echo "L6: $result"
# The hot-plug figures of check L7: virt-hostdev attach and the live detach
# the guest responder answers (both functions of the group).
tr -d '\r' <"$results" | awk '$1 == "HOSTDEV-INFO" && $2 == "L7"' | cut -d' ' -f3- \
    | grep -E '^(attach to |live detach).* -> exit [0-9]+ after [0-9]+ ms' | sed -E 's/(after [0-9]+ ms).*/\1/' \
    | sed 's/^/L7: /'
