#!/usr/bin/env bash
# Check 2 of the kernel suite, on the host: the snapshot the guest took of
# itself is copied out of its serial log, and `hostdev-fix --host SNAPSHOT`
# completes a domain that requests only 00:06.0 of the multifunction
# virtio-net pair by injecting 00:06.1.
#
#   tests/kernel/check-fix.sh BUILD_DIR SOURCE_DIR OUT_DIR
#
# Passes when: the snapshot decodes and is a hostdev snapshot with 00:06.0 and
# 00:06.1 in one group; hostdev-fix exits 0 and reports exactly three changes,
# inject-hostdev 0000:00:06.1 and the pins of both functions (README "Device
# pins"); the fixed XML holds its <hostdev>; a second run on the fixed XML
# finds nothing to change; and the result is byte for byte what hostdev-fix
# produced inside the guest on the live sysfs.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: check-fix.sh BUILD_DIR SOURCE_DIR OUT_DIR}
SRC=${2:?usage: check-fix.sh BUILD_DIR SOURCE_DIR OUT_DIR}
OUT=${3:?usage: check-fix.sh BUILD_DIR SOURCE_DIR OUT_DIR}
FIX=$BUILD/cli/hostdev-fix
RESULTS=$OUT/results.log
DOMAIN=$SRC/tests/kernel/domains/virtio-pair.xml
[ -f "$RESULTS" ] || kernel_die "no $RESULTS: the guest did not boot (see kernel.boot)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-kernel-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failed=0
fail() { failed=1; echo "FAIL: $*" >&2; }
info() { echo "$*"; }

tr -d '\r' <"$RESULTS" | awk '$1 == "HOSTDEV-INFO" && $2 == "2"' | cut -d' ' -f3-
SNAP=$WORK/guest-snapshot.json
if ! decoded_block snapshot "$RESULTS" >"$SNAP" 2>"$WORK/err" || [ ! -s "$SNAP" ]; then
  echo "FAIL: no snapshot in the guest's log" >&2
  exit 1
fi
cp "$SNAP" "$OUT/guest-snapshot.json"
info "snapshot copied out: $(wc -c <"$SNAP") bytes (also in $OUT/guest-snapshot.json)"
[ "$(jq -r .format "$SNAP")" = hostdev-snapshot ] || fail "not a hostdev snapshot"
g0=$(jq -r '.. | objects | select(.address? == "0000:00:06.0") | .iommu_group' "$SNAP" | head -n 1)
g1=$(jq -r '.. | objects | select(.address? == "0000:00:06.1") | .iommu_group' "$SNAP" | head -n 1)
info "snapshot: 0000:00:06.0 in group $g0, 0000:00:06.1 in group $g1"
[ -n "$g0" ] && [ "$g0" != null ] && [ "$g0" = "$g1" ] || fail "the snapshot does not hold the pair in one group"

"$FIX" --host "$SNAP" --format json -o "$WORK/fixed.xml" "$DOMAIN" >"$WORK/report.json" 2>"$WORK/err"
rc=$?
info "hostdev-fix --host SNAPSHOT --format json -o fixed.xml virtio-pair.xml -> exit $rc"
[ "$rc" -eq 0 ] || { fail "hostdev-fix exited $rc"; cat "$WORK/err" "$WORK/report.json" >&2; }
changes=$(jq -c '[.files[0].changes[] | {kind, device}]' "$WORK/report.json" 2>/dev/null)
info "changes: $changes"
[ "$changes" = '[{"kind":"inject-hostdev","device":"0000:00:06.1"},{"kind":"pin","device":"0000:00:06.0"},{"kind":"pin","device":"0000:00:06.1"}]' ] \
  || fail "expected exactly inject-hostdev 0000:00:06.1, pin 0000:00:06.0 and pin 0000:00:06.1"
verdict=$(jq -r '.files[0].groups[].members[] | select(.address == "0000:00:06.1") | .verdict' "$WORK/report.json" 2>/dev/null)
[ "$verdict" = injected ] || fail "0000:00:06.1's verdict is '$verdict', expected injected"
if grep -q "<address domain='0x0000' bus='0x00' slot='0x06' function='0x1'/>" "$WORK/fixed.xml" 2>/dev/null; then
  info "fixed.xml holds a <hostdev> for 0000:00:06.1"
else
  fail "fixed.xml has no <hostdev> for 0000:00:06.1"
fi
"$FIX" --host "$SNAP" --check -q "$WORK/fixed.xml" >/dev/null 2>"$WORK/err"
rc=$?
[ "$rc" -eq 0 ] || fail "hostdev-fix --check on the fixed domain exited $rc: $(cat "$WORK/err")"
if decoded_block fixed-pair "$RESULTS" >"$WORK/guest-fixed.xml" 2>/dev/null && [ -s "$WORK/guest-fixed.xml" ]; then
  if cmp -s "$WORK/fixed.xml" "$WORK/guest-fixed.xml"; then info "identical to the guest's own fix on its live sysfs"
  else fail "differs from the guest's own fix on its live sysfs"; diff "$WORK/guest-fixed.xml" "$WORK/fixed.xml" >&2; fi
else
  fail "the guest's own fix is missing from its log"
fi
if [ "$failed" -eq 0 ]; then echo "PASS: hostdev-fix --host with the guest's snapshot injected 0000:00:06.1"; fi
exit "$failed"
