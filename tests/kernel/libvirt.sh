# shellcheck shell=sh
# The libvirt profile of the kernel suite, sourced by /init (init.sh) when
# boot.sh booted it: the devices profile's device set, and libvirt's own
# daemon (Debian's monolithic libvirtd with its QEMU driver) running in the
# guest with the built hook installed as /etc/libvirt/hooks/qemu.d/50-hostdev
# and hostdev.conf at the guest's defaults (root = /, the live sysfs). The
# domains are TCG guests with no OS (tests/kernel/domains/lv-*.xml), but
# for lv-hotplug, which boots the guest responder (responder/). Checks:
#   L1  virsh start of a domain with <hostdev managed='yes'> for 00:06.0,
#       whose group holds 00:06.1: libvirt runs the hook, both functions on
#       vfio-pci, QEMU has the device; virsh destroy: both back, no journal
#   L2  the same with managed='no' (the hook detaches, libvirt does not), and
#       with <interface type='hostdev'> for 00:06.1
#   L3  a blocked group (the ICH9 SATA function): virsh start fails with the
#       hook's reason in virsh's error, nothing moved
#   L4  libvirtd restarted while the domain runs: reconnect begin, the guest
#       keeps running, the journal stays; a later destroy returns everything
#   L5  libvirtd killed (-9), then QEMU killed behind its back: libvirtd
#       started again calls stopped and release, and the hook returns the
#       devices; with libvirtd still down, hostdev recover (the command of
#       hostdev-recover.service, as the unit runs it) returns them, and
#       libvirt's late stop afterwards changes nothing
#   L7  virt-hostdev attach of 04:00.0 (a PCIe virtio-net pair behind a root
#       port, one group) to a running q35 domain hot-plugs its whole group
#       (QEMU shows both functions); the live detach, answered by the guest
#       responder the domain boots (responder/, as a guest OS would answer),
#       takes both out of QEMU and back to virtio-pci while the domain runs;
#       a failure in the middle (04:00.1's driver_override read-only)
#       unwinds; in a domain with no OS, which never answers, the live detach
#       fails and leaves both in place, and detach after destroy returns both
#   L8  hostdev-recover.service's command while libvirtd is starting a domain (held by a later
#       hook at start begin: prepare done, QEMU not launched): the devices
#       stay, hostdev status names the starting libvirtd; the start then
#       completes with the device
#   L6  measured: what the hook adds to virsh start of a domain without
#       hostdevs (hook installed vs not, same daemon), and virsh start of the
#       two-endpoint domain split into hook, libvirt and QEMU (run before L4
#       and L5, on a daemon that was never killed)
# Uses init.sh's helpers (info, fail, expect_driver, listing, ...).

URI=qemu:///system
HOOKS=/etc/libvirt/hooks/qemu.d
HOOKLOG=/run/hostdev-hook.log
export LIBVIRT_DEFAULT_URI=$URI

ms_now() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
hook_calls() { cut -d' ' -f2- "$HOOKLOG" 2>/dev/null; }   # "NAME OP SUBOP RC" per call
mark_hooklog() { HOOK_MARK=$(wc -l <"$HOOKLOG" 2>/dev/null || echo 0); }
new_hook_calls() { tail -n +"$((HOOK_MARK + 1))" "$HOOKLOG" 2>/dev/null | cut -d' ' -f2- | tr '\n' ';'; }
virsh_q() { timeout -s KILL 120 virsh "$@" >/tmp/virsh.out 2>/tmp/virsh.err; }
qemu_pid() { cat "/run/libvirt/qemu/$1.pid" 2>/dev/null; }
wait_gone() {  # wait_gone PID SECONDS
  n=0
  while [ -d "/proc/$1" ] && [ "$n" -lt $(($2 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
  [ ! -d "/proc/$1" ]
}
# recover_unit: hostdev-recover.service's command as systemd runs it (from /,
# an empty environment), read from the built unit (kernel.prepare copies it
# to $T); the unit names hostdev in the install prefix, the guest has it on
# its PATH: the same arguments, the guest's hostdev.
recover_unit() {
  set -- $(sed -n 's/^ExecStart=//p' "$T/hostdev-recover.service")
  [ "${1##*/}" = hostdev ] || { echo "hostdev-recover.service runs '$1', not hostdev" >&2; return 99; }
  shift
  (cd / && env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$(command -v hostdev)" "$@")
}
on_vfio_both() { [ "$(drv "$VNET0")" = vfio-pci ] && [ "$(drv "$VNET1")" = vfio-pci ]; }
expect_pair_back() {  # expect_pair_back WHEN
  expect_driver "$VNET0" virtio-pci "$1"
  expect_driver "$VNET1" virtio-pci "$1"
  for a in "$VNET0" "$VNET1"; do
    [ "$(ovr "$a")" = "(null)" ] || fail "driver_override of $a is '$(ovr "$a")' $1"
    wait_iface "$a" 20 || fail "$a has no network interface $1"
  done
}
# QEMU's view of its guest's PCI bus: the passed-through virtio-net (1af4:1000).
expect_qemu_has_pair_device() {
  if virsh_q qemu-monitor-command "$1" --hmp 'info pci'; then
    if grep -q "1af4:1000" /tmp/virsh.out; then info "QEMU's guest has the device ($(grep -m1 -B1 '1af4:1000' /tmp/virsh.out | tr -s ' \n' ' '))"
    else fail "QEMU's guest has no 1af4:1000 device"; info_file /tmp/virsh.out 30; fi
  else
    fail "virsh qemu-monitor-command failed: $(cat /tmp/virsh.err)"
  fi
}

# -------------------------------------------------------------- the daemon
CHECK=setup
mkdir -p /etc/libvirt /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt /root
[ -e /var/run ] || ln -s /run /var/run
cat >/etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
libvirt-qemu:x:64055:64055:libvirt qemu:/var/lib/libvirt:/usr/sbin/nologin
EOF
cat >/etc/group <<'EOF'
root:x:0:
kvm:x:104:
libvirt:x:105:
libvirt-qemu:x:64055:
EOF
# As the libvirtd suite runs it: QEMU as root, no cgroups, namespaces,
# security driver or virtlogd (the guest has none of them).
cat >/etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
remember_owner = 0
EOF
cat >/etc/libvirt/libvirtd.conf <<'EOF'
log_outputs = "3:file:/run/libvirtd.log"
EOF
start_libvirtd() {  # start_libvirtd WHAT: starts it and waits until it answers; sets STARTED_MS
  t0=$(ms_now)
  libvirtd -d -p /run/libvirtd.pid 2>/tmp/libvirtd.err || info "libvirtd -d failed: $(cat /tmp/libvirtd.err)"
  n=0
  until virsh -c "$URI" version >/dev/null 2>&1; do
    n=$((n + 1))
    if [ "$n" -gt 600 ]; then info "libvirtd does not answer after 300 s ($1)"; return 1; fi
    sleep 0.5
  done
  STARTED_MS=$(($(ms_now) - t0))
  info "libvirtd ($1) answers after $STARTED_MS ms"
}
stop_libvirtd() {  # stop_libvirtd SIGNAL
  p=$(cat /run/libvirtd.pid 2>/dev/null)
  [ -n "$p" ] || return 0
  kill -"$1" "$p" 2>/dev/null
  wait_gone "$p" 30 || info "libvirtd $p did not exit"
  rm -f /run/libvirtd.pid
}
: >"$HOOKLOG"
[ -x "$HOOKS/50-hostdev" ] || info "the hook is not installed as $HOOKS/50-hostdev"
start_libvirtd "cold, capability probe" || { emit "HOSTDEV-RESULT L1 FAIL libvirtd does not start"; return 0; }
info "virsh version: $(virsh version 2>&1 | tr '\n' ' ')"
for x in lv-pair lv-pair-unmanaged lv-interface lv-sata lv-plain lv-hotplug lv-hotplug-mute; do
  virsh_q define "$T/$x.xml" || info "define $x failed: $(cat /tmp/virsh.err)"
done
info "defined: $(virsh list --all --name | tr '\n' ' ')"
# What virt-hostdev sees through the node-device API (libvirt's udev backend,
# with no udevd in the guest).
virt-hostdev groups >/tmp/vh-groups.out 2>&1; info "virt-hostdev groups -> exit $?"
info_file /tmp/vh-groups.out 12

# -------------------------------------------------------------- L1
begin_check L1 "virsh start with <hostdev managed='yes'> for $VNET0 (group with $VNET1) and virsh destroy"
listing >/tmp/L1.before
mark_hooklog
t0=$(ms_now)
if virsh_q start lv-pair; then
  info "virsh start lv-pair: $(( $(ms_now) - t0 )) ms"
  info "hook calls: $(new_hook_calls)"
  new_hook_calls | grep -q "lv-pair prepare begin 0;" || fail "libvirt did not run the hook's prepare begin"
  expect_driver "$VNET0" vfio-pci "while lv-pair runs"
  expect_driver "$VNET1" vfio-pci "while lv-pair runs (the other endpoint of the group)"
  [ -n "$(journals)" ] || fail "no journal while lv-pair runs"
  [ "$(virsh domstate lv-pair 2>/dev/null)" = running ] || fail "lv-pair is $(virsh domstate lv-pair 2>&1)"
  expect_qemu_has_pair_device lv-pair
  mark_hooklog
  virsh_q destroy lv-pair || fail "virsh destroy failed: $(cat /tmp/virsh.err)"
  info "hook calls at destroy: $(new_hook_calls)"
  new_hook_calls | grep -q "lv-pair release end 0;" || fail "libvirt did not run the hook's release end"
  expect_pair_back "after destroy"
  expect_no_journal
else
  fail "virsh start lv-pair failed: $(tr '\n' ' ' </tmp/virsh.err)"
  info "hook calls: $(new_hook_calls)"
  tail -n 20 /run/libvirtd.log >/tmp/L1.log; info_file /tmp/L1.log 20
fi
end_check "libvirt ran the hook, $VNET0 and $VNET1 on vfio-pci, QEMU had the device; destroy: both back on virtio-pci"

# -------------------------------------------------------------- L2
begin_check L2 "the same with managed='no': the hook detaches, libvirt does not"
mark_hooklog
if virsh_q start lv-pair-unmanaged; then
  info "hook calls: $(new_hook_calls)"
  expect_driver "$VNET0" vfio-pci "while lv-pair-unmanaged runs"
  expect_driver "$VNET1" vfio-pci "while lv-pair-unmanaged runs"
  expect_qemu_has_pair_device lv-pair-unmanaged
  virsh_q destroy lv-pair-unmanaged || fail "virsh destroy failed: $(cat /tmp/virsh.err)"
  expect_pair_back "after destroy"
  expect_no_journal
else
  fail "virsh start lv-pair-unmanaged failed: $(tr '\n' ' ' </tmp/virsh.err)"
fi
info "part 2: <interface type='hostdev'> for $VNET1"
listing >/tmp/L2.before
mark_hooklog
if virsh_q start lv-interface; then
  L2_IFACE="started"
  info "hook calls: $(new_hook_calls)"
  expect_driver "$VNET1" vfio-pci "while lv-interface runs"
  expect_driver "$VNET0" vfio-pci "while lv-interface runs (the other endpoint of the group)"
  virsh_q destroy lv-interface || fail "virsh destroy failed: $(cat /tmp/virsh.err)"
  expect_pair_back "after destroy"
else
  # libvirt sets a MAC through the physical function: on a device that is
  # no SR-IOV virtual function it refuses, after the hook's prepare.
  L2_IFACE="refused by libvirt: $(tr '\n' ' ' </tmp/virsh.err | sed 's/^error: //')"
  info "virsh start lv-interface: $L2_IFACE"
  info "hook calls: $(new_hook_calls)"
  new_hook_calls | grep -q "lv-interface prepare begin 0;" || fail "the hook did not accept lv-interface at prepare"
  new_hook_calls | grep -q "lv-interface release end 0;" || fail "libvirt did not run the hook's release end"
  grep -q "hostdev:" /tmp/virsh.err && fail "the hook refused lv-interface"
  expect_pair_back "after the failed start"
  listing >/tmp/L2.after
  expect_same_listing /tmp/L2.before /tmp/L2.after "by the failed start"
fi
expect_no_journal
end_check "managed='no': the hook moved both functions and returned them at release; <interface type='hostdev'>: $L2_IFACE"

# -------------------------------------------------------------- L3
begin_check L3 "a blocked group: virsh start fails with the hook's reason, nothing moved"
listing modules >/tmp/L3.before
mark_hooklog
if virsh_q start lv-sata; then
  fail "virsh start lv-sata succeeded"
  virsh_q destroy lv-sata
else
  info "virsh: $(tr '\n' ' ' </tmp/virsh.err)"
  info "hook calls: $(new_hook_calls)"
  grep -qi "hook script execution failed" /tmp/virsh.err || fail "virsh's error does not say the hook failed"
  grep -q "lpc_ich" /tmp/virsh.err || fail "virsh's error does not carry the hook's reason (lpc_ich)"
fi
listing modules >/tmp/L3.after
expect_same_listing /tmp/L3.before /tmp/L3.after "by the refused start"
expect_driver "$SATA" ahci "after the refused start"
expect_no_journal
end_check "refused: $(grep -o 'hostdev: .*' /tmp/virsh.err | head -n 1)"

# -------------------------------------------------------------- L7
begin_check L7 "virt-hostdev attach and detach: the whole group of 0000:04:00.0 hot-plugged into a running domain"
HP0=0000:04:00.0 HP1=0000:04:00.1   # the PCIe virtio-net pair behind the root port at 00:08.0
for a in "$HP0" "$HP1"; do wait_iface "$a" 20 || info "$a has no network interface"; done
info "$HP0 and $HP1: groups $(grp "$HP0") and $(grp "$HP1"), drivers $(drv "$HP0") and $(drv "$HP1")"
[ "$(grp "$HP0")" = "$(grp "$HP1")" ] || fail "$HP0 and $HP1 are not in one IOMMU group"
# hp_back WHEN: both functions on virtio-pci again with their interfaces.
hp_back() {
  for a in "$HP0" "$HP1"; do
    expect_driver "$a" virtio-pci "$1"
    wait_iface "$a" 20 || fail "$a has no network interface $1"
  done
}
qemu_pair_count() {  # how many functions with the pair's ids QEMU's guest of $1 has
  virsh_q qemu-monitor-command "$1" --hmp 'info pci' || { echo 0; return; }
  grep -c "$(ids "$HP0")" /tmp/virsh.out
}
# hp_attach DOMAIN: the whole group hot-plugged into running DOMAIN (both
# functions on vfio-pci, both in QEMU's guest).
hp_attach() {
  t0=$(ms_now)
  virt-hostdev attach "$1" "$HP0" --live >/tmp/L7.out 2>/tmp/L7.err
  rc=$?
  info "attach to $1 -> exit $rc after $(($(ms_now) - t0)) ms: $(tr '\n' ' ' </tmp/L7.err)"; info_file /tmp/L7.out 10
  [ "$rc" -eq 0 ] || fail "virt-hostdev attach $1 exited $rc"
  expect_driver "$HP0" vfio-pci "after attach to $1"
  expect_driver "$HP1" vfio-pci "after attach to $1 (the other endpoint of the group)"
  n=$(qemu_pair_count "$1")
  if [ "$n" -eq 2 ]; then info "QEMU's guest of $1 has both functions"; else fail "QEMU's guest of $1 has $n of the 2 functions"; info_file /tmp/virsh.out 30; fi
}
rm -f /run/lv-hotplug.serial
if virsh_q start lv-hotplug; then
  listing >/tmp/L7.before
  virt-hostdev attach lv-hotplug "$HP0" --live --dry-run >/tmp/L7.dry 2>/tmp/L7.dry.err
  rc=$?
  info "attach --dry-run -> exit $rc:"; info_file /tmp/L7.dry 10
  [ "$rc" -eq 0 ] || fail "virt-hostdev attach --dry-run exited $rc"
  grep -q "^virNodeDeviceDetachFlags pci_0000_04_00_1 vfio" /tmp/L7.dry || fail "the dry run does not detach $HP1"
  listing >/tmp/L7.dryafter
  expect_same_listing /tmp/L7.before /tmp/L7.dryafter "by the dry run"
  hp_attach lv-hotplug
  # The live detach of a guest that answers (the responder, as a guest OS
  # would): QEMU drops both functions, the node devices go back to virtio-pci.
  t0=$(ms_now)
  virt-hostdev detach lv-hotplug "$HP0" --live --timeout 60 >/tmp/L7.out 2>/tmp/L7.err
  rc=$?
  L7_DETACH_MS=$(($(ms_now) - t0))
  info "live detach (the responder answers) -> exit $rc after $L7_DETACH_MS ms: $(tr '\n' ' ' </tmp/L7.err)"
  info_file /tmp/L7.out 10
  [ "$rc" -eq 0 ] || fail "virt-hostdev detach --live exited $rc, expected 0 (the guest released both slots)"
  n=$(qemu_pair_count lv-hotplug)
  [ "$n" -eq 0 ] || fail "QEMU's guest still has $n of the functions after the live detach"
  hp_back "after the live detach"
  [ "$(virsh domstate lv-hotplug 2>/dev/null)" = running ] || fail "lv-hotplug is $(virsh domstate lv-hotplug 2>&1) after the live detach"
  L7_ANSWERS=$(tr -cd 'AN' </run/lv-hotplug.serial 2>/dev/null)
  info "the responder's serial log: $(tr '\n' ' ' </run/lv-hotplug.serial 2>/dev/null)"
  [ "${#L7_ANSWERS}" -ge 2 ] || fail "the responder logged ${#L7_ANSWERS} answers, expected one per slot (2)"
  listing >/tmp/L7.after
  expect_same_listing /tmp/L7.before /tmp/L7.after "by attach and live detach"
  info "a failure in the middle: $HP1's driver_override read-only, after $HP0 was detached"
  P=$(realpath "$SYSPCI/$HP1/driver_override")
  cat "$P" >/tmp/override-copy
  listing >/tmp/L7b.before
  if mount --bind /tmp/override-copy "$P" && mount -o remount,bind,ro "$P"; then
    virt-hostdev attach lv-hotplug "$HP0" --live >/tmp/L7.out 2>/tmp/L7.err
    rc=$?
    umount "$P" || fail "cannot unmount $P"
    info "attach -> exit $rc: $(tr '\n' ' ' </tmp/L7.err)"; info_file /tmp/L7.out 10
    [ "$rc" -eq 1 ] || fail "virt-hostdev attach exited $rc, expected 1 (a call failed, every call before it undone)"
    grep -q "^undo " /tmp/L7.out || fail "no undo call printed"
    for a in "$HP0" "$HP1"; do wait_iface "$a" 20 || fail "$a has no network interface after the unwind"; done
    listing >/tmp/L7b.after
    expect_same_listing /tmp/L7b.before /tmp/L7b.after "by the unwound attach"
    n=$(qemu_pair_count lv-hotplug)
    [ "$n" -eq 0 ] || fail "QEMU's guest has $n of the functions after the unwound attach"
  else
    fail "cannot bind-mount a read-only copy over $P"
    umount "$P" 2>/dev/null
  fi
  virsh_q destroy lv-hotplug
else
  fail "virsh start lv-hotplug failed: $(tr '\n' ' ' </tmp/virsh.err)"
fi
info "part 2: a guest that never answers (lv-hotplug-mute, no OS)"
if virsh_q start lv-hotplug-mute; then
  hp_attach lv-hotplug-mute
  # Nothing in the guest releases the slots: the live detach waits --timeout,
  # then fails with both functions still in the guest and on vfio-pci.
  t0=$(ms_now)
  virt-hostdev detach lv-hotplug-mute "$HP0" --live --timeout 10 >/tmp/L7.out 2>/tmp/L7.err
  rc=$?
  info "live detach (nothing answers) -> exit $rc after $(($(ms_now) - t0)) ms: $(tr '\n' ' ' </tmp/L7.err)"
  info_file /tmp/L7.out 10
  [ "$rc" -eq 1 ] || fail "virt-hostdev detach --live exited $rc, expected 1 (the guest released nothing)"
  expect_driver "$HP0" vfio-pci "after the unanswered live detach"
  expect_driver "$HP1" vfio-pci "after the unanswered live detach"
  virsh_q destroy lv-hotplug-mute
  # The guest gone, detach returns what is still on vfio-pci.
  virt-hostdev detach lv-hotplug-mute "$HP0" >/tmp/L7.out 2>/tmp/L7.err
  rc=$?
  info "detach after destroy -> exit $rc: $(tr '\n' ' ' </tmp/L7.err)"; info_file /tmp/L7.out 10
  [ "$rc" -eq 0 ] || fail "virt-hostdev detach exited $rc after the guest stopped"
  hp_back "after detach"
else
  fail "virsh start lv-hotplug-mute failed: $(tr '\n' ' ' </tmp/virsh.err)"
fi
expect_no_journal
end_check "attach: both functions of the group on vfio-pci and in the running guest; live detach answered by the guest: both out of QEMU and back on virtio-pci in ${L7_DETACH_MS:-?} ms (${L7_ANSWERS:-no} answers); a failure mid-way unwound; a guest that never answers: the live detach fails and leaves both in place, detach after destroy returned both"

# -------------------------------------------------------------- L6
begin_check L6 "measured: the hook's cost in virsh start"
# start_stop NAME N: N starts and destroys; sets TIMES to the start times (ms), sorted.
start_stop() {
  i=0; : >/tmp/times
  while [ "$i" -lt "$2" ]; do
    t0=$(ms_now)
    if ! virsh_q start "$1"; then fail "virsh start $1 failed: $(tr '\n' ' ' </tmp/virsh.err)"; break; fi
    echo $(($(ms_now) - t0)) >>/tmp/times
    virsh_q destroy "$1" || fail "virsh destroy $1 failed: $(tr '\n' ' ' </tmp/virsh.err)"
    i=$((i + 1))
  done
  TIMES=$(sort -n /tmp/times | tr '\n' ' ')
  info "virsh start $1, $2 times: $TIMES ms"
}
# reload_hooks: libvirtd finds hooks again on SIGHUP.
reload_hooks() { kill -HUP "$(cat /run/libvirtd.pid)"; sleep 2; virsh version >/dev/null 2>&1; }
median() { echo "$1" | tr ' ' '\n' | grep . | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# stamp_split NAME T0 T1: one start of NAME (from T0 to T1, uptime seconds) split
# by the stamps of /run/stamps into hook, QEMU and the rest.
stamp_split() {
  awk -v name="$1" -v t0="$2" -v t1="$3" '
    $3 == name && ($4 == "prepare" || $4 == "start" || $4 == "started") { at[$2 " " $4] = $1 }
    END {
      hook = 0
      n = split("prepare start started", ops, " ")
      for (i = 1; i <= n; i++) hook += at["99-stamp " ops[i]] - at["00-stamp " ops[i]]
      qemu = at["00-stamp started"] - at["99-stamp start"]
      total = t1 - t0
      printf "%d ms: hook %d ms (prepare %d), QEMU %d ms, libvirt and virsh %d ms\n", total * 1000, hook * 1000,
        (at["99-stamp prepare"] - at["00-stamp prepare"]) * 1000, qemu * 1000, (total - hook - qemu) * 1000
    }' /run/stamps
}
# timed_start NAME: one start and destroy with the stamp hooks; prints stamp_split's line.
timed_start() {
  : >/run/stamps
  t0=$(awk '{ print $1 }' /proc/uptime)
  virsh_q start "$1" || fail "virsh start $1 failed: $(tr '\n' ' ' </tmp/virsh.err)"
  t1=$(awk '{ print $1 }' /proc/uptime)
  virsh_q destroy "$1"
  stamp_split "$1" "$t0" "$t1"
}
virsh_q start lv-plain && virsh_q destroy lv-plain   # warm
# Whole starts with and without the hook, alternately (TCG timings drift).
WITH= WITHOUT=
for round in 1 2; do
  start_stop lv-plain 2; WITH="$WITH$TIMES"
  mv "$HOOKS/50-hostdev" /tmp/50-hostdev; reload_hooks
  mark_hooklog
  start_stop lv-plain 2; WITHOUT="$WITHOUT$TIMES"
  [ -z "$(new_hook_calls)" ] || fail "the hook still ran after it was removed and libvirtd got SIGHUP"
  mv /tmp/50-hostdev "$HOOKS/50-hostdev"; reload_hooks
done
info "virsh start lv-plain with the hook: $WITH ms (median $(median "$WITH")); without: $WITHOUT ms (median $(median "$WITHOUT"))"
# The hook's own share, timed by stamp hooks around it (00-stamp, 99-stamp).
cp "$T/stamp-hook" "$HOOKS/00-stamp"; cp "$T/stamp-hook" "$HOOKS/99-stamp"
reload_hooks
: >/tmp/L6.plain
for round in 1 2 3; do timed_start lv-plain >>/tmp/L6.plain; done
info_file /tmp/L6.plain
PLAIN_HOOK=$(awk '{ print $4 }' /tmp/L6.plain | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
: >/tmp/L6.pair
for round in 1 2 3; do timed_start lv-pair >>/tmp/L6.pair; done
info_file /run/stamps 20
info_file /tmp/L6.pair
PAIR=$(sort -n /tmp/L6.pair | sed -n 2p)
rm -f "$HOOKS/00-stamp" "$HOOKS/99-stamp"
reload_hooks
expect_pair_back "after the measured destroys"
[ -n "$PLAIN_HOOK" ] && [ -n "$PAIR" ] || fail "no measurement"
end_check "virsh start lv-plain: the hook's share ${PLAIN_HOOK} ms (median of 3, stamps); whole start with the hook $(median "$WITH") ms, without $(median "$WITHOUT") ms (medians of 4); virsh start lv-pair (two endpoints, median of 3): $PAIR"

# -------------------------------------------------------------- L4
begin_check L4 "libvirtd restarted while the domain runs: reconnect, the journal stays, destroy returns all"
if virsh_q start lv-pair; then
  Q=$(qemu_pid lv-pair)
  J=$(journals)
  info "lv-pair runs (QEMU $Q), journal $J"
  mark_hooklog
  stop_libvirtd TERM
  [ -d "/proc/$Q" ] || fail "QEMU $Q died with libvirtd"
  start_libvirtd "restart" || fail "libvirtd does not start again"
  # libvirt reconnects to running domains in a thread of its own, after it answers.
  n=0
  until new_hook_calls | grep -q "lv-pair reconnect begin" || [ "$n" -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
  info "hook calls at restart: $(new_hook_calls)"
  new_hook_calls | grep -q "lv-pair reconnect begin 0;" || fail "libvirt did not run the hook's reconnect begin"
  [ "$(virsh domstate lv-pair 2>/dev/null)" = running ] || fail "lv-pair is $(virsh domstate lv-pair 2>&1) after the restart"
  [ -d "/proc/$Q" ] || fail "QEMU $Q is gone after the restart"
  [ "$(journals)" = "$J" ] || fail "the journal changed at the restart: '$(journals)'"
  on_vfio_both || fail "the group left vfio-pci at the restart"
  virsh_q destroy lv-pair || fail "virsh destroy failed: $(cat /tmp/virsh.err)"
  expect_pair_back "after destroy"
  expect_no_journal
else
  fail "virsh start lv-pair failed: $(tr '\n' ' ' </tmp/virsh.err)"
fi
end_check "reconnect begin kept lv-pair running and its journal; destroy returned both functions"

# -------------------------------------------------------------- L5
begin_check L5 "libvirtd killed (-9) and QEMU killed behind its back: the devices come back"
# kill_both: lv-pair started, then libvirtd and its QEMU killed; sets Q.
kill_both() {
  virsh_q start lv-pair || { fail "virsh start lv-pair failed: $(tr '\n' ' ' </tmp/virsh.err)"; return 1; }
  Q=$(qemu_pid lv-pair)
  stop_libvirtd KILL
  kill -9 "$Q"; wait_gone "$Q" 10 || fail "QEMU $Q does not die"
  on_vfio_both || fail "the group left vfio-pci before anything ran"
  [ -n "$(journals)" ] || fail "no journal after the kills"
}
# libvirt's reconnect finds QEMU gone, in a thread of its own.
wait_shut_off() {
  n=0
  until [ "$(virsh domstate lv-pair 2>/dev/null)" = "shut off" ] || [ "$n" -ge 200 ]; do sleep 0.1; n=$((n + 1)); done
  sleep 1
}
info "part 1: libvirtd started again"
if kill_both; then
  mark_hooklog
  start_libvirtd "after kill -9" || fail "libvirtd does not start again"
  wait_shut_off
  L5_CALLS=$(new_hook_calls)
  info "hook calls after the restart: $L5_CALLS; lv-pair is $(virsh domstate lv-pair 2>&1)"
  expect_pair_back "after libvirtd's restart"
  expect_no_journal
fi
info "part 2: hostdev recover while libvirtd is down (no hook can run), then libvirtd again"
if kill_both; then
  hostdev status >/tmp/L5.status 2>&1; info "hostdev status: $(tr '\n' ' ' </tmp/L5.status)"
  grep -q "not running" /tmp/L5.status || fail "hostdev status does not say lv-pair is not running"
  if recover_unit >/tmp/L5.recover 2>&1; then info "hostdev-recover.service's hostdev recover: $(tr '\n' ' ' </tmp/L5.recover)"
  else fail "hostdev-recover.service's command exited $?: $(tr '\n' ' ' </tmp/L5.recover)"; fi
  expect_pair_back "after hostdev recover"
  expect_no_journal
  listing >/tmp/L5.before
  mark_hooklog
  start_libvirtd "after the recover" || fail "libvirtd does not start again"
  wait_shut_off
  info "hook calls after the restart: $(new_hook_calls)"
  listing >/tmp/L5.after
  expect_same_listing /tmp/L5.before /tmp/L5.after "by libvirt's late stop of lv-pair"
fi
end_check "libvirtd restarted: libvirt called ${L5_CALLS:-nothing} and the hook returned both functions; libvirtd down: $(tr '\n' ' ' </tmp/L5.recover 2>/dev/null)"

# -------------------------------------------------------------- L8
begin_check L8 "hostdev recover while libvirtd is starting a domain: its devices are kept"
# libvirtd (autostarting its domains as it comes up, say) has run the hook's
# prepare, but the domain's QEMU is not launched yet: no process has its
# -uuid. A hook after 50-hostdev holds libvirt at start begin until told.
cat >"$HOOKS/60-hold" <<'EOF'
#!/bin/sh
[ "$1" = lv-pair ] && [ "$2" = start ] && [ "$3" = begin ] || exit 0
: >/run/held
n=0
while [ ! -e /run/go ] && [ "$n" -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
exit 0
EOF
chmod 755 "$HOOKS/60-hold"
rm -f /run/held /run/go
reload_hooks
timeout -s KILL 180 virsh start lv-pair >/tmp/L8.start 2>&1 &
VSH=$!
n=0
while [ ! -e /run/held ] && [ "$n" -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done
if [ -e /run/held ]; then
  on_vfio_both || fail "the group is not on vfio-pci while libvirt is at start begin"
  J=$(journals)
  grep -q '"starting"' $J 2>/dev/null || fail "the journal does not name the starting daemon: $(cat $J 2>/dev/null | tr '\n' ' ')"
  hostdev status >/tmp/L8.status 2>&1; info "hostdev status: $(tr '\n' ' ' </tmp/L8.status)"
  grep -q "not running, being started by libvirtd (pid $(cat /run/libvirtd.pid))" /tmp/L8.status \
    || fail "hostdev status does not say libvirtd ($(cat /run/libvirtd.pid)) is starting lv-pair"
  listing >/tmp/L8.before
  recover_unit >/tmp/L8.recover 2>&1
  rc=$?
  info "hostdev-recover.service's hostdev recover while lv-pair is being started -> exit $rc: $(tr '\n' ' ' </tmp/L8.recover)"
  [ "$rc" -eq 0 ] || fail "hostdev recover exited $rc"
  grep -q "is being started by libvirtd" /tmp/L8.recover || fail "hostdev recover does not say why it kept lv-pair's devices"
  listing >/tmp/L8.after
  expect_same_listing /tmp/L8.before /tmp/L8.after "by hostdev recover during the start"
  [ "$(journals)" = "$J" ] || fail "the journal changed: '$(journals)'"
else
  fail "libvirt never reached start begin: $(tr '\n' ' ' </tmp/L8.start)"
fi
: >/run/go
wait "$VSH"; rc=$?
info "virsh start lv-pair -> exit $rc: $(tr '\n' ' ' </tmp/L8.start)"
rm -f "$HOOKS/60-hold" /run/held /run/go; reload_hooks
if [ "$rc" -eq 0 ]; then
  expect_qemu_has_pair_device lv-pair
  grep -q '"starting"' $(journals) 2>/dev/null && fail "the journal still names the starting daemon after started"
  # QEMU runs now: recover keeps the devices as a running domain's.
  listing >/tmp/L8.before
  recover_unit >/tmp/L8.recover2 2>&1 || fail "hostdev-recover.service's command exited $? with lv-pair running"
  listing >/tmp/L8.after
  expect_same_listing /tmp/L8.before /tmp/L8.after "by hostdev recover with lv-pair running"
  virsh_q destroy lv-pair || fail "virsh destroy failed: $(cat /tmp/virsh.err)"
  expect_pair_back "after destroy"
  expect_no_journal
else
  fail "virsh start lv-pair failed after the hold"
  expect_pair_back "after the failed start"
fi
end_check "held at start begin (QEMU not launched): hostdev status named the starting libvirtd, hostdev recover kept both functions ($(grep -m1 -o 'is being started by [^;(]*([^)]*)' /tmp/L8.recover 2>/dev/null)); the domain then started with the device, and destroy returned both"

CHECK=log
stop_libvirtd TERM
[ -s /run/libvirtd.log ] && emit_block libvirtd-log /run/libvirtd.log
