#!/usr/bin/env bash
# Boots the prepared guest once and captures its serial ports.
#
#   tests/kernel/boot.sh OUT_DIR [TIMEOUT_SECONDS] [devices|gpu|libvirt]
#
# Three profiles, two device sets, one initramfs; /init runs the profile's
# scenarios (it reads hostdev_suite= from the kernel command line). The
# libvirt profile has the devices profile's device set and runs libvirt's
# own daemon in the guest (libvirt.sh).
#
# Always TCG (KVM is neither needed nor trusted here), q35 with QEMU's Intel
# IOMMU (interrupt remapping, caching mode), and a device set whose IOMMU
# groups differ in kind:
#   00:02.0 pcie-root-port -> 01:00.0 e1000e     own group
#   00:03.0 pcie-root-port -> 02:00.0 nvme       own group
#   00:04.0 qemu-xhci, 00:05.0 ich9-intel-hda (hda-duplex codec)
#   00:06.0 + 00:06.1 virtio-net-pci             one multifunction slot, one group
#   00:07.0 pcie-pci-bridge -> 03:01.0 e1000     bridge and endpoint in one group
#   00:1f.x q35's ICH9 LPC, SATA and SMBus       one group of platform functions
#   (the devices profile, the default);
# gpu: UEFI firmware (OVMF) and QEMU's standard VGA at 00:02.0 (its own
# group, the boot display), so that the firmware framebuffer (efifb) and
# fbcon hold it at boot, as on a single-GPU desktop.
# ttyS0 (the console) goes to OUT/console.log, ttyS1 (the guest's result
# lines) to OUT/results.log (for the gpu and libvirt profiles both under
# OUT/gpu or OUT/libvirt). Exits
# 0 when the guest ran to its end ("HOSTDEV-DONE"); whether each check passed is for check.sh to say.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${1:?usage: boot.sh OUT_DIR [TIMEOUT_SECONDS] [devices|gpu|libvirt]}
LIMIT=${2:-240}
PROFILE=${3:-devices}
[ -s "$OUT/guest.env" ] || kernel_die "$OUT/guest.env is missing: run prepare.sh first"
. "$OUT/guest.env"
[ -f "$VMLINUZ" ] && [ -f "$INITRD" ] || kernel_die "the prepared kernel or initramfs is gone: run prepare.sh again"
LOGS=$OUT
case "$PROFILE" in
  devices) ;;
  gpu) LOGS=$OUT/gpu ;;
  libvirt) LOGS=$OUT/libvirt ;;
  *) kernel_die "unknown profile '$PROFILE' (devices, gpu or libvirt)" ;;
esac
mkdir -p "$LOGS" || kernel_die "cannot create $LOGS"
CONSOLE=$LOGS/console.log
RESULTS=$LOGS/results.log
rm -f "$CONSOLE" "$RESULTS"   # a stale log must never pass

MEM=1024
[ "$PROFILE" = libvirt ] && MEM=1536   # libvirtd and a nested guest besides the scenarios
QEMU_ARGS=(
  -machine q35,kernel-irqchip=split -accel tcg -smp 2 -m "$MEM"
  -device intel-iommu,intremap=on,caching-mode=on
  -display none -no-reboot -nodefaults -monitor none
  -serial "file:$CONSOLE" -serial "file:$RESULTS"
  -kernel "$VMLINUZ" -initrd "$INITRD"
  -append "console=ttyS0 panic=-1 intel_iommu=on hostdev_suite=$PROFILE"
)

if [ "$PROFILE" = gpu ]; then
  CODE=/usr/share/OVMF/OVMF_CODE_4M.fd VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
  [ -f "$CODE" ] && [ -f "$VARS" ] || kernel_die "$CODE or $VARS is missing (package ovmf; prepare.sh installs it)"
  cp "$VARS" "$LOGS/OVMF_VARS.fd" || kernel_die "cannot copy $VARS"
  QEMU_ARGS+=(
    -drive "if=pflash,format=raw,readonly=on,file=$CODE" -drive "if=pflash,format=raw,file=$LOGS/OVMF_VARS.fd"
    -device VGA,bus=pcie.0,addr=0x2
  )
  echo "booting $KVER under TCG with UEFI firmware and a VGA display (limit ${LIMIT} s)"
else
  QEMU_ARGS+=(
    -audiodev none,id=snd0
    -device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1
    -netdev hubport,id=n1,hubid=0 -device e1000e,bus=rp1,addr=0x0,netdev=n1
    -device pcie-root-port,id=rp2,bus=pcie.0,addr=0x3,chassis=2
    -device nvme,bus=rp2,addr=0x0,serial=hostdev-kernel
    -device qemu-xhci,bus=pcie.0,addr=0x4
    -device ich9-intel-hda,id=hda,bus=pcie.0,addr=0x5 -device hda-duplex,bus=hda.0,audiodev=snd0
    -netdev hubport,id=n2,hubid=0 -device virtio-net-pci,bus=pcie.0,addr=0x6.0,multifunction=on,netdev=n2
    -netdev hubport,id=n3,hubid=0 -device virtio-net-pci,bus=pcie.0,addr=0x6.1,netdev=n3
    -device pcie-pci-bridge,id=br1,bus=pcie.0,addr=0x7
    -netdev hubport,id=n4,hubid=0 -device e1000,bus=br1,addr=0x1,netdev=n4
  )
  # libvirt: a second virtio-net pair, as PCIe functions behind a root port
  # (04:00.0 and 04:00.1, one group), for whole-group hot-plug into PCIe
  # root ports of a q35 domain.
  [ "$PROFILE" = libvirt ] && QEMU_ARGS+=(
    -device pcie-root-port,id=rp3,bus=pcie.0,addr=0x8,chassis=3
    -netdev hubport,id=n5,hubid=0 -device virtio-net-pci,bus=rp3,addr=0x0.0,multifunction=on,netdev=n5
    -netdev hubport,id=n6,hubid=0 -device virtio-net-pci,bus=rp3,addr=0x0.1,netdev=n6
  )
  echo "booting $KVER under TCG (limit ${LIMIT} s)"
fi
start=$(date +%s.%N)
timeout --kill-after=10 "$LIMIT" qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null >"$LOGS/qemu.out" 2>&1
rc=$?
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "qemu exited $rc after $took s"
sed 's/^/qemu: /' "$LOGS/qemu.out"

if [ -f "$RESULTS" ]; then
  tr -d '\r' <"$RESULTS" | grep -E '^HOSTDEV-(RESULT|INFO setup)' || true
fi
if [ ! -f "$RESULTS" ] || ! tr -d '\r' <"$RESULTS" | grep -qx 'HOSTDEV-DONE'; then
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "the guest did not finish within ${LIMIT} s" >&2
  echo "the guest did not run to its end; last console lines:" >&2
  tail -n 40 "$CONSOLE" 2>/dev/null | tr -d '\r' >&2
  exit 1
fi
echo "guest finished in $took s"
awk -v a="$PREPARE_STARTED" -v b="$(date +%s.%N)" \
  'BEGIN { printf "kernel suite wall time (prepare and boot): %.1f s\n", b - a }'
