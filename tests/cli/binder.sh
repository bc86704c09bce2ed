#!/usr/bin/env bash
# hostdev detach/reattach/status/recover on a fake root. Plain files do not
# react like the kernel, so a real detach here times out and must roll back
# to exactly the state before; --dry-run and refusals change nothing. Then:
# unreadable journals (reported by name, blocking only what they could hold,
# retired by hand) and links planted in a root that lead outside it.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/host.spec" <<'SPEC'
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
dev 00:1f.0 8086:a145 0x060100 group=4 driver=lpc_ich
dev 00:1f.3 8086:a170 0x040300 group=4 driver=snd_hda_intel
dev 00:1f.6 8086:15b8 0x020000 group=5 driver=e1000e
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

# ---- Unreadable journals: named, blocking only what they could hold.
J=$WORK/root/run/hostdev
mkdir -p "$J"
printf '{"format": null, "devices": [{"address": "0000:01:00.0"}]}\n' >"$J/broken.json"
mkfifo "$J/fifo.json"
ln -s /etc/passwd "$J/link.json"
expect_rc 1 "$HOSTDEV" status --root "$WORK/root"   # a FIFO must not hang it
expect_grep "^unreadable journal $J/broken.json: .*format: missing" "$WORK/out"
expect_grep '^  names 0000:01:00.0, now on nouveau$' "$WORK/out"
expect_grep "unreadable journal $J/fifo.json: .*is a FIFO" "$WORK/out"
expect_grep "unreadable journal $J/link.json: .*is a symbolic link" "$WORK/out"
expect_grep "hostdev recover --retire $J/broken.json" "$WORK/err"
expect_rc 1 "$HOSTDEV" status --root "$WORK/root" --format json
expect_grep '"path": ".*/broken.json"' "$WORK/out"
expect_grep '"current_driver": "nouveau"' "$WORK/out"
# The group the broken journal names is refused; another group is not.
expect_rc 2 "$HOSTDEV" detach --root "$WORK/root" 01:00.0
expect_grep "may be held by a journal that cannot be read: $J/broken.json" "$WORK/err"
expect_rc 0 "$HOSTDEV" detach --root "$WORK/root" --dry-run 00:1f.6
expect_grep 'write /sys/bus/pci/drivers/e1000e/unbind 0000:00:1f.6' "$WORK/out"
# recover handles the rest and names each unreadable journal on stderr.
expect_rc 1 "$HOSTDEV" recover --root "$WORK/root"
expect_grep 'nothing to recover' "$WORK/out"
expect_grep "error: $J/fifo.json is not a readable journal" "$WORK/err"
# Retiring: only an unreadable journal, in the journal directory, after saying what it names.
expect_rc 1 "$HOSTDEV" recover --root "$WORK/root" --retire "$WORK/hostdev.conf"
expect_grep 'is not in the journal directory' "$WORK/err"
expect_rc 0 "$HOSTDEV" recover --root "$WORK/root" --retire "$J/broken.json"
expect_grep '^  names 0000:01:00.0, now on nouveau$' "$WORK/out"
expect_grep "^retired: $J/broken.json.retired " "$WORK/out"
expect_rc 0 "$HOSTDEV" recover --root "$WORK/root" --retire fifo.json
expect_rc 0 "$HOSTDEV" recover --root "$WORK/root" --retire /run/hostdev/link.json
expect_rc 0 "$HOSTDEV" status --root "$WORK/root"
expect_grep 'no devices are held' "$WORK/out"
if [ -e "$J/broken.json.retired" ] && [ -p "$J/fifo.json.retired" ] && [ -L "$J/link.json.retired" ]; then ok
else not_ok "the retired journals are not there"; fi
rm -rf "$J"

# ---- --root is a boundary: links planted in a copied root that lead out of it.
BOX=$WORK/box
mkdir -p "$BOX"
"$FAKEROOT" "$WORK/host.spec" "$BOX/root" || { echo "cannot build fake root"; exit 1; }
echo untouched >"$BOX/outside"
echo untouched >"$BOX/unbind"
# An absolute link (to a file beside the root) and a ".." link climbing out of it.
ln -sf "$BOX/outside" "$BOX/root/sys/bus/pci/drivers/e1000e/unbind"
rm -rf "$BOX/root/sys/bus/pci/drivers/nouveau"
ln -s ../../../../.. "$BOX/root/sys/bus/pci/drivers/nouveau"
box_state() { (cd "$BOX" && find . -path ./root -prune -o -printf '%p %y %s\n' | LC_ALL=C sort; cat outside unbind); }
box_state >"$WORK/box.before"
# Inside the root the links lead to ROOT/... (missing) and to ROOT/unbind: that is what --dry-run shows.
expect_rc 0 "$HOSTDEV" detach --root "$BOX/root" --dry-run 00:1f.6 01:00.0
expect_grep '^write /sys/bus/pci/drivers/e1000e/unbind 0000:00:1f.6$' "$WORK/out"
expect_grep '^write /unbind 0000:01:00.0$' "$WORK/out"
expect_rc 1 "$HOSTDEV" detach --root "$BOX/root" 00:1f.6
expect_grep 'step 2 \(unbind from e1000e\).*No such file' "$WORK/err"
expect_grep 'rolled back' "$WORK/err"
expect_rc 1 "$HOSTDEV" detach --root "$BOX/root" 01:00.0
expect_grep 'step 2 \(unbind from nouveau\)' "$WORK/err"
printf 'root = %s\nwait_timeout_ms = 100\nlock_timeout_ms = 2000\n' "$BOX/root" >"$WORK/box.conf"
for addr in "bus='0x00' slot='0x1f' function='0x6'" "bus='0x01' slot='0x00' function='0x0'"; do
  cat >"$WORK/box.xml" <<EOF
<domain type='kvm'><name>boxed</name><uuid>0b7a0f6e-2c41-4f0e-8d51-6a3b9e27c5d8</uuid>
  <devices><hostdev mode='subsystem' type='pci' managed='yes'>
    <source><address domain='0x0000' $addr/></source></hostdev></devices></domain>
EOF
  HOSTDEV_CONFIG=$WORK/box.conf expect_rc 1 "$BUILD/hooks/hostdev-hook" boxed prepare begin - <"$WORK/box.xml"
  expect_grep 'rolled back' "$WORK/err"
done
box_state >"$WORK/box.after"
expect_same "$WORK/box.before" "$WORK/box.after"

finish
