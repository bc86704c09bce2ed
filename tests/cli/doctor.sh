#!/usr/bin/env bash
# hostdev doctor and hostdev boot-config from the command line: doctor's exit
# codes 0/1/2 and both formats; boot-config's exit codes 0/2/3/64, and --write
# (atomic files, backups of what it replaces, contents, a second run changing
# nothing, never the bootloader configuration).
. "$(dirname "$0")/lib.sh"

Z=$SRC/examples/hosts/z170-gtx970.json
L=$SRC/examples/hosts/hm170-laptop.json
D=$SRC/examples/domains

# ---- doctor -----------------------------------------------------------------

# 0: a ready host.
cat >"$WORK/ready.spec" <<'SPEC'
host cpu=GenuineIntel cmdline="ro quiet intel_iommu=on iommu=pt" iommu=dmar0
host release=6.1.0-18-amd64 irq_remap=yes modules=vfio,vfio_iommu_type1,vfio_pci vfio_modules=available fb=none
host fbcon=no display_manager=none
host hook=installed initramfs=initramfs-tools bootloader=grub
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau boot_vga=1
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:17.0 8086:a102 0x010601 group=3 driver=ahci role=root-fs
SPEC
"$FAKEROOT" "$WORK/ready.spec" "$WORK/ready" || { echo "cannot build fake root"; exit 1; }
expect_rc 0 "$HOSTDEV" doctor --root "$WORK/ready"
expect_grep '^10 checks: 10 ok, 0 warnings, 0 errors$' "$WORK/out"
expect_rc 0 "$HOSTDEV" doctor --root "$WORK/ready" --format json
jq -e '.exit_code == 0 and (.checks | length) == 10 and all(.checks[]; .verdict == "ok" and .fix == "")
       and ([.checks[].id] == ["iommu", "interrupt-remapping", "acs-override", "vfio-modules", "device-reset",
                               "device-boot-vga", "gpu-holders", "gpu-handoff", "device-shared-ids", "libvirt-hook"])' "$WORK/out" >/dev/null \
  && ok || not_ok "doctor JSON on a ready host"
# A snapshot of the root gives the same checks.
expect_rc 0 "$HOSTDEV" snapshot --root "$WORK/ready" -o "$WORK/ready.json"
expect_rc 0 "$HOSTDEV" doctor --root "$WORK/ready"; cp "$WORK/out" "$WORK/ready.root.txt"
expect_rc 0 "$HOSTDEV" doctor --host "$WORK/ready.json"
expect_same "$WORK/out" "$WORK/ready.root.txt"

# 1: warnings only (the Z170 example: ACS override, no hook).
expect_rc 1 "$HOSTDEV" doctor --host "$Z"
expect_grep '^warn  acs-override: pcie_acs_override=downstream' "$WORK/out"
expect_grep '^      fix: ' "$WORK/out"
expect_rc 1 "$HOSTDEV" doctor --host "$Z" --format json
jq -e '.exit_code == 1 and ([.checks[] | select(.verdict == "warn") | .id] | sort) == ["acs-override", "gpu-holders", "libvirt-hook"]' \
  "$WORK/out" >/dev/null && ok || not_ok "doctor JSON warnings on the Z170"
# The laptop's listing does not show its console or display manager: unknown, a warning.
expect_rc 1 "$HOSTDEV" doctor --host "$L"
expect_grep '^warn  gpu-holders: 0000:00:02.0 .* is unknown' "$WORK/out"

# 2: no IOMMU, with the firmware setting and this CPU's parameter.
printf 'host iommu=none cpu=AuthenticAMD\ndev 01:00.0 1002:67df 0x030000 driver=amdgpu\n' >"$WORK/noiommu.spec"
"$FAKEROOT" "$WORK/noiommu.spec" "$WORK/noiommu"
expect_rc 2 "$HOSTDEV" doctor --root "$WORK/noiommu"
expect_grep '^error iommu: no IOMMU is active' "$WORK/out"
expect_grep 'fix: Enable AMD-Vi .*amd_iommu=on iommu=pt' "$WORK/out"
if grep -q 'intel_iommu' "$WORK/out"; then not_ok "AMD host told intel_iommu"; else ok; fi
expect_rc 2 "$HOSTDEV" doctor --root "$WORK/noiommu" --format json
jq -e '.exit_code == 2 and (.checks[] | select(.id == "iommu") | .verdict == "error" and (.fix | test("amd_iommu=on")))' \
  "$WORK/out" >/dev/null && ok || not_ok "doctor JSON without IOMMU"

# Per-device checks carry the device in JSON.
cat >"$WORK/twins.spec" <<'SPEC'
host iommu=ivhd0 cpu=AuthenticAMD fb=efifb
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau boot_vga=1
dev 02:00.0 10de:13c2 0x030000 group=2 driver=nouveau reset=none
SPEC
"$FAKEROOT" "$WORK/twins.spec" "$WORK/twins"
expect_rc 1 "$HOSTDEV" doctor --root "$WORK/twins" --format json
jq -e '[.checks[] | select(.id == "device-shared-ids") | .device] == ["0000:01:00.0", "0000:02:00.0"]
       and [.checks[] | select(.id == "device-reset") | .device] == ["0000:02:00.0"]
       and [.checks[] | select(.id == "device-boot-vga") | .device] == ["0000:01:00.0"]
       and all(.checks[] | select(.id == "iommu"); has("device") | not)' "$WORK/out" >/dev/null \
  && ok || not_ok "doctor per-device checks"

# Usage and unreadable hosts.
expect_rc 64 "$HOSTDEV" doctor --format yaml --host "$Z"
expect_rc 64 "$HOSTDEV" doctor --root "$WORK/ready" --host "$Z"
mkdir -p "$WORK/empty"
expect_rc 2 "$HOSTDEV" doctor --root "$WORK/empty"
expect_grep 'no PCI devices directory' "$WORK/err"

# --root is a boundary for doctor too: a hook, the kernel modules and the
# command line reached through links that lead out of the root are not this
# root's, and nothing outside is read.
mkdir -p "$WORK/outside/modules/kernel/drivers/vfio"
touch "$WORK/outside/modules/kernel/drivers/vfio/vfio.ko"
printf '#!/bin/sh\nexec /usr/libexec/hostdev-hook "$@"\n' >"$WORK/outside/hostdev-hook"
chmod +x "$WORK/outside/hostdev-hook"
echo 'ro intel_iommu=on pcie_acs_override=downstream SENTINEL-OUTSIDE' >"$WORK/outside/cmdline"
cp -a "$WORK/ready" "$WORK/escaping"
E2=$WORK/escaping
up=$(printf '../%.0s' $(seq 24))
rm -f "$E2"/etc/libvirt/hooks/qemu.d/*
ln -s "$up${WORK#/}/outside/hostdev-hook" "$E2/etc/libvirt/hooks/qemu.d/50-hostdev"
rm -rf "$E2/lib/modules/6.1.0-18-amd64"
ln -s "$WORK/outside/modules" "$E2/lib/modules/6.1.0-18-amd64"
rm "$E2/proc/cmdline"
ln -s "$WORK/outside/cmdline" "$E2/proc/cmdline"
expect_rc 1 "$HOSTDEV" doctor --root "$E2" --format json   # the hook missing: a warning
cp "$WORK/out" "$WORK/escaping.json"
jq -e '(.checks[] | select(.id == "libvirt-hook") | .verdict == "warn")
       and (.checks[] | select(.id == "acs-override") | .verdict == "ok")' "$WORK/escaping.json" >/dev/null \
  && ok || not_ok "doctor took a fact from outside the root: $(jq -c '[.checks[] | {id, verdict}]' "$WORK/escaping.json")"
if grep -q 'SENTINEL' "$WORK/escaping.json" "$WORK/err"; then not_ok "doctor read outside the root"; else ok; fi
# Its output goes where it is sent; a failed write is an error (exit 2).
"$HOSTDEV" doctor --root "$WORK/ready" >/dev/full 2>"$WORK/err"
rc=$?; [ "$rc" -eq 2 ] && ok || not_ok "doctor to a full stdout exited $rc, wanted 2"
expect_grep 'cannot write to standard output: No space left on device' "$WORK/err"

# ---- boot-config ------------------------------------------------------------

# 0: printed, nothing written.
expect_rc 0 "$HOSTDEV" boot-config --host "$Z" --domain "$D/win10-gtx970.xml"
expect_grep '^    options vfio-pci ids=10de:13c2,10de:0fbb$' "$WORK/out"
expect_grep '^    softdep nouveau pre: vfio-pci$' "$WORK/out"
expect_grep 'add: +iommu=pt vfio-pci.ids=10de:13c2,10de:0fbb' "$WORK/out"
expect_grep 'update-grub' "$WORK/out"
expect_rc 0 "$HOSTDEV" boot-config --host "$Z" 02:00.0
cp "$WORK/out" "$WORK/by-address.txt"
expect_grep 'for command line' "$WORK/by-address.txt"
expect_rc 0 "$HOSTDEV" boot-config --host "$L" --domain "$D/nvme.xml" "$D/usb-xhci.xml"
expect_grep 'ids=8086:a12f,8086:a131,144d:a802' "$WORK/out"
expect_rc 0 "$HOSTDEV" boot-config --host "$L" --domain "$D/nvme.xml" --initramfs mkinitcpio
expect_grep 'mkinitcpio -P' "$WORK/out"

# 2: blocked, in hostdev-fix's words, nothing on stdout.
expect_rc 2 "$HOSTDEV" boot-config --host "$Z" --domain "$D/blocked-hda.xml"
if [ -s "$WORK/out" ]; then not_ok "blocked boot-config printed on stdout"; else ok; fi
expect_grep 'blocked, nothing written' "$WORK/err"
expect_grep 'lpc_ich' "$WORK/err"
expect_rc 2 "$HOSTDEV" boot-config --host "$Z" 0a:00.0
expect_grep '0000:0a:00.0 is not on this host' "$WORK/err"

# 3: invalid input.
expect_rc 3 "$HOSTDEV" boot-config --host "$Z" --domain "$WORK/does-not-exist.xml"
expect_grep 'does-not-exist.xml' "$WORK/err"
echo 'not xml' >"$WORK/junk.xml"
expect_rc 3 "$HOSTDEV" boot-config --host "$Z" --domain "$WORK/junk.xml"
expect_rc 3 "$HOSTDEV" boot-config --host "$Z" 02:00.9
expect_rc 3 "$HOSTDEV" boot-config --host "$Z"
expect_grep 'name the devices' "$WORK/err"
expect_rc 3 "$HOSTDEV" boot-config --host "$Z" --write 02:00.0
expect_grep 'not into a host snapshot' "$WORK/err"
printf '<domain type="kvm"><name>x</name></domain>\n' >"$WORK/nohostdev.xml"
expect_rc 3 "$HOSTDEV" boot-config --host "$Z" --domain "$WORK/nohostdev.xml"
expect_grep 'no PCI <hostdev>' "$WORK/err"
# 64: usage.
expect_rc 64 "$HOSTDEV" boot-config --host "$Z" --initramfs booster 02:00.0
expect_rc 64 "$HOSTDEV" boot-config --host "$Z" 02:00.0 --domain "$D/nvme.xml"

# ---- boot-config --write ----------------------------------------------------

cat >"$WORK/write.spec" <<'SPEC'
host cpu=AuthenticAMD iommu=ivhd0 cmdline="root=/dev/sda2 ro quiet" release=6.8.0-1-amd64
host vfio_modules=available initramfs=initramfs-tools bootloader=grub
dev 00:03.1 1022:1483 0x060400 group=2 driver=pcieport bus=02
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau boot_vga=1
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 02:00.0 10de:13c2 0x030000 group=2 driver=nouveau
dev 02:00.1 10de:0fbb 0x040300 group=2 driver=snd_hda_intel
dev 03:00.0 1b21:1242 0x0c0330 group=3 driver=xhci_hcd
SPEC
"$FAKEROOT" "$WORK/write.spec" "$WORK/w"
E=$WORK/w/etc
mkdir -p "$E/modprobe.d"
echo 'options vfio-pci ids=dead:beef' >"$E/modprobe.d/vfio.conf"
chmod 0640 "$E/modprobe.d/vfio.conf"
cp "$E/initramfs-tools/modules" "$WORK/modules.before"
cp "$E/default/grub" "$WORK/grub.before"

expect_rc 0 "$HOSTDEV" boot-config --root "$WORK/w" --write 02:00.0 03:00.0
cp "$WORK/out" "$WORK/write.out"
expect_grep '^  replaced  /etc/modprobe.d/vfio.conf \(backup: /etc/modprobe.d/vfio.conf.hostdev-backup-[0-9]{8}T[0-9]{6}Z\)$' "$WORK/write.out"
expect_grep '^  replaced  /etc/initramfs-tools/modules \(backup: ' "$WORK/write.out"
# Contents: the shared GPU IDs bound by address only, never by ID.
expect_grep '^options vfio-pci ids=1b21:1242$' "$E/modprobe.d/vfio.conf"
expect_grep '^install vfio-pci for a in 0000:02:00.0 0000:02:00.1; do echo vfio-pci > /sys/bus/pci/devices/\$a/driver_override; done' "$E/modprobe.d/vfio.conf"
expect_grep '^softdep xhci_pci pre: vfio-pci$' "$E/modprobe.d/vfio.conf"
if grep -v '^#' "$E/modprobe.d/vfio.conf" | grep -q '10de:'; then not_ok "a shared ID was bound by ID"; else ok; fi
expect_grep '^    add: +amd_iommu=on iommu=pt vfio-pci.ids=1b21:1242$' "$WORK/write.out"
if grep -Eq '^ +(add|replace):.*vfio-pci\.ids=[^ ]*10de' "$WORK/write.out"; then not_ok "a shared ID went to vfio-pci.ids="; else ok; fi
expect_grep '^vfio_pci$' "$E/initramfs-tools/modules"
# Backups hold the old files, with their mode.
backup=$(ls "$E"/modprobe.d/vfio.conf.hostdev-backup-*)
[ "$(cat "$backup")" = 'options vfio-pci ids=dead:beef' ] && ok || not_ok "backup content"
[ "$(stat -c %a "$backup")" = 640 ] && ok || not_ok "backup mode"
[ "$(stat -c %a "$E/modprobe.d/vfio.conf")" = 640 ] && ok || not_ok "replaced file lost its mode"
expect_same "$(ls "$E"/initramfs-tools/modules.hostdev-backup-*)" "$WORK/modules.before"
# Atomic: nothing but the files and their backups.
[ "$(ls -A "$E/modprobe.d" | wc -l)" = 2 ] && ok || not_ok "temporary files left: $(ls -A "$E/modprobe.d")"
[ "$(ls -A "$E/initramfs-tools" | wc -l)" = 2 ] && ok || not_ok "temporary files left: $(ls -A "$E/initramfs-tools")"
# The bootloader configuration is never edited; the step is printed.
expect_same "$E/default/grub" "$WORK/grub.before"
expect_grep 'Still to do: the kernel command line' "$WORK/write.out"

# Again: unchanged, no new backup.
expect_rc 0 "$HOSTDEV" boot-config --root "$WORK/w" --write 02:00.0 03:00.0
expect_grep '^  unchanged /etc/modprobe.d/vfio.conf$' "$WORK/out"
expect_grep '^  unchanged /etc/initramfs-tools/modules$' "$WORK/out"
[ "$(ls -A "$E/modprobe.d" | wc -l)" = 2 ] && ok || not_ok "second --write made another backup"

# A file that cannot be edited stops --write before anything is written.
"$FAKEROOT" "$WORK/write.spec" "$WORK/w2"
rm "$WORK/w2/etc/initramfs-tools/modules"
mkdir "$WORK/w2/etc/initramfs-tools/modules"   # a directory where the file should be
expect_rc 1 "$HOSTDEV" boot-config --root "$WORK/w2" --write 03:00.0
expect_grep 'nothing written' "$WORK/err"
[ ! -e "$WORK/w2/etc/modprobe.d" ] && ok || not_ok "--write wrote despite the failure"

# Blocked: --write writes nothing.
expect_rc 2 "$HOSTDEV" boot-config --root "$WORK/w2" --write 0a:00.0
[ ! -e "$WORK/w2/etc/modprobe.d" ] && ok || not_ok "blocked --write wrote"

finish
