#!/usr/bin/env bash
# Device pins through every front on the example workstation before and
# after its buses were renumbered (examples/hosts/src/workstation*.spec):
# hostdev-fix on the live-style root, on a snapshot and with --check,
# --relocate and --repin, hostdev detach --domain and boot-config. Nothing is
# written for a drifted domain.
. "$(dirname "$0")/lib.sh"

HS=$SRC/examples/hosts/src
D=$SRC/examples/domains
"$FAKEROOT" "$HS/workstation.spec" "$WORK/before" || { echo "cannot build fake root"; exit 1; }
"$FAKEROOT" "$HS/workstation-renumbered.spec" "$WORK/after" || { echo "cannot build fake root"; exit 1; }
"$HOSTDEV" snapshot --root "$WORK/after" -o "$WORK/after.json" || { echo "cannot snapshot"; exit 1; }
printf 'wait_timeout_ms = 100\nlock_timeout_ms = 2000\n' >"$WORK/hostdev.conf"
export HOSTDEV_CONFIG=$WORK/hostdev.conf
state() { "$HOSTDEV" groups --root "$WORK/after" --format json >"$WORK/$1.json" 2>/dev/null; }

# Pinned on the host it was made for: exit 0, the pin recorded, a second run the same.
expect_rc 0 "$HOSTDEV_FIX" --root "$WORK/before" -o "$WORK/pinned.xml" "$D/router-i210.xml"
expect_grep '<hostdev:device address="0000:03:00.0" vendor="0x8086" device="0x1533" .*slot-path="0000:00/1d.0/00.0" dsn="a0-36-9f-ff-ff-5c-71-0e" mac="a0:36:9f:5c:71:0e"/>' "$WORK/pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --check --root "$WORK/before" "$WORK/pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --format json --root "$WORK/before" "$D/router-i210.xml"
[ "$(jq -r '[.files[0].status, (.files[0].changes[].kind)] | join(" ")' "$WORK/out")" = "ok pin" ] &&
  ok || not_ok "report of a pin-only change: $(jq -c '.files[0] | [.status, [.changes[].kind]]' "$WORK/out")"

# After the renumbering: blocked from the root, the snapshot and --check alike.
for src in "--root $WORK/after" "--host $WORK/after.json"; do
  # shellcheck disable=SC2086
  expect_rc 2 "$HOSTDEV_FIX" $src "$WORK/pinned.xml"
  expect_grep '0000:03:00.0 is not the device the domain was made for' "$WORK/err"
  expect_grep 'what is there now is 0000:03:00.0 \(Non-Volatile memory controller.*\), the controller of the root filesystem' "$WORK/err"
  expect_grep 'fields that differ: vendor 8086 -> 144d, device 1533 -> a808' "$WORK/err"
  expect_grep 'the pinned device \(same serial\) is now at 0000:04:00.0, at the pinned slot path: the buses were renumbered' "$WORK/err"
  [ -s "$WORK/out" ] && not_ok "a blocked domain printed XML" || ok
done
expect_rc 2 "$HOSTDEV_FIX" --check --root "$WORK/after" "$WORK/pinned.xml"
cp "$WORK/pinned.xml" "$WORK/inplace.xml"
expect_rc 2 "$HOSTDEV_FIX" --in-place --root "$WORK/after" "$WORK/inplace.xml"
expect_same "$WORK/inplace.xml" "$WORK/pinned.xml"
expect_rc 2 "$HOSTDEV_FIX" --format json --root "$WORK/after" "$WORK/pinned.xml"
[ "$(jq -r '.files[0].status + " " + (.files[0].problems[0].device // "")' "$WORK/out")" = "blocked 0000:03:00.0" ] &&
  ok || not_ok "JSON of a drifted domain: $(head -c 300 "$WORK/out")"

# A snapshot without serials (as an older one, or one taken without root):
# the serial is not compared, which is said, and is no mismatch.
"$HOSTDEV" snapshot --root "$WORK/before" -o "$WORK/before-snap.json" || not_ok "cannot snapshot"
jq '.devices |= map(del(.serials))' "$WORK/before-snap.json" >"$WORK/before-old.json"
expect_rc 0 "$HOSTDEV_FIX" --check --host "$WORK/before-old.json" "$WORK/pinned.xml"
expect_grep 'note: 0000:03:00.0: the pinned serial not compared' "$WORK/err"
# Without the slot path either, the renumbered bus is still told by the ids.
jq '.devices |= map(del(.serials, .parent_bridges))' "$WORK/after.json" >"$WORK/after-old.json"
expect_rc 2 "$HOSTDEV_FIX" --host "$WORK/after-old.json" "$WORK/pinned.xml"
expect_grep 'fields that differ: vendor 8086 -> 144d' "$WORK/err"

# detach --domain and boot-config refuse it, writing nothing.
state before
expect_rc 2 "$HOSTDEV" detach --root "$WORK/after" --domain "$WORK/pinned.xml"
expect_grep 'not the device the domain was made for' "$WORK/err"
state after; expect_same "$WORK/before.json" "$WORK/after.json"
[ ! -e "$WORK/after/run/hostdev/3b8e2c71-4d5a-4f6b-8c9d-0e1f2a3b4c5d.json" ] && ok || not_ok "detach wrote a journal"
expect_rc 2 "$HOSTDEV" boot-config --root "$WORK/after" --domain "$WORK/pinned.xml"
expect_grep 'not the device the domain was made for' "$WORK/err"
# The same domain without its pin would hand the root filesystem's controller over.
expect_rc 2 "$HOSTDEV_FIX" --root "$WORK/after" "$D/router-i210.xml"
if grep -q 'not the device the domain was made for' "$WORK/err"; then not_ok "an unpinned domain drifted"; else ok; fi

# --relocate follows the NIC to 04:00.0; the result is ok on the new host.
expect_rc 0 "$HOSTDEV_FIX" --relocate --diff --root "$WORK/after" "$WORK/pinned.xml"
expect_grep "^-        <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>" "$WORK/out"
expect_grep "^\+        <address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>" "$WORK/out"
expect_grep '^\+      <hostdev:device address="0000:04:00.0"' "$WORK/out"
expect_grep 'change: move 0000:03:00.0 to 0000:04:00.0' "$WORK/err"
expect_rc 1 "$HOSTDEV_FIX" --relocate --check --root "$WORK/after" "$WORK/pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --relocate --root "$WORK/after" -o "$WORK/relocated.xml" "$WORK/pinned.xml"
expect_rc 0 "$HOSTDEV_FIX" --check --root "$WORK/after" "$WORK/relocated.xml"
expect_rc 0 "$HOSTDEV" detach --root "$WORK/after" --domain "$WORK/relocated.xml" --dry-run
expect_grep '0000:04:00.0' "$WORK/out"
expect_rc 0 "$HOSTDEV_FIX" --relocate --format json --root "$WORK/after" "$WORK/pinned.xml"
[ "$(jq -r '[.files[0].status, (.files[0].changes[].kind)] | join(" ")' "$WORK/out")" = "fixable relocate" ] &&
  ok || not_ok "report of a relocation: $(jq -c '.files[0] | [.status, [.changes[].kind]]' "$WORK/out")"

# --repin accepts the device now at the address (here: the wrong one, on
# purpose, to see that it says what changed); --relocate and --repin exclude
# each other; --pin takes auto or never.
expect_rc 2 "$HOSTDEV_FIX" --repin --root "$WORK/after" "$WORK/pinned.xml"  # the NVMe holds the root filesystem
expect_grep 'controller of the root filesystem' "$WORK/err"
expect_rc 3 "$HOSTDEV_FIX" --repin --relocate --root "$WORK/after" "$WORK/pinned.xml"
expect_rc 3 "$HOSTDEV_FIX" --pin sometimes --root "$WORK/after" "$WORK/pinned.xml"
sed 's/device="0x1533"/device="0x1539"/' "$WORK/relocated.xml" >"$WORK/other-model.xml"
expect_rc 2 "$HOSTDEV_FIX" --root "$WORK/after" "$WORK/other-model.xml"
expect_rc 0 "$HOSTDEV_FIX" --repin --root "$WORK/after" "$WORK/other-model.xml"
expect_grep 'change: repin 0000:04:00.0 to the device there now, .*: device 1539 -> 1533' "$WORK/err"
expect_same "$WORK/out" "$WORK/relocated.xml"

finish
