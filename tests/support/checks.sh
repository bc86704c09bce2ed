# shellcheck shell=bash
# What the shell suites that run a real libvirtd (tests/libvirtd,
# tests/package) share: the tally of checks, each printed, and the test
# domain. Sourced after setting CHECKS_NAME, the prefix of die's line.
#   ok WHAT / not_ok WHAT   one check passed / failed
#   die WHY                 stop here: the reason and the tally, exit 1
#   step WHAT               a heading
#   checks_end              the tally; exit status 0 only when all passed
#   test_domain NAME [ADDR] the test domain's XML (below)
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
die() { echo "${CHECKS_NAME:-$(basename "$0")}: $*" >&2; echo; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
step() { echo "== $*"; }
checks_end() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# test_domain NAME [DDDD:BB:SS.F]: a 64 MiB TCG domain without disk, with one
# unmanaged PCI hostdev when an address is given (libvirt itself never
# touches an unmanaged device).
test_domain() {
  local hostdev=""
  if [ -n "${2:-}" ]; then
    local dom bus slot fn
    IFS=':.' read -r dom bus slot fn <<<"$2"
    hostdev="    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x$dom' bus='0x$bus' slot='0x$slot' function='0x$fn'/></source>
    </hostdev>"
  fi
  cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <memballoon model='none'/>
$hostdev
  </devices>
</domain>
EOF
}
