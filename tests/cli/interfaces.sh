#!/usr/bin/env bash
# <interface type='hostdev'> (SR-IOV VFs, any PCI NIC) through every front:
# hostdev-fix (exit codes, the report's "element", injected siblings with the
# interface's managed, idempotence), detach --domain and boot-config.
. "$(dirname "$0")/lib.sh"

S=$SRC/examples/hosts/sriov-server.json
D=$SRC/examples/domains

# The example: two VFs, each alone in its group: nothing to change.
expect_rc 0 "$HOSTDEV_FIX" --host "$S" --pin never "$D/sriov-vf.xml"
expect_same "$WORK/out" "$D/sriov-vf.xml"
expect_grep 'ok, nothing to change' "$WORK/err"
# Hostdev interfaces are pinned as hostdevs are.
expect_rc 0 "$HOSTDEV_FIX" --host "$S" "$D/sriov-vf.xml"
expect_grep '<hostdev:device address="0000:01:10.1" vendor="0x8086" device="0x10ed"' "$WORK/out"
expect_grep "covered: 0000:01:10.0 .* - requested by <interface type='hostdev'> \(line 17\)" "$WORK/err"
expect_rc 0 "$HOSTDEV_FIX" --host "$S" --format json -q "$D/sriov-vf.xml"
[ "$(jq -r '[.files[0].groups[].members[] | .element] | join(",")' "$WORK/out")" = interface,interface ] &&
  ok || not_ok "report elements: $(jq -c '[.files[0].groups[].members[] | .element]' "$WORK/out")"
# A VF sharing its group with the host's default route: refused.
expect_rc 2 "$HOSTDEV_FIX" --host "$S" "$D/sriov-vf-shared.xml"
expect_grep 'default route' "$WORK/err"
expect_grep 'blocked, nothing written' "$WORK/err"

# A NIC passed as an interface behind a port without ACS, on a fake root: the
# other card's two ports are injected as <hostdev> with the interface's
# managed='no', after the <hostdev>.
cat >"$WORK/host.spec" <<'SPEC'
dev 00:1c.0 8086:a190 0x060400 group=20 driver=pcieport bus=02
dev 02:00.0 8086:1521 0x020000 group=20 driver=igb
dev 02:00.1 8086:1521 0x020000 group=20 driver=igb
dev 02:01.0 8086:10d3 0x020000 group=20 driver=e1000e
dev 00:14.0 8086:a12f 0x0c0330 group=2 driver=xhci_hcd
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e role=default-route net=eno1
SPEC
"$FAKEROOT" "$WORK/host.spec" "$WORK/root" >/dev/null || { echo "cannot build fake root"; exit 1; }
cat >"$WORK/vf.xml" <<'XML'
<domain type='kvm'>
  <name>vf</name>
  <uuid>7b3e5d2f-9c4e-4f8b-a016-2d3e4f5a6b7c</uuid>
  <memory unit='GiB'>1</memory>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices>
    <interface type='hostdev' managed='no'>
      <mac address='52:54:00:6d:91:01'/>
      <source>
        <address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/>
      </source>
    </interface>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x00' slot='0x14' function='0x0'/>
      </source>
    </hostdev>
  </devices>
</domain>
XML
expect_rc 1 "$HOSTDEV_FIX" --check --root "$WORK/root" "$WORK/vf.xml"
expect_rc 0 "$HOSTDEV_FIX" --root "$WORK/root" -o "$WORK/fixed.xml" "$WORK/vf.xml"
expect_grep "change: add <hostdev> for 0000:02:00.0 .*managed='no'" "$WORK/err"
expect_grep "change: add <hostdev> for 0000:02:00.1 .*managed='no'" "$WORK/err"
[ "$(grep -c "<hostdev mode='subsystem' type='pci' managed='no'>" "$WORK/fixed.xml")" = 2 ] && ok ||
  not_ok "two injected hostdevs with managed='no' expected"
# Inserted after the last <hostdev>, the input's lines all kept in order.
[ "$(grep -n "managed='no'>" "$WORK/fixed.xml" | sed -n 2p | cut -d: -f1)" -gt "$(grep -n '</hostdev>' "$WORK/vf.xml" | cut -d: -f1)" ] &&
  ok || not_ok "the siblings are not after the last <hostdev>"
diff "$WORK/vf.xml" "$WORK/fixed.xml" | grep -q '^<' && not_ok "an input line was changed" || ok
expect_rc 0 "$HOSTDEV_FIX" --check --root "$WORK/root" "$WORK/fixed.xml"
expect_grep 'ok, nothing to change' "$WORK/err"

# detach --domain plans the interface's group and the hostdev, in one run.
printf 'wait_timeout_ms = 100\nlock_timeout_ms = 2000\n' >"$WORK/hostdev.conf"
export HOSTDEV_CONFIG=$WORK/hostdev.conf
expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run --domain "$WORK/vf.xml"
for a in 0000:02:00.0 0000:02:00.1 0000:02:01.0 0000:00:14.0; do
  expect_grep "^write /sys/bus/pci/drivers_probe $a\$" "$WORK/out"
done
if grep -Eq '(0000:00:1f.6|0000:00:1c.0)( |/driver_override)' "$WORK/out"; then not_ok "detach --domain plans a device outside the groups"; else ok; fi
[ ! -e "$WORK/root/run/hostdev" ] && ok || not_ok "--dry-run created the journal directory"

# boot-config binds the interface's device (whole group) like a hostdev's.
expect_rc 0 "$HOSTDEV" boot-config --host "$S" --domain "$D/sriov-vf.xml"
expect_grep '0000:01:10.0 .*\[8086:10ed\]' "$WORK/out"
expect_grep '0000:01:10.1 .*\[8086:10ed\]' "$WORK/out"
expect_rc 2 "$HOSTDEV" boot-config --host "$S" --domain "$D/sriov-vf-shared.xml"
expect_grep 'default route' "$WORK/err"

finish
