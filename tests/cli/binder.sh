#!/usr/bin/env bash
# hostdev detach/reattach/status/recover on a fake root. Plain files do not
# react like the kernel, so a real detach here times out and must roll back
# to exactly the state before; --dry-run and refusals change nothing.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/host.spec" <<'SPEC'
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich
dev 00:1f.3 8086:a170 0x040300 group=4 driver=snd_hda_intel
SPEC
"$FAKEROOT" "$WORK/host.spec" "$WORK/root" || { echo "cannot build fake root"; exit 1; }
printf 'wait_timeout_ms = 100\nlock_timeout_ms = 2000\n' >"$WORK/hostdev.conf"
export HOSTDEV_CONFIG=$WORK/hostdev.conf
state() { "$HOSTDEV" groups --root "$WORK/root" --format json >"$WORK/$1.json" 2>/dev/null; }
state before

# --dry-run: one line per write, in order, each the file it would really open
# (links resolved inside the root) as on a live host; nothing changes.
expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run 01:00.0
cat >"$WORK/want" <<'WANT'
write /sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver_override vfio-pci
write /sys/bus/pci/drivers/nouveau/unbind 0000:01:00.0
write /sys/bus/pci/drivers_probe 0000:01:00.0
write /sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1/driver_override vfio-pci
write /sys/bus/pci/drivers/snd_hda_intel/unbind 0000:01:00.1
write /sys/bus/pci/drivers_probe 0000:01:00.1
WANT
expect_same "$WORK/out" "$WORK/want"
state after; expect_same "$WORK/before.json" "$WORK/after.json"
[ ! -e "$WORK/root/run/hostdev" ] && ok || not_ok "--dry-run created the journal directory"

# Blocked: exit 2, the reason named, nothing written.
expect_rc 2 "$HOSTDEV" detach --root "$WORK/root" --dry-run 00:1f.3
expect_grep 'lpc_ich' "$WORK/err"
expect_rc 2 "$HOSTDEV" detach --root "$WORK/root" 00:1f.3
state after; expect_same "$WORK/before.json" "$WORK/after.json"

# A real detach that never lands (nothing reacts): bounded, rolled back, exact.
expect_rc 1 "$HOSTDEV" detach --root "$WORK/root" 01:00.0
expect_grep 'step 4 \(wait for vfio-pci\)' "$WORK/err"
expect_grep 'rolled back: every device is on its original driver' "$WORK/err"
state after; expect_same "$WORK/before.json" "$WORK/after.json"
expect_rc 0 "$HOSTDEV" status --root "$WORK/root"
expect_grep 'no devices are held' "$WORK/out"

# Nothing to reattach or recover; usage errors.
expect_rc 1 "$HOSTDEV" reattach --root "$WORK/root" 01:00.0
expect_grep 'no journal holds it' "$WORK/err"
expect_rc 0 "$HOSTDEV" recover --root "$WORK/root"
expect_grep 'nothing to recover' "$WORK/out"
expect_rc 64 "$HOSTDEV" detach --root "$WORK/root"
expect_rc 64 "$HOSTDEV" detach --root "$WORK/root" 01:00.9
# (the Z170 example's GPU is not on this small host)
expect_rc 2 "$HOSTDEV" detach --root "$WORK/root" --dry-run --domain "$SRC/examples/domains/win10-gtx970.xml"
expect_grep '0000:02:00.0 is not on this host' "$WORK/err"

finish
