#!/usr/bin/env bash
# hostdev-fix from the command line: every exit code, what is written where,
# --in-place, --diff, -o, JSON report, several files in one run.
. "$(dirname "$0")/lib.sh"

Z=$SRC/examples/hosts/z170-gtx970.json
L=$SRC/examples/hosts/hm170-laptop.json
D=$SRC/examples/domains
cp "$D"/*.xml "$WORK/"

# 0: nothing to change; with --pin never the document comes back unchanged on stdout.
expect_rc 0 "$HOSTDEV_FIX" --host "$L" --pin never "$WORK/nvme.xml"
expect_same "$WORK/out" "$D/nvme.xml"
expect_grep 'ok, nothing to change' "$WORK/err"
# By default the device is pinned in <metadata>: still ok (--check passes),
# and the pinned output changes nothing in a second run.
expect_rc 0 "$HOSTDEV_FIX" --host "$L" "$WORK/nvme.xml"
expect_grep '<hostdev:device address="0000:3d:00.0" vendor="0x144d"' "$WORK/out"
expect_grep 'ok, nothing to change but the device pins' "$WORK/err"
cp "$WORK/out" "$WORK/nvme-pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --host "$L" "$WORK/nvme-pinned.xml"
expect_same "$WORK/out" "$WORK/nvme-pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --check --host "$L" "$WORK/nvme.xml"

# 0: fixed XML on stdout, explanation on stderr.
expect_rc 0 "$HOSTDEV_FIX" --host "$Z" "$WORK/win10-gtx970.xml"
expect_grep "function='0x1'" "$WORK/out"
expect_grep "<hidden state='on'/>" "$WORK/out"
expect_grep 'change: add <hostdev> for 0000:02:00.1' "$WORK/err"
cp "$WORK/out" "$WORK/fixed.xml"
expect_same "$WORK/win10-gtx970.xml" "$D/win10-gtx970.xml"   # input untouched

# 1: --check finds changes, writes nothing.
expect_rc 1 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/win10-gtx970.xml"
if [ -s "$WORK/out" ]; then not_ok "--check printed on stdout"; else ok; fi
# A second run on the fixed output has nothing left to do.
expect_rc 0 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/fixed.xml"

# 2: blocked: nothing on stdout, -o not created.
expect_rc 2 "$HOSTDEV_FIX" --host "$Z" -o "$WORK/never.xml" "$WORK/blocked-hda.xml"
if [ -s "$WORK/out" ] || [ -e "$WORK/never.xml" ]; then not_ok "blocked wrote something"; else ok; fi
expect_grep 'lpc_ich' "$WORK/err"
expect_grep 'blocked, nothing written' "$WORK/err"
# A device the host does not have is blocked too.
expect_rc 2 "$HOSTDEV_FIX" --host "$Z" "$WORK/nvme.xml"
expect_grep '0000:3d:00.0 is not on this host' "$WORK/err"
# So is a device the host needs (the keyboard's USB controller on the Z170).
expect_rc 2 "$HOSTDEV_FIX" --host "$Z" "$WORK/usb-xhci.xml"
expect_grep 'host keyboard' "$WORK/err"

# Hostdev networks (--network, repeatable, FIFOs too): a domain on a network
# that is not given gets a note; a NAT network says nothing; a pool device in a
# group the host needs blocks; a viable pool does not.
expect_rc 1 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/win10-gtx970.xml"
expect_grep "note: network 'default' \(interface on line 50\) not given: its pool was not checked; pass --network" "$WORK/err"
printf "<network><name>default</name><forward mode='nat'/></network>\n" >"$WORK/default-net.xml"
expect_rc 1 "$HOSTDEV_FIX" --check --host "$Z" --network "$WORK/default-net.xml" "$WORK/win10-gtx970.xml"
if grep -q "not given" "$WORK/err"; then not_ok "a given network was reported as not given"; else ok; fi
sed "s/network='default'/network='pool'/" "$D/win10-gtx970.xml" >"$WORK/on-pool.xml"
cat >"$WORK/pool-bad.xml" <<'XML'
<network>
  <name>pool</name>
  <forward mode='hostdev' managed='yes'>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x3'/>
  </forward>
</network>
XML
sed "s/bus='0x00' slot='0x1f' function='0x3'/bus='0x03' slot='0x00' function='0x0'/" "$WORK/pool-bad.xml" >"$WORK/pool-ok.xml"
expect_rc 2 "$HOSTDEV_FIX" --host "$Z" --network "$WORK/pool-bad.xml" "$WORK/on-pool.xml"
if [ -s "$WORK/out" ]; then not_ok "a blocked pool wrote the document"; else ok; fi
expect_grep "error: 0000:00:1f.3 .* in the pool of network 'pool' shares IOMMU group 10 with 0000:00:1f.0 .*lpc_ich" "$WORK/err"
expect_rc 1 "$HOSTDEV_FIX" --check --host "$Z" --network "$WORK/default-net.xml" --network <(cat "$WORK/pool-ok.xml") \
  "$WORK/on-pool.xml"
if grep -q "pool of network" "$WORK/err"; then not_ok "a viable pool was reported"; else ok; fi
expect_rc 2 "$HOSTDEV_FIX" --check --host "$Z" --format json --network "$WORK/pool-bad.xml" "$WORK/on-pool.xml"
expect_grep '"status": "blocked"' "$WORK/out"
# A network file that cannot be read or is not a network: invalid input.
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --network "$WORK/no-such-net.xml" "$WORK/nvme.xml"
expect_grep 'cannot read network definition' "$WORK/err"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --network "$D/nvme.xml" "$WORK/nvme.xml"
expect_grep 'not <network>: this is not a libvirt network definition' "$WORK/err"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --network "$WORK/default-net.xml" --network "$WORK/default-net.xml" "$WORK/nvme.xml"
expect_grep "network 'default' is given twice" "$WORK/err"

# 3: invalid input of every kind.
echo 'not xml at all' >"$WORK/junk.xml"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" "$WORK/junk.xml"
expect_grep 'junk.xml' "$WORK/err"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" "$WORK/does-not-exist.xml"
expect_grep 'does-not-exist.xml' "$WORK/err"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --hide-kvm sometimes "$WORK/nvme.xml"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --no-such-flag "$WORK/nvme.xml"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z"
sed 's/<vcpu>2<\/vcpu>/<vcpu>2<\/vcpu><bogus\/>/' "$WORK/nvme.xml" >"$WORK/schema-bad.xml"
expect_rc 3 "$HOSTDEV_FIX" --host "$L" "$WORK/schema-bad.xml"
expect_grep 'schema-bad.xml' "$WORK/err"
for f in "$SRC"/tests/data/hostile/*.xml; do
  expect_rc 3 "$HOSTDEV_FIX" --host "$Z" "$f"
  expect_grep "$(basename "$f")" "$WORK/err"
done
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" --schema-dir "$WORK" "$WORK/nvme.xml"
expect_grep 'domain.rng' "$WORK/err"

# Several files: the highest code wins; stdout XML needs exactly one file.
expect_rc 2 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/fixed.xml" "$WORK/win10-gtx970.xml" "$WORK/blocked-hda.xml"
expect_rc 3 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/win10-gtx970.xml" "$WORK/junk.xml"
expect_rc 1 "$HOSTDEV_FIX" --check --host "$Z" "$WORK/fixed.xml" "$WORK/win10-gtx970.xml"
expect_rc 3 "$HOSTDEV_FIX" --host "$Z" "$WORK/fixed.xml" "$WORK/win10-gtx970.xml"
expect_grep 'several input files' "$WORK/err"

# -o writes the fixed document; --diff shows the change.
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" -o "$WORK/out.xml" "$WORK/win10-gtx970.xml"
expect_same "$WORK/out.xml" "$WORK/fixed.xml"
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" --diff "$WORK/win10-gtx970.xml"
expect_grep "^\+      <hidden state='on'/>" "$WORK/out"
expect_grep "^\+        <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>" "$WORK/out"
expect_grep '^--- a/' "$WORK/out"

# --in-place: atomic rewrite, mode kept, nothing else left in the directory.
mkdir "$WORK/inplace"
cp "$WORK/win10-gtx970.xml" "$WORK/usb-xhci.xml" "$WORK/inplace/"
chmod 0640 "$WORK/inplace/win10-gtx970.xml"
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" --in-place "$WORK/inplace/win10-gtx970.xml"
expect_same "$WORK/inplace/win10-gtx970.xml" "$WORK/fixed.xml"
[ "$(stat -c %a "$WORK/inplace/win10-gtx970.xml")" = 640 ] && ok || not_ok "--in-place changed the mode"
[ "$(ls -A "$WORK/inplace" | wc -l)" = 2 ] && ok || not_ok "--in-place left files behind: $(ls -A "$WORK/inplace")"
# A blocked file is left exactly as it was.
cp "$WORK/blocked-hda.xml" "$WORK/inplace/"
expect_rc 2 "$HOSTDEV_FIX" -q --host "$Z" --in-place "$WORK/inplace/blocked-hda.xml"
expect_same "$WORK/inplace/blocked-hda.xml" "$D/blocked-hda.xml"

# JSON report for CI: one object per file under "files".
expect_rc 3 "$HOSTDEV_FIX" --check --host "$Z" --format json "$WORK/fixed.xml" "$WORK/win10-gtx970.xml" "$WORK/blocked-hda.xml" "$WORK/junk.xml"
cp "$WORK/out" "$WORK/report.json"
# The report's shape, checked with jq (a real JSON parser).
jq -e '
  (.files | map(.status)) == ["ok", "fixable", "blocked", "invalid"]
  and all(.files[]; has("file") and has("domain") and has("status") and has("groups") and has("changes") and has("problems"))
  and .files[1].domain == "win10-gaming"
  and ([.files[1].groups[].members[] | {(.address): .verdict}] | add) == {"0000:02:00.0": "covered", "0000:02:00.1": "injected"}
  and ([.files[1].changes[].kind] | sort) == ["hide-kvm", "inject-hostdev", "pin", "pin", "set-multifunction"]
  and any(.files[2].groups[].members[]; .verdict == "blocked" and (.reason | length) > 0)
  and .files[2].changes == []
  and .files[3].problems[0].severity == "error"
  and .exit_code == 3' "$WORK/report.json" >/dev/null && ok || not_ok "JSON report shape"

# Standard input.
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" - <"$WORK/win10-gtx970.xml"
expect_same "$WORK/out" "$WORK/fixed.xml"

# Files named on the command line may be FIFOs: a domain from a process
# substitution, a snapshot too.
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" <(cat "$WORK/win10-gtx970.xml")
expect_same "$WORK/out" "$WORK/fixed.xml"
expect_rc 0 "$HOSTDEV_FIX" -q --host <(cat "$Z") "$WORK/win10-gtx970.xml"
expect_same "$WORK/out" "$WORK/fixed.xml"

# Outputs respect what is at the path. Device nodes are made here: c 1 3 is
# a null device, c 1 7 a full one.
mkdir "$WORK/outs"
mknod "$WORK/outs/null" c 1 3
mknod "$WORK/outs/full" c 1 7
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" -o "$WORK/outs/null" "$WORK/win10-gtx970.xml"
[ -c "$WORK/outs/null" ] && ok || not_ok "-o replaced a character device"
# A full device or stdout: the path and errno, exit 4 (not 3, invalid input).
expect_rc 4 "$HOSTDEV_FIX" -q --host "$Z" -o "$WORK/outs/full" "$WORK/win10-gtx970.xml"
expect_grep "$WORK/outs/full: No space left on device" "$WORK/err"
[ -c "$WORK/outs/full" ] && ok || not_ok "-o replaced a character device"
# Our stdout (here the test's file) by name: written through the descriptor,
# never renamed over. (/dev/fd/1 rather than /dev/stdout: a broken writer
# could not replace it.)
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" -o /dev/fd/1 "$WORK/win10-gtx970.xml"
expect_same "$WORK/out" "$WORK/fixed.xml"
"$HOSTDEV_FIX" -q --host "$Z" "$WORK/win10-gtx970.xml" >/dev/full 2>"$WORK/err"
rc=$?; [ "$rc" -eq 4 ] && ok || not_ok "fixed XML to a full stdout exited $rc, wanted 4"
expect_grep 'cannot write to standard output: No space left on device' "$WORK/err"
"$HOSTDEV_FIX" --check --format json --host "$Z" "$WORK/win10-gtx970.xml" >/dev/full 2>"$WORK/err"
rc=$?; [ "$rc" -eq 4 ] && ok || not_ok "JSON report to a full stdout exited $rc, wanted 4"
# A FIFO is written to its reader.
mkfifo "$WORK/outs/fifo"
cat "$WORK/outs/fifo" >"$WORK/outs/from-fifo" &
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" -o "$WORK/outs/fifo" "$WORK/win10-gtx970.xml"
wait
expect_same "$WORK/outs/from-fifo" "$WORK/fixed.xml"
[ -p "$WORK/outs/fifo" ] && ok || not_ok "-o replaced a FIFO"
# A new file honours the umask; a stale temporary file of a killed run goes.
sh -c 'exit 0' & gone=$!; wait $gone
touch "$WORK/outs/.new.xml.tmp-$gone-1"
(umask 077; "$HOSTDEV_FIX" -q --host "$Z" -o "$WORK/outs/new.xml" "$WORK/win10-gtx970.xml") 2>"$WORK/err" && ok || not_ok "-o new.xml failed"
[ "$(stat -c %a "$WORK/outs/new.xml")" = 600 ] && ok || not_ok "a new file ignored the umask: $(stat -c %a "$WORK/outs/new.xml")"
[ ! -e "$WORK/outs/.new.xml.tmp-$gone-1" ] && ok || not_ok "a stale temporary file was left"
# --in-place on a link fixes its target; on another user's file keeps owner, group and mode.
mkdir "$WORK/linked"
cp "$WORK/win10-gtx970.xml" "$WORK/linked/real.xml"
ln -s real.xml "$WORK/linked/vm.xml"
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" --in-place "$WORK/linked/vm.xml"
[ -L "$WORK/linked/vm.xml" ] && ok || not_ok "--in-place replaced the link"
expect_same "$WORK/linked/real.xml" "$WORK/fixed.xml"
cp "$WORK/win10-gtx970.xml" "$WORK/linked/owned.xml"
chown 4321:8765 "$WORK/linked/owned.xml"
chmod 0604 "$WORK/linked/owned.xml"
expect_rc 0 "$HOSTDEV_FIX" -q --host "$Z" --in-place "$WORK/linked/owned.xml"
[ "$(stat -c '%u:%g %a' "$WORK/linked/owned.xml")" = "4321:8765 604" ] && ok \
  || not_ok "--in-place changed owner or mode: $(stat -c '%u:%g %a' "$WORK/linked/owned.xml")"
expect_same "$WORK/linked/owned.xml" "$WORK/fixed.xml"
# A read-only directory (for a user other than its owner): path and errno, 4, file unchanged.
mkdir "$WORK/ro" && cp "$WORK/win10-gtx970.xml" "$WORK/ro/vm.xml" && chmod 0666 "$WORK/ro/vm.xml"
chmod 0555 "$WORK/ro"
chmod o+x "$WORK" "$WORK/ro"
expect_rc 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$HOSTDEV_FIX" -q --host "$Z" --in-place "$WORK/ro/vm.xml"
expect_grep "$WORK/ro: Permission denied" "$WORK/err"
expect_same "$WORK/ro/vm.xml" "$WORK/win10-gtx970.xml"
chmod 0755 "$WORK/ro"

# Nothing escapes main: a snapshot whose "format" is a number (it used to
# abort) is invalid input, with a message.
echo '{"format": 1}' >"$WORK/format1.json"
expect_rc 3 "$HOSTDEV_FIX" --host "$WORK/format1.json" "$WORK/nvme.xml"
expect_grep '^hostdev-fix: error: ' "$WORK/err"

finish
