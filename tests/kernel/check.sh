#!/usr/bin/env bash
# One check of the kernel suite, judged from the guest's result lines.
#
#   tests/kernel/check.sh OUT_DIR ID
#
# Prints the guest's details for check ID and its result line; exits 0 only
# when that line says PASS. A missing line (the guest stopped early, or never
# ran the check) is a failure.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=${1:?usage: check.sh OUT_DIR ID}
ID=${2:?usage: check.sh OUT_DIR ID}
RESULTS=$OUT/results.log
[ -f "$RESULTS" ] || kernel_die "no $RESULTS: the guest did not boot (see kernel.boot)"

tr -d '\r' <"$RESULTS" | awk -v id="$ID" '$1 == "HOSTDEV-INFO" && $2 == id' | cut -d' ' -f3-
line=$(tr -d '\r' <"$RESULTS" | awk -v id="$ID" '$1 == "HOSTDEV-RESULT" && $2 == id' | tail -n 1)
if [ -z "$line" ]; then
  echo "FAIL: the guest printed no result for check $ID" >&2
  exit 1
fi
echo "$line"
status=$(echo "$line" | cut -d' ' -f3)
[ "$status" = PASS ]
