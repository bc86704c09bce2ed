#!/bin/sh
# /init of the kernel suite's guest (busybox sh). Runs every scenario against
# the guest's real sysfs, then powers off; with hostdev_suite=gpu on the
# kernel command line, the single-GPU scenarios of gpu.sh instead, and with
# hostdev_suite=libvirt those of libvirt.sh (libvirt's daemon in the guest).
# Writes, on the second serial port
# (ttyS1, raw) and on the console:
#   HOSTDEV-INFO ID TEXT            details of check ID
#   HOSTDEV-RESULT ID PASS|FAIL TEXT one line per check
# and only on ttyS1, base64 between "HOSTDEV-BEGIN NAME" / "HOSTDEV-END NAME":
#   snapshot    `hostdev snapshot` of this guest (check 2 runs on the host)
#   fixed-pair  hostdev-fix's output for virtio-pair.xml on the live sysfs
#   hook-log    the hook's log file
#   syslog      the syslog of the gpu profile (the hook's detail lines)
# and "HOSTDEV-DONE" last.
#
# The devices are laid out by boot.sh's QEMU command line:
E1000E=0000:01:00.0   # e1000e behind the pcie-root-port at 00:02.0
VNET0=0000:00:06.0    # virtio-net, multifunction pair, function 0
VNET1=0000:00:06.1    # virtio-net, function 1 (same IOMMU group)
SATA=0000:00:1f.2     # ICH9 AHCI; 00:1f.0 (lpc_ich) and 00:1f.3 (i801_smbus) share its group
NVME=0000:02:00.0     # nvme behind the pcie-root-port at 00:03.0, a group of its own

export PATH=/usr/local/bin:/usr/sbin:/usr/bin
export LC_ALL=C
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs tmpfs /tmp
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1

T=/hostdev-test
HOOK=/etc/libvirt/hooks/qemu.d/50-hostdev
SYSPCI=/sys/bus/pci/devices

emit() { echo "$*" >&3; echo "$*"; }
CHECK=setup
FAILS=
info() { emit "HOSTDEV-INFO $CHECK $*"; }
info_file() {  # info_file FILE [MAX_LINES]
  head -n "${2:-40}" "$1" | while IFS= read -r line; do info "  $line"; done
}
fail() { FAILS="$FAILS${FAILS:+; }$*"; info "FAIL: $*"; }
begin_check() { CHECK=$1; FAILS=; shift; info "== $*"; }
end_check() {  # end_check SUMMARY: one result line for CHECK
  if [ -z "$FAILS" ]; then emit "HOSTDEV-RESULT $CHECK PASS $*"; else emit "HOSTDEV-RESULT $CHECK FAIL $FAILS"; fi
}
emit_block() {  # emit_block NAME FILE (ttyS1 only)
  { echo "HOSTDEV-BEGIN $1"; base64 "$2"; echo "HOSTDEV-END $1"; } >&3
}

# -------------------------------------------------------------- sysfs helpers
drv() { if [ -L "$SYSPCI/$1/driver" ]; then basename "$(readlink "$SYSPCI/$1/driver")"; else echo -; fi; }
ovr() { cat "$SYSPCI/$1/driver_override" 2>/dev/null || echo '?'; }
grp() { basename "$(readlink "$SYSPCI/$1/iommu_group")"; }
ids() { v=$(cat "$SYSPCI/$1/vendor"); d=$(cat "$SYSPCI/$1/device"); echo "${v#0x}:${d#0x}"; }
# Every device with its driver and driver_override; with "modules", the
# loaded modules too.
listing() {
  for d in "$SYSPCI"/*; do a=${d##*/}; echo "$a $(drv "$a") $(ovr "$a")"; done
  [ "${1:-}" = modules ] && cut -d' ' -f1 /proc/modules | sort
}
# The network interface(s) of a PCI device (virtio-net's sit one level down).
ifaces() {
  for n in "$SYSPCI/$1"/net/* "$SYSPCI/$1"/virtio*/net/*; do [ -e "$n" ] && echo "${n##*/}"; done
}
ifindex() {
  for n in "$SYSPCI/$1"/net/* "$SYSPCI/$1"/virtio*/net/*; do [ -e "$n/ifindex" ] && cat "$n/ifindex" && return; done
  echo -
}
wait_iface() {  # wait_iface ADDR SECONDS: true once the device has an interface
  i=0
  while [ "$i" -lt $(($2 * 10)) ]; do
    [ -n "$(ifaces "$1")" ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
journals() { ls /run/hostdev/*.json 2>/dev/null; }
expect_driver() {  # expect_driver ADDR DRIVER WHEN
  got=$(drv "$1")
  if [ "$got" = "$2" ]; then info "$1 on $got $3"; else fail "$1 is on $got $3, expected $2"; fi
}
expect_same_listing() {  # expect_same_listing BEFORE AFTER WHAT
  if cmp -s "$1" "$2"; then info "every driver and driver_override unchanged $3"
  else fail "the guest changed $3"; diff "$1" "$2" >/tmp/listing.diff; info_file /tmp/listing.diff 20; fi
}
expect_no_journal() {
  if [ -n "$(journals)" ]; then fail "journal left behind: $(journals | tr '\n' ' ')"; else info "no journal left"; fi
}

# run_hook XML NAME OP SUBOP: hostdev-hook as libvirt runs it (argv, XML on
# stdin, a cleared environment); stdout and stderr to /tmp/hook.out and
# /tmp/hook.err; sets RC.
run_hook() {
  xml=$1; shift
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    timeout -s KILL 120 "$HOOK" "$@" - <"$xml" >/tmp/hook.out 2>/tmp/hook.err
  RC=$?
  info "hook $* -> exit $RC; stderr: $(tr '\n' ' ' </tmp/hook.err)"
}

# nested_qemu ADDR TAG: a TCG QEMU that assigns ADDR through VFIO, stopped
# before running any guest code (-S); its monitor on stdio lists the PCI
# devices and quits. Exit 0 means every device was realized: the VFIO group,
# container and device were opened. Output in /tmp/qemu-TAG.{out,err}; sets RC.
nested_qemu() {
  printf 'info pci\nquit\n' |
    timeout -s KILL 180 qemu-system-x86_64 -machine pc -accel tcg,tb-size=32 -m 64 -nodefaults \
      -display none -S -monitor stdio -device "vfio-pci,host=$1,rombar=0" \
      >"/tmp/qemu-$2.out" 2>"/tmp/qemu-$2.err"
  RC=$?
  info "nested qemu with vfio-pci,host=$1 -> exit $RC; stderr: $(tr '\n' ' ' <"/tmp/qemu-$2.err")"
}
# expect_qemu_opened ADDR TAG
expect_qemu_opened() {
  nested_qemu "$1" "$2"
  if [ "$RC" -ne 0 ]; then fail "nested qemu could not open $1 (exit $RC)"
  elif ! grep -q "$(ids "$1")" "/tmp/qemu-$2.out"; then
    fail "nested qemu ran but its guest has no $(ids "$1") device"; info_file "/tmp/qemu-$2.out" 30
  else info "nested qemu's guest has the device ($(grep -m1 "$(ids "$1")" "/tmp/qemu-$2.out" | sed 's/^ *//'))"
  fi
}

# finish: the hook's log, HOSTDEV-DONE, power off.
finish() {
  CHECK=log
  [ -s /run/hostdev-hook.log ] && emit_block hook-log /run/hostdev-hook.log
  [ -s /run/messages ] && emit_block syslog /run/messages
  emit "HOSTDEV-DONE"
  exec 3>&-
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 60
}

# The gpu profile (boot.sh ... gpu): its own device set and scenarios.
case " $(cat /proc/cmdline) " in
  *" hostdev_suite=gpu "*)
    info "kernel $(uname -r), cmdline: $(cat /proc/cmdline)"
    . "$T/gpu.sh"
    finish
    ;;
esac

# -------------------------------------------------------------- boot
info "kernel $(uname -r), cmdline: $(cat /proc/cmdline)"
for m in virtio_pci virtio_net e1000e e1000 nvme xhci_pci snd_hda_codec_generic snd_hda_intel \
         lpc_ich i2c_i801 ahci vfio_iommu_type1; do
  modprobe "$m" 2>/tmp/modprobe.err || { info "modprobe $m failed: $(cat /tmp/modprobe.err)"; }
done
# Let the drivers finish probing: wait for the network interfaces.
for a in "$E1000E" "$VNET0" "$VNET1"; do wait_iface "$a" 20 || info "$a has no network interface"; done
mkdir -p /run/hostdev
for d in "$SYSPCI"/*; do
  a=${d##*/}
  info "$a [$(ids "$a")] class $(cat "$d/class") group $(grp "$a") driver $(drv "$a") $(ifaces "$a" | tr '\n' ' ')"
done
info "iommu units: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')groups: $(ls /sys/kernel/iommu_groups | wc -l)"

# The libvirt profile (boot.sh ... libvirt): this device set, libvirt's daemon.
case " $(cat /proc/cmdline) " in
  *" hostdev_suite=libvirt "*) . "$T/libvirt.sh"; finish ;;
esac

# -------------------------------------------------------------- 1
begin_check 1 "hostdev groups --format json against the kernel's own view"
if hostdev groups --format json >/tmp/groups.json 2>/tmp/groups.err; then
  jq -r '.groups[] | .group as $g | .devices[] | "\($g) \(.address) \(.vendor):\(.device) \(.class) \(.driver // "-")"' \
    /tmp/groups.json | sort >/tmp/c1.hostdev
  # The kernel's view: a plain walk of /sys/kernel/iommu_groups.
  for g in /sys/kernel/iommu_groups/*; do
    for d in "$g"/devices/*; do
      if [ -L "$d/driver" ]; then r=$(basename "$(readlink "$d/driver")"); else r=-; fi
      v=$(cat "$d/vendor"); p=$(cat "$d/device")
      echo "${g##*/} ${d##*/} ${v#0x}:${p#0x} $(cat "$d/class") $r"
    done
  done | sort >/tmp/c1.kernel
  n_kernel=$(wc -l </tmp/c1.kernel)
  n_devices=$(ls "$SYSPCI" | wc -l)
  n_groups=$(ls /sys/kernel/iommu_groups | wc -l)
  if cmp -s /tmp/c1.hostdev /tmp/c1.kernel; then info "$n_kernel devices identical (group address ids class driver)"
  else fail "hostdev groups differs from /sys/kernel/iommu_groups"; diff /tmp/c1.kernel /tmp/c1.hostdev >/tmp/c1.diff; info_file /tmp/c1.diff; fi
  [ "$n_kernel" -eq "$n_devices" ] || fail "the kernel grouped $n_kernel of $n_devices devices"
  [ "$n_groups" -ge 8 ] || fail "only $n_groups IOMMU groups: is the IOMMU on?"
  [ "$(jq '.groups | length' /tmp/groups.json)" = "$n_groups" ] || fail "hostdev lists $(jq '.groups | length' /tmp/groups.json) groups, the kernel $n_groups"
  [ "$(jq '.ungrouped | length' /tmp/groups.json)" = 0 ] || fail "hostdev lists ungrouped devices"
  [ "$(jq '.iommu.present' /tmp/groups.json)" = true ] || fail "hostdev says no IOMMU"
  for want in "$E1000E e1000e" "$VNET0 virtio-pci" "0000:00:1f.0 lpc_ich" "0000:00:1f.3 i801_smbus"; do
    grep -q " ${want% *} .* ${want#* }\$" /tmp/c1.kernel || fail "the guest lacks ${want#* } on ${want% *}"
  done
else
  fail "hostdev groups exited $?"; info_file /tmp/groups.err
fi
end_check "hostdev groups equals /sys/kernel/iommu_groups: ${n_groups:-?} groups, ${n_kernel:-?} devices, every driver"

# The snapshot for check 2 (run on the host).
CHECK=2
if hostdev snapshot -o /tmp/snapshot.json 2>/tmp/snapshot.err; then
  info "snapshot taken ($(wc -c </tmp/snapshot.json) bytes)"
  emit_block snapshot /tmp/snapshot.json
else
  info "hostdev snapshot failed: $(cat /tmp/snapshot.err)"
fi

# -------------------------------------------------------------- 5
begin_check 5 "a domain with the ICH9 SATA function (00:1f.x group): refused, nothing changed"
LPC=0000:00:1f.0 SMBUS=0000:00:1f.3
info "$SATA ($(drv "$SATA")) shares group $(grp "$SATA") with $LPC ($(drv "$LPC")) and $SMBUS ($(drv "$SMBUS"))"
[ "$(grp "$SATA")" = "$(grp "$LPC")" ] && [ "$(grp "$SATA")" = "$(grp "$SMBUS")" ] \
  || fail "the ICH9 functions are not in one IOMMU group"
listing modules >/tmp/c5.before
run_hook "$T/ich9-sata.xml" kernel-ich9-sata prepare begin
listing modules >/tmp/c5.after
[ "$RC" -ne 0 ] || fail "the hook accepted the domain (exit 0)"
[ "$RC" -ne 137 ] || fail "the hook was killed after 120 s"
if [ -s /tmp/hook.err ]; then
  grep -q lpc_ich /tmp/hook.err || fail "the reason does not name lpc_ich"
  grep -q i801_smbus /tmp/hook.err || fail "the reason does not name i801_smbus"
else
  fail "no reason on stderr"
fi
expect_same_listing /tmp/c5.before /tmp/c5.after "by the refused start"
expect_driver "$SATA" ahci "after the refused start"
expect_no_journal
end_check "refused (exit $RC): $(tr '\n' ' ' </tmp/hook.err)"

# -------------------------------------------------------------- 6, part 1
begin_check 6 "failures mid-transaction roll back"
FAILS6=
info "part 1: vfio-pci cannot be loaded (its module file renamed before first use)"
ko=$(find "/lib/modules/$(uname -r)" -name vfio-pci.ko | head -n 1)
if [ -d /sys/bus/pci/drivers/vfio-pci ]; then
  fail "vfio-pci is already loaded: cannot make it unloadable"
elif [ -z "$ko" ]; then
  fail "no vfio-pci.ko in the guest"
else
  mv "$ko" "$ko.unavailable"
  listing >/tmp/c6a.before
  cut -d' ' -f1 /proc/modules | sort >/tmp/c6a.modules.before
  run_hook "$T/e1000e.xml" kernel-e1000e prepare begin
  listing >/tmp/c6a.after
  mv "$ko.unavailable" "$ko"
  # modprobe loads vfio-pci's dependencies before failing on vfio-pci itself.
  info "modules loaded by the failed modprobe: $(cut -d' ' -f1 /proc/modules | grep -vxF -f /tmp/c6a.modules.before | tr '\n' ' ')"
  [ -d /sys/bus/pci/drivers/vfio-pci ] && fail "vfio-pci got loaded after all"
  [ "$RC" -ne 0 ] || fail "the hook succeeded without vfio-pci"
  grep -q vfio-pci /tmp/hook.err || fail "the reason does not name vfio-pci"
  expect_same_listing /tmp/c6a.before /tmp/c6a.after "by the failed start"
  expect_driver "$E1000E" e1000e "after the failed start"
  [ -n "$(ifaces "$E1000E")" ] || fail "$E1000E lost its network interface"
  expect_no_journal
fi
FAILS6=$FAILS
REASON6A=$(tr '\n' ' ' </tmp/hook.err)

# -------------------------------------------------------------- 3
begin_check 3 "the hook moves the e1000e to vfio-pci and back; a nested QEMU opens it"
if1=$(ifaces "$E1000E" | tr '\n' ' ')
info "before: $E1000E on $(drv "$E1000E"), interface $if1"
run_hook "$T/e1000e.xml" kernel-e1000e prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC: $(cat /tmp/hook.err)"
expect_driver "$E1000E" vfio-pci "after prepare"
G=$(grp "$E1000E")
if [ -c "/dev/vfio/$G" ]; then info "/dev/vfio/$G exists"; else fail "/dev/vfio/$G does not exist"; fi
expect_qemu_opened "$E1000E" e1000e
run_hook "$T/e1000e.xml" kernel-e1000e release end
[ "$RC" -eq 0 ] || fail "release end exited $RC: $(cat /tmp/hook.err)"
expect_driver "$E1000E" e1000e "after release"
[ "$(ovr "$E1000E")" = "(null)" ] || fail "driver_override of $E1000E is '$(ovr "$E1000E")' after release"
if wait_iface "$E1000E" 20; then info "interface back: $(ifaces "$E1000E" | tr '\n' ' ')"
else fail "$E1000E has no network interface 20 s after release"; fi
expect_no_journal
end_check "e1000e -> vfio-pci (/dev/vfio/$G, opened by nested QEMU) -> e1000e, interface $(ifaces "$E1000E" | tr '\n' ' ')"

# -------------------------------------------------------------- 4
begin_check 4 "the fixed multifunction domain through the hook; control: function 0 alone"
if hostdev-fix -o /tmp/pair-fixed.xml "$T/virtio-pair.xml" 2>/tmp/fix.err; then
  info "hostdev-fix on the live sysfs: $(tr '\n' ' ' </tmp/fix.err)"
  emit_block fixed-pair /tmp/pair-fixed.xml
  grep -q "slot='0x06' function='0x1'" /tmp/pair-fixed.xml || fail "hostdev-fix did not add $VNET1"
else
  fail "hostdev-fix exited $? on virtio-pair.xml: $(cat /tmp/fix.err)"
  cp "$T/virtio-pair.xml" /tmp/pair-fixed.xml
fi
G=$(grp "$VNET0")
[ "$G" = "$(grp "$VNET1")" ] || fail "$VNET0 and $VNET1 are not in one IOMMU group"
run_hook /tmp/pair-fixed.xml kernel-virtio-pair prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC"
expect_driver "$VNET0" vfio-pci "after prepare"
expect_driver "$VNET1" vfio-pci "after prepare"
if [ -c "/dev/vfio/$G" ]; then info "/dev/vfio/$G exists"; else fail "/dev/vfio/$G does not exist"; fi
expect_qemu_opened "$VNET0" pair
run_hook /tmp/pair-fixed.xml kernel-virtio-pair release end
[ "$RC" -eq 0 ] || fail "release end exited $RC"
expect_driver "$VNET0" virtio-pci "after release"
expect_driver "$VNET1" virtio-pci "after release"
for a in "$VNET0" "$VNET1"; do wait_iface "$a" 20 || fail "$a has no network interface after release"; done
expect_no_journal
# Control: function 0 alone, by plain sysfs writes, as a tool unaware of
# groups would do it. The group is then not viable.
info "control: $VNET0 alone to vfio-pci by driver_override + unbind + drivers_probe"
echo vfio-pci >"$SYSPCI/$VNET0/driver_override"
echo "$VNET0" >"$SYSPCI/$VNET0/driver/unbind"
echo "$VNET0" >/sys/bus/pci/drivers_probe
expect_driver "$VNET0" vfio-pci "(control)"
expect_driver "$VNET1" virtio-pci "(control)"
nested_qemu "$VNET0" control
if [ "$RC" -eq 0 ]; then fail "nested qemu opened $VNET0 with $VNET1 still on virtio-pci"
elif grep -q "not viable" /tmp/qemu-control.err; then info "nested qemu refused: group not viable"
else fail "nested qemu failed, but not with 'not viable'"; fi
echo >"$SYSPCI/$VNET0/driver_override"
echo "$VNET0" >/sys/bus/pci/drivers/vfio-pci/unbind
echo "$VNET0" >/sys/bus/pci/drivers_probe
expect_driver "$VNET0" virtio-pci "after the control"
wait_iface "$VNET0" 20 || fail "$VNET0 has no network interface after the control"
end_check "fixed domain: both functions on vfio-pci, nested QEMU opened $VNET0; alone: $(grep -o 'group [0-9]* is not viable' /tmp/qemu-control.err | head -n 1)"

# -------------------------------------------------------------- 6, part 2
CHECK=6
FAILS=$FAILS6
info "part 2: a write fails after the first device of the group is on vfio-pci"
# The second function's driver_override is made read-only (a read-only bind
# mount of a copy, same contents): the transaction moves $VNET0 through all
# four steps, then fails at step 1 of $VNET1 and must undo $VNET0.
P=$(realpath "$SYSPCI/$VNET1/driver_override")  # mount needs the real path
cat "$P" >/tmp/override-copy
idx_before=$(ifindex "$VNET0")
listing modules >/tmp/c6b.before
if mount --bind /tmp/override-copy "$P" && mount -o remount,bind,ro "$P"; then
  if (echo vfio-pci >"$P") 2>/dev/null; then fail "the read-only bind mount on $P takes writes"; fi
  run_hook /tmp/pair-fixed.xml kernel-virtio-pair prepare begin
  umount "$P" || fail "cannot unmount $P"
  [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ] || fail "prepare begin exited $RC"
  grep -q "$VNET1" /tmp/hook.err || fail "the reason does not name $VNET1"
  grep -q "rolled back" /tmp/hook.err || fail "the reason does not say the start was rolled back"
  for a in "$VNET0" "$VNET1"; do wait_iface "$a" 20 || fail "$a has no network interface after the rollback"; done
  listing modules >/tmp/c6b.after
  expect_same_listing /tmp/c6b.before /tmp/c6b.after "by the rolled-back start"
  idx_after=$(ifindex "$VNET0")
  # A rebound network device gets a new interface index.
  if [ "$idx_before" != "$idx_after" ]; then info "$VNET0 left virtio-pci and came back (ifindex $idx_before -> $idx_after)"
  else fail "$VNET0 kept ifindex $idx_before: it never left virtio-pci, nothing was rolled back"; fi
  expect_no_journal
else
  fail "cannot bind-mount a read-only copy over $P"
  umount "$P" 2>/dev/null
fi
end_check "vfio-pci unloadable: refused, nothing changed ($REASON6A); failure at $VNET1 step 1: $VNET0 rolled back to virtio-pci"

# -------------------------------------------------------------- 7
begin_check 7 "an <interface type='hostdev'> alone: the hook moves its whole group; a nested QEMU opens it"
G=$(grp "$VNET1")
[ "$G" = "$(grp "$VNET0")" ] || fail "$VNET0 and $VNET1 are not in one IOMMU group"
if hostdev-fix --check "$T/virtio-interface.xml" >/dev/null 2>/tmp/fix7.err; then
  fail "hostdev-fix --check finds nothing to add for the interface's group"
else
  info "hostdev-fix --check: $(tr '\n' ' ' </tmp/fix7.err)"
  grep -q "add <hostdev> for $VNET0" /tmp/fix7.err || fail "hostdev-fix does not add $VNET0"
fi
run_hook "$T/virtio-interface.xml" kernel-virtio-interface prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC: $(cat /tmp/hook.err)"
expect_driver "$VNET1" vfio-pci "after prepare"
expect_driver "$VNET0" vfio-pci "after prepare (the other endpoint of the group)"
if [ -c "/dev/vfio/$G" ]; then info "/dev/vfio/$G exists"; else fail "/dev/vfio/$G does not exist"; fi
expect_qemu_opened "$VNET1" interface
run_hook "$T/virtio-interface.xml" kernel-virtio-interface release end
[ "$RC" -eq 0 ] || fail "release end exited $RC: $(cat /tmp/hook.err)"
expect_driver "$VNET0" virtio-pci "after release"
expect_driver "$VNET1" virtio-pci "after release"
for a in "$VNET0" "$VNET1"; do wait_iface "$a" 20 || fail "$a has no network interface after release"; done
expect_no_journal
end_check "interface $VNET1 with $VNET0 -> vfio-pci (group $G, opened by nested QEMU) -> virtio-pci"

# -------------------------------------------------------------- 8
begin_check 8 "a drifted pin: the e1000e's pin at the nvme's address is refused at prepare, nothing changed"
# hostdev-fix pins the e1000e on the live sysfs; then the domain's source and
# its pin are moved to $NVME, as after a renumbering that put the nvme where
# the e1000e was: the pin names the e1000e, the address holds the nvme.
if hostdev-fix -o /tmp/e1000e-pinned.xml "$T/e1000e.xml" 2>/tmp/fix8.err; then
  info "hostdev-fix on the live sysfs: $(tr '\n' ' ' </tmp/fix8.err)"
else
  fail "hostdev-fix exited $? on e1000e.xml: $(cat /tmp/fix8.err)"
fi
pin=$(grep "<hostdev:device address=\"$E1000E\"" /tmp/e1000e-pinned.xml 2>/dev/null)
info "pin: $(echo $pin)"
v=$(cat "$SYSPCI/$E1000E/vendor") d=$(cat "$SYSPCI/$E1000E/device")
echo "$pin" | grep -q "vendor=\"$v\" device=\"$d\"" || fail "no pin of $E1000E as $v:$d"
sed -e "s|bus='0x01' slot='0x00' function='0x0'|bus='0x02' slot='0x00' function='0x0'|" \
    -e "s|<hostdev:device address=\"$E1000E\"|<hostdev:device address=\"$NVME\"|" /tmp/e1000e-pinned.xml >/tmp/drifted.xml
grep -q "<hostdev:device address=\"$NVME\" vendor=\"$v\" device=\"$d\"" /tmp/drifted.xml \
  && grep -q "bus='0x02' slot='0x00' function='0x0'" /tmp/drifted.xml || fail "the drifted domain was not made"
# Control: without its pin the same domain takes $NVME (its own group) as it is.
sed '/<metadata>/,/<\/metadata>/d' /tmp/drifted.xml >/tmp/unpinned.xml
if hostdev-fix --check --pin never /tmp/unpinned.xml >/dev/null 2>/tmp/fix8.err; then
  info "control: without the pin, hostdev-fix --check accepts $NVME"
else
  fail "control: hostdev-fix --check refuses $NVME without the pin: $(cat /tmp/fix8.err)"
fi
info "$NVME is $(ids "$NVME") on $(drv "$NVME") in group $(grp "$NVME"); the pin names $(ids "$E1000E")"
listing modules >/tmp/c8.before
run_hook /tmp/drifted.xml kernel-e1000e prepare begin
listing modules >/tmp/c8.after
[ "$RC" -eq 1 ] || fail "the hook exited $RC, expected 1"
lines=$(wc -l </tmp/hook.err)
[ "$lines" -eq 1 ] || fail "$lines lines on stderr, expected one"
grep -q "^hostdev: kernel-e1000e: refused, nothing changed: $NVME is not the device the domain was made for: .*expects $(ids "$E1000E")" \
  /tmp/hook.err || fail "the reason does not say $NVME is not the pinned $(ids "$E1000E")"
grep -Eq "the pinned device( \(same serial\))? is now at $E1000E" /tmp/hook.err || fail "the reason does not say where the pinned device is"
expect_same_listing /tmp/c8.before /tmp/c8.after "by the refused start"
expect_driver "$NVME" nvme "after the refused start"
expect_driver "$E1000E" e1000e "after the refused start"
expect_no_journal
end_check "refused (exit $RC): $(tr '\n' ' ' </tmp/hook.err)"

# -------------------------------------------------------------- end
finish
