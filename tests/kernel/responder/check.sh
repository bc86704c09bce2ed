#!/usr/bin/env bash
# The guest responder on its own, on this machine's QEMU (TCG, a few seconds):
#
#   tests/kernel/responder/check.sh KERNEL_OUT_DIR
#
# Boots KERNEL_OUT_DIR/root/hostdev-test/responder.elf (built by
# kernel.prepare) in a q35 guest with two PCIe root ports, hot-adds an
# emulated virtio-net function behind each through the monitor, asks QEMU to
# unplug both, and reads the guest's PCI bus: with ACPI PCI hotplug (q35's
# default) and with native PCIe hotplug (ACPI hotplug turned off), both
# functions must be gone and the responder's serial log must have one answer
# per slot (A or N); without the responder (no OS) both must still be there,
# which shows the check can fail. Nothing of this machine is touched: the
# devices are QEMU's own.
set -uo pipefail
export LC_ALL=C

OUT=${1:?usage: check.sh KERNEL_OUT_DIR}
ELF=$OUT/root/hostdev-test/responder.elf
[ -s "$ELF" ] || { echo "check.sh: $ELF is missing: run kernel.prepare first" >&2; exit 1; }
QEMU=$(command -v qemu-system-x86_64) || { echo "check.sh: qemu-system-x86_64 not found" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-responder-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failed=0
# run NAME [QEMU ARGS...]: the scenario through the human monitor on stdin;
# leaves the monitor's output in $WORK/NAME.mon and the serial log in
# $WORK/NAME.serial.
run() {
  local name=$1
  shift
  {
    sleep 3
    echo "device_add virtio-net-pci,id=n1,bus=rp1"
    echo "device_add virtio-net-pci,id=n2,bus=rp2"
    sleep 2
    echo "info pci"
    echo "device_del n1"
    echo "device_del n2"
    sleep 4
    echo "info pci"
    echo "quit"
  } | timeout -s KILL 60 "$QEMU" -machine q35 -accel tcg -m 64 -nodefaults -display none \
    -monitor stdio -serial "file:$WORK/$name.serial" \
    -device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x2 \
    -device pcie-root-port,id=rp2,chassis=2,bus=pcie.0,addr=0x3 \
    "$@" >"$WORK/$name.mon" 2>&1
}
# count NAME: virtio-net functions (1af4:1041 behind a PCIe port) in each
# `info pci` (each starts with the host bridge), as "BEFORE AFTER".
count() {
  awk '/Host bridge: PCI device/ { n++ } /PCI device 1af4:1041/ { c[n]++ } END { printf "%d %d", c[1], c[2] }' "$WORK/$1.mon"
}
expect() {  # expect NAME BEFORE AFTER ANSWERS WHAT
  local got answers
  got=$(count "$1")
  answers=$(tr -cd 'AN' <"$WORK/$1.serial" 2>/dev/null | head -c 40)
  if [ "$got" = "$2 $3" ] && [ "$answers" = "$4" ]; then
    echo "ok: $5 (virtio-net functions before and after the unplug: $got; answers: '${answers}')"
  else
    echo "FAIL: $5: functions before and after: '$got', expected '$2 $3'; answers '$answers', expected '$4'" >&2
    sed 's/^/  monitor: /' "$WORK/$1.mon" | tail -40 >&2
    failed=$((failed + 1))
  fi
}

run acpi -kernel "$ELF"
expect acpi 2 0 AA "ACPI PCI hotplug: the responder ejects both slots"
run native -kernel "$ELF" -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
expect native 2 0 NN "native PCIe hotplug: the responder powers both slots off"
run mute
expect mute 2 2 "" "no responder: nothing answers, both functions stay"

[ "$failed" -eq 0 ] || { echo "$failed failed"; exit 1; }
echo "all passed"
