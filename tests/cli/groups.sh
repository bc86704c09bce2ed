#!/usr/bin/env bash
# hostdev groups / snapshot from the command line: --root and --host agree,
# bad input is explained, exit codes hold.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/host.spec" <<'SPEC'
host cmdline="ro intel_iommu=on"
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau rev=a1
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel rev=a1
dev 00:17.0 8086:a102 0x010601 group=4 driver=ahci role=root-fs
SPEC
"$FAKEROOT" "$WORK/host.spec" "$WORK/root" || { echo "cannot build fake root"; exit 1; }

# Snapshot then --host gives identical JSON, text and dot.
expect_rc 0 "$HOSTDEV" snapshot --root "$WORK/root" -o "$WORK/snap.json"
for fmt in json text dot; do
  expect_rc 0 "$HOSTDEV" groups --root "$WORK/root" --format $fmt; cp "$WORK/out" "$WORK/root.$fmt"
  expect_rc 0 "$HOSTDEV" groups --host "$WORK/snap.json" --format $fmt; cp "$WORK/out" "$WORK/host.$fmt"
  expect_same "$WORK/root.$fmt" "$WORK/host.$fmt"
done
expect_grep '"group": 1' "$WORK/root.json"
expect_grep '"address": "0000:01:00.1"' "$WORK/root.json"
expect_grep '"driver": "snd_hda_intel"' "$WORK/root.json"
expect_grep '^  01:00.0 VGA compatible controller \[0300\]: NVIDIA Corporation GM204 \[GeForce GTX 970\] \[10de:13c2\] \(rev a1\)$' "$WORK/root.text"
expect_grep 'subgraph cluster_group_1' "$WORK/root.dot"

# Snapshot to stdout equals the file.
expect_rc 0 "$HOSTDEV" snapshot --root "$WORK/root"
expect_same "$WORK/out" "$WORK/snap.json"

# Errors: both sources, missing dirs, not a snapshot, not a root, bad format.
expect_rc 64 "$HOSTDEV" groups --root "$WORK/root" --host "$WORK/snap.json"
expect_grep 'excludes' "$WORK/err"
expect_rc 64 "$HOSTDEV" groups --root "$WORK/nonexistent"
expect_rc 64 "$HOSTDEV" groups --format yaml --root "$WORK/root"
echo '{"hello": 1}' >"$WORK/other.json"
expect_rc 1 "$HOSTDEV" groups --host "$WORK/other.json"
expect_grep 'not a hostdev snapshot' "$WORK/err"
mkdir -p "$WORK/empty"
expect_rc 1 "$HOSTDEV" groups --root "$WORK/empty"
expect_grep 'no PCI devices directory' "$WORK/err"
expect_rc 64 "$HOSTDEV"
expect_rc 0 "$HOSTDEV" groups --help
expect_grep "format" "$WORK/out"

# No IOMMU: the listing says what to enable, and where.
printf 'host iommu=none cpu=AuthenticAMD\ndev 00:02.0 1002:67df 0x030000 driver=amdgpu\n' >"$WORK/noiommu.spec"
"$FAKEROOT" "$WORK/noiommu.spec" "$WORK/noiommu"
expect_rc 0 "$HOSTDEV" groups --root "$WORK/noiommu"
expect_grep 'AMD-Vi' "$WORK/out"
expect_grep 'amd_iommu=on' "$WORK/out"
expect_rc 0 "$HOSTDEV" groups --root "$WORK/noiommu" --format json
expect_grep 'amd_iommu=on' "$WORK/err"

# --root is a boundary: a copied tree whose links lead out of it (an absolute
# device link, a climbing attribute link, /proc/cmdline and
# /proc/self/mountinfo as links) gives values from inside it or problems;
# the sentinel outside is never read.
mkdir -p "$WORK/outside/dev"
printf '0xbeef\n' >"$WORK/outside/dev/vendor"
printf '0xbeef\n' >"$WORK/outside/dev/device"
printf '0x0c0330\n' >"$WORK/outside/dev/class"
{ printf '\357\276\357\276'; head -c 60 /dev/zero; } >"$WORK/outside/dev/config"  # vendor and device 0xbeef
echo 'SENTINEL-OUTSIDE intel_iommu=on' >"$WORK/outside/cmdline"
echo '22 1 8:2 / / rw - ext4 /dev/sda2 rw SENTINEL-OUTSIDE' >"$WORK/outside/mountinfo"
cp -a "$WORK/root" "$WORK/copied"
C=$WORK/copied
up=$(printf '../%.0s' $(seq 24))
ln -s "$WORK/outside/dev" "$C/sys/bus/pci/devices/0000:07:00.0"
gpu=$(cd "$C/sys/bus/pci/devices/0000:01:00.0" && pwd -P)
rm "$gpu/vendor" "$gpu/config"
ln -s "$up${WORK#/}/outside/dev/vendor" "$gpu/vendor"
ln -s "$WORK/outside/dev/config" "$gpu/config"
rm "$C/proc/cmdline" "$C/proc/self/mountinfo"
ln -s "$WORK/outside/cmdline" "$C/proc/cmdline"
ln -s "$up${WORK#/}/outside/mountinfo" "$C/proc/self/mountinfo"
expect_rc 0 "$HOSTDEV" groups --root "$C" --format json
cp "$WORK/out" "$WORK/copied.json"
if grep -Eq 'beef|SENTINEL' "$WORK/copied.json" "$WORK/err"; then not_ok "groups read outside the root"; else ok; fi
jq -e '[.groups[].devices[], .ungrouped[]? | select(.address == "0000:07:00.0")] | length == 1' "$WORK/copied.json" >/dev/null \
  && ok || not_ok "the device behind an escaping link is not listed"
expect_rc 0 "$HOSTDEV" groups --root "$C"
expect_grep 'device directory is missing' "$WORK/out"
if grep -Eq 'beef|SENTINEL' "$WORK/out"; then not_ok "groups text read outside the root"; else ok; fi
expect_rc 0 "$HOSTDEV" snapshot --root "$C"
if grep -Eq 'beef|SENTINEL' "$WORK/out" "$WORK/err"; then not_ok "snapshot read outside the root"; else ok; fi
expect_grep '"cmdline": ""' "$WORK/out"

# -o respects what is there; a failed write names the path and errno, exit 1.
mknod "$WORK/null" c 1 3
mknod "$WORK/full" c 1 7
expect_rc 0 "$HOSTDEV" groups --root "$WORK/root" -o "$WORK/null"
[ -c "$WORK/null" ] && ok || not_ok "groups -o replaced a character device"
expect_rc 1 "$HOSTDEV" groups --root "$WORK/root" -o "$WORK/full"
expect_grep "$WORK/full: No space left on device" "$WORK/err"
expect_rc 1 "$HOSTDEV" snapshot --root "$WORK/root" -o "$WORK/full"
"$HOSTDEV" snapshot --root "$WORK/root" >/dev/full 2>"$WORK/err"
rc=$?; [ "$rc" -eq 1 ] && ok || not_ok "snapshot to a full stdout exited $rc, wanted 1"
expect_grep 'cannot write to standard output: No space left on device' "$WORK/err"
cp "$WORK/snap.json" "$WORK/snap-real.json"
ln -s snap-real.json "$WORK/snap-link.json"
expect_rc 0 "$HOSTDEV" snapshot --root "$WORK/root" -o "$WORK/snap-link.json"
[ -L "$WORK/snap-link.json" ] && ok || not_ok "snapshot -o replaced the link"
expect_same "$WORK/snap-real.json" "$WORK/snap.json"
# A snapshot from a process substitution.
expect_rc 0 "$HOSTDEV" groups --host <(cat "$WORK/snap.json") --format json
expect_same "$WORK/out" "$WORK/root.json"

finish
