# Helpers for the command-line tests: each test gets a fresh work directory,
# removed at exit, and counts its checks.
set -uo pipefail
BUILD=${1:?build dir}
SRC=${2:?source dir}
HOSTDEV=$BUILD/cli/hostdev
HOSTDEV_FIX=$BUILD/cli/hostdev-fix
FAKEROOT=$BUILD/tests/support/hostdev-fakeroot
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-cli-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
not_ok() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect_rc WANT CMD...: runs CMD, stdout to $WORK/out, stderr to $WORK/err.
expect_rc() {
  local want=$1; shift
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then ok; else not_ok "exit $rc (wanted $want): $*"; sed 's/^/  stderr: /' "$WORK/err" | head -5 >&2; fi
}
expect_grep() {  # expect_grep PATTERN FILE
  if grep -qE -- "$1" "$2"; then ok; else not_ok "no /$1/ in $(basename "$2")"; head -5 "$2" | sed 's/^/  /' >&2; fi
}
expect_same() {  # expect_same A B
  if cmp -s "$1" "$2"; then ok; else not_ok "$1 and $2 differ"; diff "$1" "$2" | head -10 >&2; fi
}
finish() {
  echo; echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
