# shellcheck shell=sh
# The single-GPU scenarios of the kernel suite, sourced by /init (init.sh)
# when boot.sh booted the gpu profile: UEFI firmware and QEMU's standard VGA
# at 00:02.0, the boot display. At boot the firmware framebuffer (efifb on
# efi-framebuffer.0) and fbcon hold it and no DRM driver is loaded, as on a
# single-GPU desktop before its DRM driver loads. In order:
#   g1  efifb and fbcon only: hostdev says beforehand that the firmware
#       console will not return; prepare -> vfio-pci, a nested QEMU opens
#       it; release -> no driver, as before
#   g2  bochs (DRM driver) and fbcon: prepare -> console unbound, vfio-pci,
#       nested QEMU; release -> bochs, /dev/dri/card0 and the console back
#   g3  a process that is not the display manager holds /dev/dri/card0:
#       refused within gpu_release_timeout_ms, naming it; nothing changed
#   g4  the display manager (a stand-in systemctl and daemon) holds it:
#       stopped at prepare, started again at release
#   g5  failures injected in the middle of the handoff (at the console
#       step, and after the GPU left bochs) unwind all of it
# The hook's measured times ("handed over: done in ...", "given back: done
# in ...") are printed as details of the check that made them.
# Uses init.sh's helpers (info, fail, run_hook, nested_qemu, ...).

VGA=0000:00:02.0
DOMAIN=$T/vga.xml
CONF=/etc/hostdev/hostdev.conf
cp "$CONF" /tmp/hostdev.conf.base
CONSOLE_NAME="frame buffer device"

mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || info "cannot mount cgroup2 on /sys/fs/cgroup"
# systemd's directories, with no display manager configured until g4.
mkdir -p /etc/systemd/system /usr/lib/systemd/system /run/systemd/units
modprobe vfio_iommu_type1 2>/tmp/modprobe.err || info "modprobe vfio_iommu_type1 failed: $(cat /tmp/modprobe.err)"

# ----------------------------------------------------------- gpu helpers
ms_now() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
# The framebuffer console's vtconsole (fbcon), or nothing.
fbcon_vt() {
  for v in /sys/class/vtconsole/vtcon*; do
    [ -e "$v/name" ] && grep -q "$CONSOLE_NAME" "$v/name" && { echo "$v"; return; }
  done
}
fbcon_bound() { v=$(fbcon_vt); [ -n "$v" ] && [ "$(cat "$v/bind")" = 1 ]; }
efifb_driver() {
  d=/sys/bus/platform/devices/efi-framebuffer.0
  if [ ! -e "$d" ]; then echo gone
  elif [ -L "$d/driver" ]; then basename "$(readlink "$d/driver")"
  else echo unbound; fi
}
cards() { ls /dev/dri 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
gpu_state() {  # one line: driver, console, firmware framebuffer, DRM nodes, /proc/fb
  v=$(fbcon_vt)
  echo "driver $(drv "$VGA"); fbcon ${v:+${v##*/} bind=$(cat "$v/bind")}${v:-none}; efi-framebuffer.0 $(efifb_driver);" \
    "dri: $(cards); fb: $(tr '\n' ' ' </proc/fb)"
}
wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND is
  limit=$(($1 * 10)); shift; n=0
  while [ "$n" -lt "$limit" ]; do
    "$@" 2>/dev/null && return 0
    sleep 0.1; n=$((n + 1))
  done
  return 1
}
card_exists() { ls /dev/dri/card* >/dev/null 2>&1; }
# The hook's syslog lines (busybox syslogd, to /run/messages) written since
# mark_log, without their prefix.
SYSLOG=/run/messages
syslogd -O "$SYSLOG" || info "cannot start syslogd"
mark_log() { sleep 0.2; LOG_MARK=$(wc -l <"$SYSLOG" 2>/dev/null || echo 0); }
new_log() { sleep 0.2; tail -n +"$((LOG_MARK + 1))" "$SYSLOG" 2>/dev/null | grep ' hostdev\[' | sed 's/^.* hostdev\[[0-9]*\]: //'; }   # the hook's syslog identifier is hostdev
# The hook's log lines of the check, and its measured times, as details.
show_times() {
  new_log >/tmp/check-log
  head -n 40 /tmp/check-log | while IFS= read -r l; do info "log: $l"; done
  grep -E "(handed over|given back): done in" /tmp/check-log | while IFS= read -r l; do info "time: $l"; done
}
with_conf() {  # with_conf "KEY = VALUE"...: the base configuration with these settings
  cp /tmp/hostdev.conf.base "$CONF"
  for l in "$@"; do
    grep -v "^${l%% *} " "$CONF" >/tmp/hostdev.conf.new
    echo "$l" >>/tmp/hostdev.conf.new
    cp /tmp/hostdev.conf.new "$CONF"
  done
}
gpu_listing() { listing; echo "fbcon $(fbcon_bound && echo bound || echo unbound)"; }

# The stand-in display manager: systemctl for fake-dm.service only, its
# daemon holding the GPU's DRM node in its own cgroup.
DM=fake-dm.service
DM_CG=/sys/fs/cgroup/system.slice/$DM
dm_active() { [ -L "/run/systemd/units/invocation:$DM" ]; }
dm_pids() { cat "$DM_CG/cgroup.procs" 2>/dev/null | tr '\n' ' '; }
dm_holds_card() {
  for p in $(dm_pids); do ls -l "/proc/$p/fd" 2>/dev/null | grep -q '/dev/dri/card' && return 0; done
  return 1
}

# -------------------------------------------------------------- boot
for d in "$SYSPCI"/*; do
  a=${d##*/}
  info "$a [$(ids "$a")] class $(cat "$d/class") group $(grp "$a") driver $(drv "$a") boot_vga $(cat "$d/boot_vga" 2>/dev/null || echo -)"
done
info "at boot: $(gpu_state)"
for v in /sys/class/vtconsole/vtcon*; do info "${v##*/}: $(cat "$v/name") bind=$(cat "$v/bind")"; done

# -------------------------------------------------------------- g1
begin_check g1 "efifb and fbcon only: prepare -> vfio-pci (nested QEMU opens it), release -> no driver"
with_conf
[ "$(cat "$SYSPCI/$VGA/boot_vga" 2>/dev/null)" = 1 ] || fail "$VGA is not the boot display"
[ "$(efifb_driver)" = efi-framebuffer ] || fail "efi-framebuffer.0 is $(efifb_driver) at boot, expected bound to efi-framebuffer"
fbcon_bound || fail "no bound framebuffer console at boot"
[ "$(drv "$VGA")" = - ] || fail "$VGA has driver $(drv "$VGA") at boot, expected none"
# Beforehand: hostdev-fix, doctor and (below) the hook's log say the firmware console will not return.
hostdev-fix --check "$DOMAIN" >/tmp/g1-fix.out 2>/tmp/g1-fix.err
info "hostdev-fix --check -> exit $?: $(tr '\n' ' ' </tmp/g1-fix.err)"
grep -q "firmware console (efi-framebuffer on efi-framebuffer.0) will not return" /tmp/g1-fix.err \
  || fail "hostdev-fix does not say that the firmware console will not return"
grep -q "$VGA .*: the hook hands the host's console and display to the guest" /tmp/g1-fix.err \
  || fail "hostdev-fix does not give the handoff plan"
hostdev doctor >/tmp/g1-doctor.out 2>&1
info "hostdev doctor -> exit $?"
grep -E "gpu-handoff|gpu-holders" /tmp/g1-doctor.out | while IFS= read -r l; do info "  $l"; done
grep -q "gpu-handoff" /tmp/g1-doctor.out || fail "doctor has no gpu-handoff check"
grep "gpu-handoff" -A3 /tmp/g1-doctor.out | grep -q "will not return" || fail "doctor does not say that the firmware console will not return"
mark_log
run_hook "$DOMAIN" kernel-vga prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC: $(cat /tmp/hook.err)"
info "after prepare: $(gpu_state)"
expect_driver "$VGA" vfio-pci "after prepare"
new_log | grep -q "will not return" || fail "the hook's log does not say that the firmware console will not return"
G=$(grp "$VGA")
if [ -c "/dev/vfio/$G" ]; then info "/dev/vfio/$G exists"; else fail "/dev/vfio/$G does not exist"; fi
expect_qemu_opened "$VGA" vga1
run_hook "$DOMAIN" kernel-vga release end
[ "$RC" -eq 0 ] || fail "release end exited $RC: $(cat /tmp/hook.err)"
info "after release: $(gpu_state)"
expect_driver "$VGA" - "after release"
[ "$(ovr "$VGA")" = "(null)" ] || fail "driver_override of $VGA is '$(ovr "$VGA")' after release"
expect_no_journal
show_times
end_check "efifb+fbcon -> vfio-pci (opened by nested QEMU) -> no driver; efi-framebuffer.0 $(efifb_driver) (the kernel removed it), said beforehand"

# -------------------------------------------------------------- g2
begin_check g2 "bochs and fbcon: prepare -> console unbound, vfio-pci; release -> bochs, card0 and the console back"
modprobe bochs 2>/tmp/modprobe.err || fail "modprobe bochs: $(cat /tmp/modprobe.err)"
wait_for 20 card_exists || fail "no /dev/dri/card* 20 s after modprobe bochs"
info "bochs loaded: $(gpu_state)"
expect_driver "$VGA" bochs-drm "after modprobe bochs"
fbcon_bound || fail "no bound framebuffer console on bochs"
CARD_BEFORE=$(cards)
mark_log
run_hook "$DOMAIN" kernel-vga prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC: $(cat /tmp/hook.err)"
info "after prepare: $(gpu_state)"
expect_driver "$VGA" vfio-pci "after prepare"
if fbcon_bound; then fail "the framebuffer console is still bound after prepare"; else info "framebuffer console unbound"; fi
expect_qemu_opened "$VGA" vga2
run_hook "$DOMAIN" kernel-vga release end
[ "$RC" -eq 0 ] || fail "release end exited $RC: $(cat /tmp/hook.err)"
wait_for 20 card_exists || fail "no /dev/dri/card* 20 s after release"
info "after release: $(gpu_state)"
expect_driver "$VGA" bochs-drm "after release"
[ "$(cards)" = "$CARD_BEFORE" ] || fail "DRM nodes after release: $(cards), before: $CARD_BEFORE"
if fbcon_bound; then info "framebuffer console bound again"; else fail "the framebuffer console is not back after release"; fi
expect_no_journal
show_times
end_check "bochs+fbcon -> vfio-pci (console unbound, opened by nested QEMU) -> bochs-drm, $(cards), console bound"

# -------------------------------------------------------------- g3
begin_check g3 "a holder that is not the display manager: refused within gpu_release_timeout_ms, nothing changed"
with_conf "gpu_release_timeout_ms = 1500"
CARD=$(ls /dev/dri/card* 2>/dev/null | head -n 1)
sleep 600 5<"$CARD" &
HOLDER=$!
sleep 0.2
if ls -l "/proc/$HOLDER/fd" | grep -q "$CARD"; then info "pid $HOLDER (sleep) holds $CARD"; else fail "the holder does not hold $CARD"; fi
gpu_listing >/tmp/g3.before
mark_log
t0=$(ms_now)
run_hook "$DOMAIN" kernel-vga prepare begin
took=$(($(ms_now) - t0))
gpu_listing >/tmp/g3.after
info "refused after $took ms; $(gpu_state)"
[ "$RC" -ne 0 ] || fail "the hook accepted the start (exit 0)"
[ "$RC" -ne 137 ] || fail "the hook was killed after 120 s"
[ "$took" -lt 10000 ] || fail "the refusal took $took ms (gpu_release_timeout_ms is 1500)"
[ "$took" -ge 1500 ] || fail "the refusal came after $took ms, before gpu_release_timeout_ms (1500)"
grep -q "$HOLDER (sleep)" /tmp/hook.err || fail "the reason does not name $HOLDER (sleep)"
grep -q "never kills" /tmp/hook.err || fail "the reason does not say that hostdev never kills a holder"
expect_same_listing /tmp/g3.before /tmp/g3.after "by the refused start"
if kill -0 "$HOLDER" 2>/dev/null; then info "the holder still runs"; else fail "the holder is gone"; fi
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
expect_no_journal
show_times
end_check "refused after $took ms: $(tr '\n' ' ' </tmp/hook.err)"

# -------------------------------------------------------------- g4
begin_check g4 "the display manager holds the GPU: stopped at prepare, started again at release"
with_conf
ln -sf "/usr/lib/systemd/system/$DM" /etc/systemd/system/display-manager.service
: >/run/systemctl.log
systemctl start "$DM" || fail "the stand-in systemctl cannot start $DM"
if dm_active && dm_holds_card; then info "$DM active: pids $(dm_pids)holding $(cards)"
else fail "$DM is not active or does not hold the DRM node"; fi
DM_PIDS_BEFORE=$(dm_pids)
mark_log
run_hook "$DOMAIN" kernel-vga prepare begin
[ "$RC" -eq 0 ] || fail "prepare begin exited $RC: $(cat /tmp/hook.err)"
info "after prepare: $(gpu_state); $DM $(dm_active && echo active || echo inactive), pids: $(dm_pids)"
expect_driver "$VGA" vfio-pci "after prepare"
dm_active && fail "$DM still active after prepare"
for p in $DM_PIDS_BEFORE; do kill -0 "$p" 2>/dev/null && fail "pid $p of $DM still runs after prepare"; done
expect_qemu_opened "$VGA" vga4
run_hook "$DOMAIN" kernel-vga release end
[ "$RC" -eq 0 ] || fail "release end exited $RC: $(cat /tmp/hook.err)"
wait_for 20 dm_holds_card || fail "$DM holds no DRM node 20 s after release"
info "after release: $(gpu_state); $DM $(dm_active && echo active || echo inactive), pids: $(dm_pids)"
expect_driver "$VGA" bochs-drm "after release"
dm_active || fail "$DM is not active after release"
fbcon_bound || fail "the framebuffer console is not back after release"
info "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
[ "$(tr '\n' ';' </run/systemctl.log)" = "start $DM;stop $DM;start $DM;" ] || fail "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
expect_no_journal
show_times
end_check "$DM stopped, bochs -> vfio-pci (opened by nested QEMU) -> bochs-drm, $DM started again holding $(cards)"

# -------------------------------------------------------------- g5
begin_check g5 "failures in the middle of the handoff unwind all of it"
# $DM is active and holds the GPU (from g4).
dm_active || fail "$DM is not active before g5"
mark_log
info "part 1: the framebuffer console's unbind fails (after $DM was stopped)"
V=$(fbcon_vt)
P=$(realpath "$V/bind")
cat "$P" >/tmp/vtbind-copy
gpu_listing >/tmp/g5a.before
: >/run/systemctl.log
if mount --bind /tmp/vtbind-copy "$P" && mount -o remount,bind,ro "$P"; then
  run_hook "$DOMAIN" kernel-vga prepare begin
  umount "$P" || fail "cannot unmount $P"
  [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ] || fail "prepare begin exited $RC"
  grep -q "rolled back" /tmp/hook.err || fail "the reason does not say the start was rolled back"
  wait_for 20 dm_holds_card || fail "$DM holds no DRM node 20 s after the rollback"
  gpu_listing >/tmp/g5a.after
  expect_same_listing /tmp/g5a.before /tmp/g5a.after "by the rolled-back start"
  dm_active || fail "$DM is not active after the rollback"
  [ "$(tr '\n' ';' </run/systemctl.log)" = "stop $DM;start $DM;" ] || fail "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
  info "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
  expect_no_journal
else
  fail "cannot bind-mount a read-only copy over $P"
  umount "$P" 2>/dev/null
fi
REASON5A=$(tr '\n' ' ' </tmp/hook.err)
info "part 2: the GPU never reaches vfio-pci (drivers_probe does nothing) after it left bochs"
with_conf "wait_timeout_ms = 2000"
: >/tmp/fake-probe
gpu_listing >/tmp/g5b.before
: >/run/systemctl.log
if mount --bind /tmp/fake-probe /sys/bus/pci/drivers_probe; then
  run_hook "$DOMAIN" kernel-vga prepare begin
  umount /sys/bus/pci/drivers_probe || fail "cannot unmount /sys/bus/pci/drivers_probe"
  [ -s /tmp/fake-probe ] || fail "the hook never wrote to drivers_probe: the GPU did not leave bochs"
  [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ] || fail "prepare begin exited $RC"
  grep -q "rolled back" /tmp/hook.err || fail "the reason does not say the start was rolled back"
  wait_for 20 dm_holds_card || fail "$DM holds no DRM node 20 s after the rollback"
  gpu_listing >/tmp/g5b.after
  expect_same_listing /tmp/g5b.before /tmp/g5b.after "by the rolled-back start"
  expect_driver "$VGA" bochs-drm "after the rollback"
  dm_active || fail "$DM is not active after the rollback"
  [ "$(tr '\n' ';' </run/systemctl.log)" = "stop $DM;start $DM;" ] || fail "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
  info "systemctl calls: $(tr '\n' ';' </run/systemctl.log)"
  expect_no_journal
else
  fail "cannot bind-mount a file over /sys/bus/pci/drivers_probe"
fi
with_conf
show_times
end_check "console step failed: rolled back ($REASON5A); vfio-pci never bound: rolled back ($(tr '\n' ' ' </tmp/hook.err))"
