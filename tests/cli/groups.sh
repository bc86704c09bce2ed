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

finish
