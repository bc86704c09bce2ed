#!/usr/bin/env bash
# VFIO variant drivers from the command line: --dry-run prints the driver
# libvirt would bind (its module loaded first), vfio_variant_drivers = no and
# <driver model='vfio-pci'/> force vfio-pci, and `groups` shows the variant.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/host.spec" <<'SPEC'
host release=6.8.0-45-generic libvirt=10.0.0
alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
dev 01:00.0 15b3:101d 0x020000 group=7 driver=mlx5_core subsys=15b3:0062
dev 01:00.1 15b3:101e 0x020000 group=8 driver=mlx5_core subsys=15b3:0062 physfn=01:00.0
SPEC
"$FAKEROOT" "$WORK/host.spec" "$WORK/root" || { echo "cannot build fake root"; exit 1; }
printf 'wait_timeout_ms = 100\n' >"$WORK/hostdev.conf"
export HOSTDEV_CONFIG=$WORK/hostdev.conf

expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run 01:00.1
cat >"$WORK/want" <<'WANT'
modprobe mlx5_vfio_pci
write /sys/devices/pci0000:01/0000:01:00.1/driver_override mlx5_vfio_pci
write /sys/bus/pci/drivers/mlx5_core/unbind 0000:01:00.1
write /sys/bus/pci/drivers_probe 0000:01:00.1
WANT
expect_same "$WORK/out" "$WORK/want"

# The domain asks for vfio-pci by name.
cat >"$WORK/vm.xml" <<'XML'
<domain type='kvm'>
  <name>vm</name>
  <uuid>6f1c4a52-8d3e-4b7a-9c21-0e5d7f3a9b14</uuid>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver model='vfio-pci'/>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>
    </hostdev>
  </devices>
</domain>
XML
expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run --domain "$WORK/vm.xml"
expect_grep '^write .*/0000:01:00.1/driver_override vfio-pci$' "$WORK/out"
if grep -q mlx5_vfio_pci "$WORK/out"; then not_ok "<driver model='vfio-pci'/> not followed"; else ok; fi

# The host says no.
printf 'wait_timeout_ms = 100\nvfio_variant_drivers = no\n' >"$WORK/hostdev.conf"
expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run 01:00.1
expect_grep '^write .*/0000:01:00.1/driver_override vfio-pci$' "$WORK/out"
printf 'vfio_variant_drivers = sometimes\n' >"$WORK/hostdev.conf"
expect_rc 64 "$HOSTDEV" detach --root "$WORK/root" --dry-run 01:00.1
expect_grep 'vfio_variant_drivers must be auto, yes or no' "$WORK/err"

# groups: the variant each device has.
expect_rc 0 "$HOSTDEV" groups --root "$WORK/root"
expect_grep 'VFIO variant driver: mlx5_vfio_pci' "$WORK/out"
expect_rc 0 "$HOSTDEV" groups --root "$WORK/root" --format json
expect_grep '"vfio_variant": "mlx5_vfio_pci"' "$WORK/out"
expect_grep '"vfio_variant": null' "$WORK/out"

finish
