#!/usr/bin/env bash
# virt-hostdev attach and detach over libvirt's test driver (in-process, no
# daemon), on node.xml plus running domains. The test driver implements
# neither node-device detach nor device attach and detach, so this checks
# what it can: the calls --dry-run prints (exact lines, function 0 last, the
# persistent definition's multifunction slot), every refusal and its exit
# code, bad arguments and flags, and that a first call libvirt refuses
# changes nothing (exit 1). The unwinding after a failure in the middle is
# tests/unit/test_hotplug.cpp's (a fake libvirt), and a real daemon's.
. "$(dirname "$0")/../cli/lib.sh"

VIRT=$BUILD/virsh-plugin/virt-hostdev
NODE=$(cd "$SRC/tests/virsh" && pwd)/node.xml
export HOSTDEV_PCI_IDS=$SRC/tests/data/pci.ids

expect_eq() {  # expect_eq WANT GOT WHAT
  if [ "$1" = "$2" ]; then ok; else not_ok "$3: got '$2', wanted '$1'"; fi
}
expect_empty() {  # expect_empty FILE WHAT
  if [ -s "$1" ]; then not_ok "$2: $(head -1 "$1")"; else ok; fi
}
src() {  # src BUS FUNCTION: a source address as virt-hostdev writes it
  echo "<address domain='0x0000' bus='0x$1' slot='0x00' function='0x$2'/>"
}
plain() {  # plain BUS FUNCTION: the <hostdev> attach writes for the running guest
  echo "<hostdev mode='subsystem' type='pci' managed='no'><source>$(src "$1" "$2")</source></hostdev>"
}
hostdev() {  # hostdev BUS FUNCTION GUEST_BUS GUEST_FUNCTION [MULTI]: as libvirt shows one live
  cat <<XML
      <hostdev mode='subsystem' type='pci' managed='no'>
        <source>
          $(src "$1" "$2")
        </source>
        <address type='pci' domain='0x0000' bus='0x$3' slot='0x00' function='0x$4'${5:-}/>
      </hostdev>
XML
}
domain() {  # domain NAME UUID_SUFFIX DEVICES: a running q35-like guest with two root ports, the first used
  cat <<XML
  <domain type='test'>
    <name>$1</name>
    <uuid>0c1f4a6e-0a4b-4f3c-9a51-0000000001$2</uuid>
    <memory unit='KiB'>1048576</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <controller type='pci' index='0' model='pcie-root'/>
      <controller type='pci' index='1' model='pcie-root-port'/>
      <controller type='pci' index='2' model='pcie-root-port'/>
      <memballoon model='virtio'>
        <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
      </memballoon>
$3
    </devices>
  </domain>
XML
}

node_with() {  # node_with FILE DOMAIN...: node.xml and these domains (a running guest holds a device alone)
  local file=$1; shift
  sed '/^<\/node>$/d' "$NODE" >"$file"
  for d in "$@"; do
    case $d in
      guest) domain guest 01 "" ;;
      holder) domain holder 02 "$(hostdev 02 1 02 0)" ;;
      withgpu) domain withgpu 03 "$(hostdev 01 0 02 0)
$(hostdev 01 1 03 0)" ;;
      busy) domain busy 04 "$(hostdev 01 0 02 0 " multifunction='on'")
$(hostdev 01 1 02 1)" ;;
    esac
  done >>"$file"
  echo '</node>' >>"$file"
}
node_with "$WORK/node.xml" guest holder
node_with "$WORK/node-gpu.xml" guest withgpu
node_with "$WORK/node-busy.xml" busy
URI="test://$WORK/node.xml"
GPU_URI="test://$WORK/node-gpu.xml"

# --- attach --dry-run: the calls, exactly ---------------------------------------
expect_rc 0 "$VIRT" -c "$URI" attach guest 0000:01:00.0 --dry-run
cat >"$WORK/want" <<EOF
virNodeDeviceDetachFlags pci_0000_01_00_0 vfio
virNodeDeviceDetachFlags pci_0000_01_00_1 vfio
virDomainAttachDeviceFlags guest $(plain 01 1) live
virDomainAttachDeviceFlags guest $(plain 01 0) live
EOF
expect_same "$WORK/want" "$WORK/out"
expect_grep "IOMMU group 1: 0000:01:00.0 \(asked for\) and 0000:01:00.1 \(endpoint of the group\) go to 'guest'; 0000:00:01.0 stays on the host" "$WORK/err"
expect_grep 'libvirt hot-plugs only function 0 of a guest slot' "$WORK/err"
# Every spelling of the address, and --live said explicitly, plan the same calls.
for a in 01:00.1 pci_0000_01_00_1 "0000:01:00.0 01:00.1"; do
  # shellcheck disable=SC2086
  expect_rc 0 "$VIRT" -c "$URI" attach guest $a --dry-run --live
  expect_same "$WORK/want" "$WORK/out"
done
# -c after the subcommand, as with the others.
expect_rc 0 "$VIRT" attach -c "$URI" guest 01:00.0 --dry-run
expect_same "$WORK/want" "$WORK/out"

# --live --config: the persistent definition shares free root port 2's slot.
expect_rc 0 "$VIRT" -c "$URI" attach guest 01:00.0 --live --config --dry-run
guest() {  # guest FUNCTION [MULTI]
  echo "<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x$1'${2:-}/>"
}
cp "$WORK/want" "$WORK/want-both"
cat >>"$WORK/want-both" <<EOF
virDomainAttachDeviceFlags guest <hostdev mode='subsystem' type='pci' managed='no'><source>$(src 01 1)</source>$(guest 1)</hostdev> config
virDomainAttachDeviceFlags guest <hostdev mode='subsystem' type='pci' managed='no'><source>$(src 01 0)</source>$(guest 0 " multifunction='on'")</hostdev> config
EOF
expect_same "$WORK/want-both" "$WORK/out"
expect_grep "share guest slot 0000:02:00 in the persistent definition of 'guest'" "$WORK/err"

# A shut-off domain: --current is its persistent definition; what it has is not attached twice.
expect_rc 0 "$VIRT" -c "$URI" attach gpu 01:00.0 --dry-run
cat >"$WORK/want-gpu" <<EOF
virNodeDeviceDetachFlags pci_0000_01_00_1 vfio
virDomainAttachDeviceFlags gpu $(plain 01 1) config
EOF
expect_same "$WORK/want-gpu" "$WORK/out"
expect_grep "0000:01:00.0 is attached to 'gpu' already \(config\): not attached twice" "$WORK/err"
expect_grep "IOMMU group 1 is also assigned by domain 'gpu-complete'" "$WORK/err"
# Everything attached already: nothing to do.
expect_rc 0 "$VIRT" -c "$GPU_URI" attach withgpu 01:00.1 --dry-run
expect_empty "$WORK/out" "nothing to do printed calls"
expect_grep 'nothing to do' "$WORK/err"

# --- refusals: exit 2, no call ----------------------------------------------------
for case in "00:14.0|USB controller with the host keyboard" "00:1c.0|PCI bridge" \
  "3d:00.0|0000:3d:00.0 is not on this host" \
  "02:00.0|0000:02:00.1 \(.*\) \(IOMMU group 11\) is held by running domain 'holder'"; do
  a=${case%%|*} why=${case#*|}
  expect_rc 2 "$VIRT" -c "$URI" attach guest "$a" --dry-run
  expect_empty "$WORK/out" "refused attach of $a printed calls"
  expect_grep "$why" "$WORK/err"
  expect_grep "guest: blocked, no call made" "$WORK/err"
done

# --- bad arguments, flags and domains: exit 3 ---------------------------------------
expect_rc 3 "$VIRT" -c "$URI" attach guest 01:00 --dry-run
expect_grep "invalid PCI address '01:00'.*pci_0000_01_00_0" "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" attach guest 01:00.0 pci_0000_01_00 --dry-run
expect_grep "invalid node-device name 'pci_0000_01_00'" "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" attach guest 01:00.0 --current --live --dry-run
expect_grep '[-][-]current excludes [-][-]live and [-][-]config' "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" detach guest 01:00.0 --current --config --dry-run
expect_rc 3 "$VIRT" -c "$URI" attach plain 01:00.0 --live --dry-run
expect_grep "domain 'plain' is not running" "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" attach no-such-domain 01:00.0 --dry-run
expect_grep "no domain named 'no-such-domain'" "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" attach guest
expect_rc 3 "$VIRT" -c "test://$WORK/no-such-node.xml" attach guest 01:00.0
expect_grep "cannot connect to test://$WORK/no-such-node.xml" "$WORK/err"

# --- a first call libvirt refuses changes nothing: exit 1 ----------------------------
# (the test driver has no node-device detach)
expect_rc 1 "$VIRT" -c "$URI" attach guest 01:00.0
expect_empty "$WORK/out" "a refused first call printed as made"
expect_grep '0000:01:00.0: virNodeDeviceDetachFlags: .*not supported' "$WORK/err"
expect_grep 'guest: nothing had been changed: the domain and the host are as before' "$WORK/err"

# --- detach ----------------------------------------------------------------------------
expect_rc 0 "$VIRT" -c "$GPU_URI" detach withgpu 01:00.1 --dry-run
cat >"$WORK/want-detach" <<EOF
virDomainDetachDeviceFlags withgpu $(plain 01 0) live
virDomainDetachDeviceFlags withgpu $(plain 01 1) live
virNodeDeviceReAttach pci_0000_01_00_0
virNodeDeviceReAttach pci_0000_01_00_1
EOF
expect_same "$WORK/want-detach" "$WORK/out"
# --config on a running guest: out of its persistent definition, but the guest keeps them, and so does vfio-pci.
expect_rc 0 "$VIRT" -c "$GPU_URI" detach withgpu 01:00.1 --config --dry-run
cat >"$WORK/want-config" <<EOF
virDomainDetachDeviceFlags withgpu $(plain 01 0) config
virDomainDetachDeviceFlags withgpu $(plain 01 1) config
EOF
expect_same "$WORK/want-config" "$WORK/out"
expect_grep "0000:01:00.1 stays with running 'withgpu'" "$WORK/err"
expect_rc 0 "$VIRT" -c "$URI" detach guest 01:00.0 --dry-run
expect_empty "$WORK/out" "detach of nothing printed calls"
expect_grep 'nothing to do' "$WORK/err"
# libvirt cannot unplug a function of a multifunction guest slot.
expect_rc 2 "$VIRT" -c "test://$WORK/node-busy.xml" detach busy 01:00.0 --dry-run
expect_empty "$WORK/out" "refused detach printed calls"
expect_grep "a function of multifunction guest slot 0000:02:00.*shut 'busy' down and detach with --config" "$WORK/err"
expect_rc 3 "$VIRT" -c "$GPU_URI" detach withgpu 1:0:0:0 --dry-run
# The test driver has no device detach: the first call fails, nothing changed.
expect_rc 1 "$VIRT" -c "$GPU_URI" detach withgpu 01:00.0
expect_grep '0000:01:00.0: virDomainDetachDeviceFlags: .*not supported' "$WORK/err"
expect_grep 'withgpu: nothing had been changed' "$WORK/err"

# --- --help says what happens and the exit codes ----------------------------------------
for cmd in attach detach; do
  expect_rc 0 "$VIRT" "$cmd" --help
  expect_grep 'Exit codes: 0 done' "$WORK/out"
  expect_grep '[-][-]dry-run' "$WORK/out"
  expect_grep 'On a failure the calls made are undone in reverse' "$WORK/out"
done

finish
