# shellcheck shell=bash
# Shared by the kernel suite's host-side scripts (sourced, not run).
#
# Layout under the suite's work directory OUT (BUILD/tests/kernel):
#   cache/               the kernel .deb and its unpacked tree, kept between runs
#   root/                the initramfs staging tree, rebuilt on every prepare
#   initramfs.cpio.gz    the packed initramfs
#   guest.env            KVER, VMLINUZ and INITRD of the prepared guest
#   console.log          the guest's first serial port: kernel and /init output
#   results.log          the guest's second serial port: result lines only
set -uo pipefail
export LC_ALL=C

kernel_die() { echo "${0##*/}: $*" >&2; exit 1; }

# block NAME FILE: the lines between "HOSTDEV-BEGIN NAME" and "HOSTDEV-END NAME".
block() {
  awk -v b="HOSTDEV-BEGIN $1" -v e="HOSTDEV-END $1" '
    { sub(/\r$/, "") }
    $0 == e { inside = 0 }
    inside { print }
    $0 == b { inside = 1 }' "$2"
}

# decoded_block NAME FILE: a block that the guest wrote in base64, decoded.
decoded_block() {
  block "$1" "$2" | base64 -d
}
