# shellcheck shell=bash
# The tally of the shell suites that print every check (tests/libvirtd,
# tests/package): sourced after setting CHECKS_NAME, the prefix of die's line.
#   ok WHAT / not_ok WHAT   one check passed / failed
#   die WHY                 stop here: the reason and the tally, exit 1
#   step WHAT               a heading
#   checks_end              the tally; exit status 0 only when all passed
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
die() { echo "${CHECKS_NAME:-$(basename "$0")}: $*" >&2; echo; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
step() { echo "== $*"; }
checks_end() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
