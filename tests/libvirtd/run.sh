#!/usr/bin/env bash
# The hook under a real libvirtd (Debian 12, as root, no systemd needed).
#
#   tests/libvirtd/run.sh [--installed] BUILD_DIR SOURCE_DIR
#
# Installs what is missing (libvirt-daemon, its QEMU driver, virsh, QEMU;
# never libvirt-daemon-system), installs the built hook as
# /etc/libvirt/hooks/qemu.d/50-hostdev with /etc/hostdev/hostdev.conf whose
# root is a FAKE root (the example Z170 host), so the hook can never move one
# of this machine's devices, starts virtlogd and libvirtd, and checks (a) to
# (j) below.
#
# --installed: the same checks on what the Debian packages installed (ctest
# -L package runs it so): the installed hook, /usr/bin/hostdev, hostdev-fix
# and virt-hostdev, and the installed hostdev-recover.service; nothing is
# installed but the test's hostdev.conf over the installed conffile, which
# is put back byte for byte at exit. BUILD_DIR still gives hostdev-fakeroot.
#
#   (a) a TCG domain without hostdevs starts and stops, the hook being called
#       at prepare, start, started, stopped and release and exiting 0 each time;
#   (b) a domain whose hostdev's group is blocked on the fake root (00:1f.3,
#       sharing group 10 with lpc_ich) is refused at start, virsh's error
#       carrying the hook's reason; the fake root's drivers and this machine's
#       devices are unchanged;
#   (c) every virsh call is bounded by `timeout`, so nothing blocks;
#   (d) virt-hostdev on the daemon: its node devices match sysfs, and
#       `check --all --format json` judges the defined domains as hostdev-fix
#       does, with an autostart conflict blocking both domains;
#   (e) <interface type='hostdev'>: libvirt accepts every fixed domain with
#       such interfaces (define, dumpxml --inactive, which hostdev-fix still
#       finds fixed), and the hook reads them: an interface on the fake root's
#       blocked group 10 is refused at prepare as a <hostdev> is;
#   (f) device pins: a domain hostdev-fix pinned on the fake root (the GTX 970
#       02:00.0 and its injected audio function) keeps its <metadata> byte for
#       byte through define, dumpxml and dumpxml --inactive (also a pin whose
#       serial needs every escape), and hostdev-fix still finds it fixed;
#   (g) a drifted pin (02:00.0 pinned as another device) is refused at
#       prepare, virsh's error carrying the hook's reason; the fake root's
#       drivers are unchanged and no journal is written;
#   (h) virt-hostdev check judges pins against libvirt's node devices (this
#       machine's, read only, never started): a pin of a device as its sysfs
#       shows it adds no error; one with another device id blocks (exit 2);
#       hostdev-fix --host on virt-hostdev's snapshot judges both alike;
#   (i) virt-hostdev over real ssh: the run's own sshd on a free loopback port
#       (throwaway ed25519 host and client keys in the work directory, the
#       host key added to root's known_hosts for the run): check --all
#       (JSON and text), groups and snapshot through qemu+ssh:// are what they
#       are through qemu:///system but for the strings naming the URI; a key
#       the server refuses exits 3 with an explanation of what to do; several
#       -c (local, ssh, refused key) give one report per host in the order of
#       -c, the refused one in its place, a summary, and the highest exit
#       code. Prints how long the ssh checks take (cold, warm, --jobs 1 and 4).
#   (j) hostdev-recover.service: its ExecStart, read from the unit file (the
#       built one, or the installed one with --installed), run as systemd
#       would run it after libvirtd starts (from /, empty environment), on
#       the fake root holding two journals: one of a domain that is not
#       running (its GTX 970 pair on vfio-pci: both go back to nouveau and
#       snd_hda_intel, a small loop playing the kernel's bind) and one of a
#       TCG domain this libvirtd runs (the fake root's /proc holding its QEMU's
#       command line: its device stays on vfio-pci, twice).
# Everything installed or changed is undone at exit (daemons and sshd stopped
# by PID, hook, configuration and domains removed, qemu.conf restored, the
# known_hosts line taken out); installed packages stay (openssh-server is
# installed with its service start refused). Prints "N passed, N failed"; exit 0 only when all passed.
set -uo pipefail
export LC_ALL=C

MODE=built
if [ "${1:-}" = --installed ]; then
  MODE=installed
  shift
fi
BUILD=${1:?usage: run.sh [--installed] BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: run.sh [--installed] BUILD_DIR SOURCE_DIR}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$SRC" && pwd)
FAKEROOT=$BUILD/tests/support/hostdev-fakeroot
if [ "$MODE" = installed ]; then
  # What the packages installed (dpkg -S names the package of each).
  HOOK=/etc/libvirt/hooks/qemu.d/50-hostdev
  HOSTDEV=/usr/bin/hostdev
  HOSTDEV_FIX=/usr/bin/hostdev-fix
  VIRT=/usr/bin/virt-hostdev
  UNIT=/lib/systemd/system/hostdev-recover.service
else
  HOOK=$BUILD/hooks/hostdev-hook
  HOSTDEV=$BUILD/cli/hostdev
  HOSTDEV_FIX=$BUILD/cli/hostdev-fix
  VIRT=$BUILD/virsh-plugin/virt-hostdev
  UNIT=$BUILD/systemd/hostdev-recover.service
fi
URI=qemu:///system
VIRSH_TIMEOUT=60  # seconds; a cold libvirtd probes QEMU for ~10 s

HOOK_DIR=/etc/libvirt/hooks/qemu.d
HOOK_FILE=$HOOK_DIR/50-hostdev
CONF_DIR=/etc/hostdev
CONF_FILE=$CONF_DIR/hostdev.conf
QEMU_CONF=/etc/libvirt/qemu.conf

CHECKS_NAME=run.sh
# shellcheck source=../support/checks.sh
. "$SRC/tests/support/checks.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts libvirtd)"
for tool in "$HOOK" "$HOSTDEV" "$FAKEROOT"; do
  if [ "$MODE" = installed ] && [ "$tool" != "$FAKEROOT" ]; then
    [ -x "$tool" ] || die "$tool is missing: install the packages first (--installed runs on them)"
  else
    [ -x "$tool" ] || die "$tool is missing: build the tree first"
  fi
done
[ -f "$UNIT" ] || die "$UNIT is missing (the ${MODE} hostdev-recover.service)"
echo "mode: $MODE (hook $HOOK, hostdev $HOSTDEV, unit $UNIT)"
for d in libvirtd virtqemud virtlogd; do
  if pgrep -x "$d" >/dev/null; then
    die "$d is already running on this machine; this test starts its own daemons: stop it first"
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-libvirtd-XXXXXX")
chmod 755 "$WORK"
SUFFIX=$$
PLAIN=hostdev-test-plain-$SUFFIX
BLOCKED=hostdev-test-blocked-$SUFFIX
IFACE=hostdev-test-iface-$SUFFIX
extra_domains=()  # further domains this run defines, undefined at exit
created_dirs=()   # directories this run created, removed at exit when empty
backups=()        # "ORIGINAL BACKUP" pairs, restored at exit
installed=()      # files this run created, removed at exit
log_dir_created=no
policy_rc_d_created=no  # yes while apt-get runs under this run's /usr/sbin/policy-rc.d

vsh() {  # vsh ARGS...: virsh on the system URI, bounded in time
  timeout --kill-after=5 "$VIRSH_TIMEOUT" virsh -q -c "$URI" "$@"
}

pid_of() { [ -s "$1" ] && cat "$1"; }
stop_daemon() {  # stop_daemon PIDFILE NAME
  local pid
  pid=$(pid_of "$1") || return 0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "run.sh: $2 ($pid) did not stop in 10 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null
  sleep 0.5
}

# The loopback sshd of (i) and the one line it adds to root's known_hosts.
SSH_DIR=$WORK/ssh
KNOWN_HOSTS=""      # root's known_hosts, once (i) has added its line
known_hosts_size="" # its size before ("" when (i) created the file)
ssh_teardown() {    # stops the sshd and takes the known_hosts line out again; idempotent
  stop_daemon "$SSH_DIR/sshd.pid" sshd
  [ -n "$KNOWN_HOSTS" ] || return 0
  if [ -z "$known_hosts_size" ]; then
    rm -f "$KNOWN_HOSTS"
  elif tail -c +$((known_hosts_size + 1)) "$KNOWN_HOSTS" | cmp -s - "$SSH_DIR/known_hosts.added"; then
    truncate -s "$known_hosts_size" "$KNOWN_HOSTS"   # exactly the bytes this run appended
  else  # changed since: remove this run's line only
    grep -vxF -f "$SSH_DIR/known_hosts.line" "$KNOWN_HOSTS" >"$SSH_DIR/known_hosts.kept"
    cat "$SSH_DIR/known_hosts.kept" >"$KNOWN_HOSTS"
  fi
  KNOWN_HOSTS=""
}

sim_kernel_pid=""  # the loop of (j) playing the kernel's bind on the fake root
cleanup() {
  local rc=$?
  set +e
  [ -n "$sim_kernel_pid" ] && kill "$sim_kernel_pid" 2>/dev/null
  if [ -s "$WORK/libvirtd.pid" ] && kill -0 "$(cat "$WORK/libvirtd.pid")" 2>/dev/null; then
    for d in "$PLAIN" "$BLOCKED" "$IFACE" "${extra_domains[@]}"; do
      vsh domstate "$d" >/dev/null 2>&1 || continue
      vsh destroy "$d" >/dev/null 2>&1
      vsh undefine "$d" >/dev/null 2>&1
    done
  fi
  stop_daemon "$WORK/libvirtd.pid" libvirtd
  stop_daemon "$WORK/virtlogd.pid" virtlogd
  ssh_teardown
  [ "$policy_rc_d_created" = yes ] && rm -f /usr/sbin/policy-rc.d
  # Definitions left behind by a daemon that died before undefine.
  for d in "$PLAIN" "$BLOCKED" "$IFACE" "${extra_domains[@]}"; do
    rm -f "/etc/libvirt/qemu/$d.xml" "/var/log/libvirt/qemu/$d.log"
  done
  [ "$log_dir_created" = yes ] && rm -rf /var/log/libvirt
  local f pair
  for f in "${installed[@]}"; do rm -f "$f"; done
  for pair in "${backups[@]}"; do
    cp -p "${pair#* }" "${pair%% *}"
  done
  local i
  for ((i = ${#created_dirs[@]} - 1; i >= 0; i--)); do rmdir "${created_dirs[i]}" 2>/dev/null; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_dir DIR: mkdir -p, remembering what it created.
make_dir() {
  local d=$1 missing=()
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir -m 755 "$d" || die "cannot create $d"; created_dirs+=("$d"); done
}
# install_file SOURCE DEST MODE: puts SOURCE at DEST, backing up what was there.
install_file() {
  make_dir "$(dirname "$2")"
  if [ -e "$2" ]; then
    local backup
    backup="$WORK/backup.$(echo "$2" | tr / _)"
    cp -p "$2" "$backup" || die "cannot back up $2"
    backups+=("$2 $backup")
  else
    installed+=("$2")
  fi
  install -m "$3" "$1" "$2" || die "cannot install $2"
}

step "packages"
need=()
for p in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 openssh-server openssh-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' own services (the distribution's sshd on port 22) are not
  # started: a policy-rc.d refusing every start while apt-get runs, unless
  # the machine has its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# hostdev libvirtd test: no service starts while it installs packages\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_rc_d_created=yes
  fi
  if ! apt-get install -y -q --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; then
    apt-get update -q >>"$WORK/apt.log" 2>&1
    apt-get install -y -q --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 \
      || { tail -20 "$WORK/apt.log" >&2; die "cannot install ${need[*]}"; }
  fi
  [ "$policy_rc_d_created" = yes ] && rm -f /usr/sbin/policy-rc.d && policy_rc_d_created=no
fi
for tool in libvirtd virtlogd virsh qemu-system-x86_64 /usr/sbin/sshd ssh ssh-keygen; do
  command -v "$tool" >/dev/null || die "$tool not found after installing the packages"
done
if dpkg-query -W -f='${Status}' libvirt-daemon-system 2>/dev/null | grep -q 'install ok installed'; then
  echo "note: libvirt-daemon-system is installed (not by this test)"
fi

# libvirtd resolves its compiled-in user and group before reading qemu.conf.
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu || die "cannot create group libvirt-qemu"
getent passwd libvirt-qemu >/dev/null \
  || useradd --system -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu \
  || die "cannot create user libvirt-qemu"

step "fake root, hook and configuration"
"$FAKEROOT" "$SRC/examples/hosts/src/z170-gtx970.spec" "$WORK/root" >/dev/null || die "cannot build the fake root"
cat >"$WORK/hostdev.conf" <<EOF
# Written by hostdev's libvirtd test; removed when it ends.
root = $WORK/root
log_file = $WORK/hook.log
wait_timeout_ms = 2000
lock_timeout_ms = 5000
EOF
# user and group root: otherwise libvirt re-probes QEMU on every call here.
printf 'user = "root"\ngroup = "root"\n' >"$WORK/qemu.conf"
install_file "$WORK/qemu.conf" "$QEMU_CONF" 600
install_file "$WORK/hostdev.conf" "$CONF_FILE" 644
if [ "$MODE" = installed ]; then
  # The package's hook, as installed; only the configuration is the test's.
  dpkg -S "$HOOK_FILE" >/dev/null 2>&1 || die "$HOOK_FILE is not a packaged file: install the hostdev package first"
else
  install_file "$HOOK" "$HOOK_FILE" 755   # before libvirtd starts: hooks are found at start
fi

"$HOSTDEV" groups --root "$WORK/root" --format json >"$WORK/fake.before" 2>/dev/null || die "hostdev groups fails on the fake root"
"$HOSTDEV" groups --format json >"$WORK/host.before" 2>/dev/null || die "hostdev groups fails on this machine"

step "daemons"
# Without libvirt-daemon-system nothing creates the log directory. When this
# run creates it, it holds only what these daemons write and goes at exit.
if [ ! -d /var/log/libvirt ]; then
  mkdir -m 700 /var/log/libvirt || die "cannot create /var/log/libvirt"
  log_dir_created=yes
fi
virtlogd -d -p "$WORK/virtlogd.pid" || die "virtlogd did not start"
libvirtd -d -p "$WORK/libvirtd.pid" || die "libvirtd did not start"
up=no
for _ in $(seq 120); do
  if timeout 10 virsh -q -c "$URI" version >/dev/null 2>&1; then up=yes; break; fi
  sleep 0.5
done
[ "$up" = yes ] || die "libvirtd does not answer on $URI after 60 s"
ok "libvirtd answers on $URI"

# (a) A domain without hostdevs: started and destroyed, the hook at every step.
step "(a) $PLAIN: no hostdev"
test_domain "$PLAIN" >"$WORK/plain.xml"
if vsh define "$WORK/plain.xml" >"$WORK/out" 2>&1; then ok "define $PLAIN"; else not_ok "define $PLAIN: $(cat "$WORK/out")"; fi
start=$(date +%s)
if vsh start "$PLAIN" >"$WORK/out" 2>&1; then ok "start $PLAIN"; else not_ok "start $PLAIN: $(cat "$WORK/out")"; fi
state=$(vsh domstate "$PLAIN" 2>&1)
if [ "$state" = running ]; then ok "$PLAIN is running"; else not_ok "$PLAIN state: $state"; fi
if vsh destroy "$PLAIN" >"$WORK/out" 2>&1; then ok "destroy $PLAIN"; else not_ok "destroy $PLAIN: $(cat "$WORK/out")"; fi
echo "start and destroy took $(($(date +%s) - start)) s"
# release runs after destroy returns: give it a moment to be logged.
for _ in $(seq 50); do grep -q " $PLAIN release end " "$WORK/hook.log" 2>/dev/null && break; sleep 0.1; done
for s in "prepare begin" "start begin" "started begin" "stopped end" "release end"; do
  if grep -Eq "^[^ ]+ $PLAIN $s 0\$" "$WORK/hook.log" 2>/dev/null; then
    ok "hook called at '$s' for $PLAIN, exit 0"
  else
    not_ok "no '$PLAIN $s 0' in the hook log"
  fi
done
if grep -E " $PLAIN " "$WORK/hook.log" 2>/dev/null | grep -Evq ' 0$'; then
  not_ok "a hook call for $PLAIN exited non-zero: $(grep " $PLAIN " "$WORK/hook.log" | grep -v ' 0$')"
else
  ok "every hook call for $PLAIN exited 0"
fi
if vsh undefine "$PLAIN" >"$WORK/out" 2>&1; then ok "undefine $PLAIN"; else not_ok "undefine $PLAIN: $(cat "$WORK/out")"; fi

# expect_refused_start NAME PATTERN: `virsh start NAME` fails, virsh's error
# carries the hook's one line (hostdev: NAME: ...) matching PATTERN, and the
# hook log shows libvirt stopped at the refused prepare.
expect_refused_start() {
  local name=$1 pattern=$2 rc
  vsh start "$name" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then ok "start $name refused (exit $rc)"; else not_ok "start $name: exit $rc"; fi
  echo "virsh: $(tr '\n' ' ' <"$WORK/err")"
  if grep -q "hostdev: $name: " "$WORK/err" && grep -Eq "$pattern" "$WORK/err"; then
    ok "virsh's error carries the hook's reason"
  else
    not_ok "virsh's error lacks the hook's reason: $(cat "$WORK/err")"
  fi
  if grep -Eq "^[^ ]+ $name prepare begin 1\$" "$WORK/hook.log" 2>/dev/null; then
    ok "hook refused at prepare (exit 1)"
  else
    not_ok "no '$name prepare begin 1' in the hook log"
  fi
  if grep -Eq "^[^ ]+ $name start begin " "$WORK/hook.log" 2>/dev/null; then
    not_ok "libvirt went on to 'start' after the refusal"
  else
    ok "libvirt stopped at prepare"
  fi
}

# (b) A hostdev whose group is blocked on the fake root: refused at prepare.
# managed='no': libvirt itself would never touch the device (which this
# machine does not have anyway).
step "(b) $BLOCKED: hostdev 00:1f.3, group blocked by lpc_ich"
test_domain "$BLOCKED" 0000:00:1f.3 >"$WORK/blocked.xml"
if vsh define "$WORK/blocked.xml" >"$WORK/out" 2>&1; then ok "define $BLOCKED"; else not_ok "define $BLOCKED: $(cat "$WORK/out")"; fi
expect_refused_start "$BLOCKED" 'lpc_ich'
# A failed start still runs stopped and release: nothing to return, exit 0.
for s in "stopped end" "release end"; do
  for _ in $(seq 50); do grep -q " $BLOCKED $s " "$WORK/hook.log" 2>/dev/null && break; sleep 0.1; done
  if grep -Eq "^[^ ]+ $BLOCKED $s 0\$" "$WORK/hook.log" 2>/dev/null; then
    ok "hook called at '$s' after the refusal, exit 0"
  else
    not_ok "no '$BLOCKED $s 0' in the hook log"
  fi
done
state=$(vsh domstate "$BLOCKED" 2>&1)
if [ "$state" = "shut off" ]; then ok "$BLOCKED is shut off"; else not_ok "$BLOCKED state: $state"; fi
"$HOSTDEV" groups --root "$WORK/root" --format json >"$WORK/fake.after" 2>/dev/null
if cmp -s "$WORK/fake.before" "$WORK/fake.after"; then ok "fake root's drivers unchanged"; else not_ok "fake root changed: $(diff "$WORK/fake.before" "$WORK/fake.after" | head -5)"; fi
if find "$WORK/root" -name '*.json' | grep -q .; then not_ok "a journal was left: $(find "$WORK/root" -name '*.json')"; else ok "no journal left"; fi
if vsh undefine "$BLOCKED" >"$WORK/out" 2>&1; then ok "undefine $BLOCKED"; else not_ok "undefine $BLOCKED: $(cat "$WORK/out")"; fi

# This machine's devices: exactly as before.
"$HOSTDEV" groups --format json >"$WORK/host.after" 2>/dev/null
if cmp -s "$WORK/host.before" "$WORK/host.after"; then ok "this machine's devices unchanged"; else not_ok "this machine changed: $(diff "$WORK/host.before" "$WORK/host.after" | head -5)"; fi

# (c) The daemon still answers at once: no hook left anything blocked.
if timeout 10 virsh -q -c "$URI" list --all >"$WORK/out" 2>&1; then ok "libvirtd still answers"; else not_ok "libvirtd does not answer: $(cat "$WORK/out")"; fi
if pgrep -f "$HOOK_FILE" >/dev/null; then not_ok "a hook process is still running"; else ok "no hook process left"; fi

# (d) virt-hostdev against this daemon: its node devices are this machine's
# PCI devices as sysfs shows them, and `check --all --format json` judges the
# defined domains as hostdev-fix does here, plus the checks across domains:
# $PLAIN and $BLOCKED are defined again, both assigning one device of this
# machine with managed='no' (never started: nothing touches the device).
step "(d) virt-hostdev -c $URI"
virt() {  # virt ARGS...: virt-hostdev on the system URI, bounded in time
  timeout --kill-after=5 "$VIRSH_TIMEOUT" "$VIRT" -c "$URI" "$@"
}
if [ ! -x "$VIRT" ]; then
  not_ok "$VIRT is missing (built with HOSTDEV_BUILD_VIRSH_PLUGIN=ON?)"
else
  # The same devices, ids, classes, drivers and groups as sysfs.
  dev_lines='[(.groups[].devices[]), .ungrouped[]] | .[] | "\(.address) \(.vendor):\(.device) \(.class) \(.driver) \(.iommu_group)"'
  virt groups --format json 2>"$WORK/err" | jq -r "$dev_lines" | sort >"$WORK/devices.libvirt"
  "$HOSTDEV" groups --format json 2>/dev/null | jq -r "$dev_lines" | sort >"$WORK/devices.sysfs"
  if [ -s "$WORK/devices.sysfs" ] && cmp -s "$WORK/devices.libvirt" "$WORK/devices.sysfs"; then
    ok "virt-hostdev groups lists this machine's $(wc -l <"$WORK/devices.sysfs") PCI functions as sysfs does"
  else
    not_ok "libvirt's and sysfs' devices differ: $(diff "$WORK/devices.libvirt" "$WORK/devices.sysfs" | head -5) $(head -3 "$WORK/err")"
  fi
  # An endpoint the host holds no role on; a device this machine lacks otherwise.
  DEV=$("$HOSTDEV" groups --format json 2>/dev/null |
    jq -r '[(.groups[].devices[]), .ungrouped[]] | map(select(.kind == "endpoint" and (.roles | length) == 0)) | .[0].address // empty')
  DEV=${DEV:-0000:3d:00.0}
  for name in "$PLAIN" "$BLOCKED"; do
    test_domain "$name" "$DEV" >"$WORK/$name.xml"
    if vsh define "$WORK/$name.xml" >"$WORK/out" 2>&1; then ok "define $name with hostdev $DEV"; else not_ok "define $name: $(cat "$WORK/out")"; fi
  done
  # Without autostart: statuses and verdicts as hostdev-fix's on this host;
  # the shared device is a warning for both.
  virt check --all --format json >"$WORK/check.json" 2>"$WORK/err"
  rc=$?
  jq -e . "$WORK/check.json" >/dev/null 2>&1 && ok "check --all --format json answers JSON (exit $rc)" \
    || not_ok "check --all gave no JSON (exit $rc): $(head -3 "$WORK/err")"
  if [ "$(jq -r '.exit_code' "$WORK/check.json" 2>/dev/null)" = "$rc" ]; then ok "exit code $rc as reported"; else not_ok "exit $rc, report says $(jq -r '.exit_code' "$WORK/check.json" 2>/dev/null)"; fi
  verdicts() { jq -r "$1 | \"\(.status) \([.groups[] | .members[] | \"\(.address)=\(.verdict)\"] | join(\",\"))\"" "$2" 2>/dev/null; }
  for name in "$PLAIN" "$BLOCKED"; do
    vsh dumpxml --inactive "$name" >"$WORK/$name.inactive.xml" 2>&1
    "$HOSTDEV_FIX" --check --format json "$WORK/$name.inactive.xml" >"$WORK/fix.json" 2>/dev/null
    want=$(verdicts '.files[0]' "$WORK/fix.json")
    got=$(verdicts ".domains[] | select(.domain == \"$name\")" "$WORK/check.json")
    if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$name judged as hostdev-fix does: $got"; else not_ok "$name: virt-hostdev '$got', hostdev-fix '$want'"; fi
    if jq -e ".domains[] | select(.domain == \"$name\") | .problems[] | select(.severity == \"warning\" and (.message | contains(\"also assigned by domain\")))" \
      "$WORK/check.json" >/dev/null 2>&1; then
      ok "$name: the shared device is a warning"
    else
      not_ok "$name: no cross-domain warning"
    fi
  done
  # Both set to autostart: an error (blocked) for both, named or not.
  make_dir /etc/libvirt/qemu/autostart   # removed at exit when this run created it
  for name in "$PLAIN" "$BLOCKED"; do
    if vsh autostart "$name" >"$WORK/out" 2>&1; then ok "autostart $name"; else not_ok "autostart $name: $(cat "$WORK/out")"; fi
  done
  virt check --all --format json >"$WORK/check.json" 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 2 ]; then ok "check --all exits 2 (blocked)"; else not_ok "check --all exit $rc (wanted 2): $(head -3 "$WORK/err")"; fi
  for name in "$PLAIN" "$BLOCKED"; do
    if [ "$(jq -r ".domains[] | select(.domain == \"$name\") | \"\(.status) \(.autostart) \([.problems[] | select(.severity == \"error\" and (.message | contains(\"both start automatically\")))] | length)\"" "$WORK/check.json" 2>/dev/null)" = "blocked true 1" ]; then
      ok "$name: blocked by the autostart conflict"
    else
      not_ok "$name: no autostart conflict in $(jq -c ".domains[] | select(.domain == \"$name\")" "$WORK/check.json" 2>/dev/null | head -c 400)"
    fi
  done
  virt check "$PLAIN" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q "both start automatically" "$WORK/out"; then ok "check $PLAIN alone sees $BLOCKED"; else not_ok "check $PLAIN: exit $rc: $(head -3 "$WORK/out")"; fi
  for name in "$PLAIN" "$BLOCKED"; do
    vsh autostart --disable "$name" >/dev/null 2>&1
    if vsh undefine "$name" >"$WORK/out" 2>&1; then ok "undefine $name"; else not_ok "undefine $name: $(cat "$WORK/out")"; fi
  done
  if [ -e "/etc/libvirt/qemu/autostart/$PLAIN.xml" ] || [ -L "/etc/libvirt/qemu/autostart/$PLAIN.xml" ] ||
     [ -e "/etc/libvirt/qemu/autostart/$BLOCKED.xml" ] || [ -L "/etc/libvirt/qemu/autostart/$BLOCKED.xml" ]; then
    not_ok "an autostart link was left"
  else
    ok "no autostart link left"
  fi
fi

# (e) <interface type='hostdev'> (SR-IOV VFs): every fixed domain with such
# interfaces is accepted by libvirt and survives its round trip, and the hook
# reads an interface as it reads a <hostdev>.
step "(e) <interface type='hostdev'>"
# as_test_domain IN OUT NAME: IN as a TCG domain named NAME, without its uuid.
as_test_domain() {
  sed -e "s|<domain type=['\"]kvm['\"]|<domain type='qemu'|" -e '/<uuid>/d' \
      -e "s|<name>[^<]*</name>|<name>$3</name>|" \
      -e "s|<emulator>[^<]*</emulator>|<emulator>$(command -v qemu-system-x86_64)</emulator>|" "$1" >"$2"
}
# A NIC passed as an interface behind a port without ACS: hostdev-fix adds
# both ports of the other card in its group.
cat >"$WORK/vf.spec" <<'SPEC'
dev 00:1c.0 8086:a190 0x060400 group=20 driver=pcieport bus=02
dev 02:00.0 8086:1521 0x020000 group=20 driver=igb
dev 02:00.1 8086:1521 0x020000 group=20 driver=igb
dev 02:01.0 8086:10d3 0x020000 group=20 driver=e1000e
SPEC
"$FAKEROOT" "$WORK/vf.spec" "$WORK/vfroot" >/dev/null || die "cannot build the VF fake root"
cat >"$WORK/vf.xml" <<'XML'
<domain type='kvm'>
  <name>vf</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='hostdev' managed='no'>
      <mac address='52:54:00:6d:91:01'/>
      <source><address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></source>
      <vlan><tag id='42'/></vlan>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </interface>
  </devices>
</domain>
XML
n=0
for pair in "$WORK/vf.xml|--root $WORK/vfroot" "$SRC/examples/domains/sriov-vf.xml|--host $SRC/examples/hosts/sriov-server.json"; do
  n=$((n + 1))
  in=${pair%%|*}
  read -r -a host <<<"${pair#*|}"
  name=hostdev-test-vf$n-$SUFFIX
  "$HOSTDEV_FIX" "${host[@]}" -q -o "$WORK/fixed$n.xml" "$in" 2>"$WORK/err" \
    || { not_ok "hostdev-fix on $(basename "$in"): $(cat "$WORK/err")"; continue; }
  as_test_domain "$WORK/fixed$n.xml" "$WORK/def$n.xml" "$name"
  extra_domains+=("$name")
  if vsh define "$WORK/def$n.xml" >"$WORK/out" 2>&1; then ok "define the fixed $(basename "$in")"; else not_ok "define the fixed $(basename "$in"): $(cat "$WORK/out")"; continue; fi
  vsh dumpxml --inactive "$name" >"$WORK/dump$n.xml" 2>&1
  "$HOSTDEV_FIX" "${host[@]}" --check --format json "$WORK/dump$n.xml" >"$WORK/fix.json" 2>/dev/null
  rc=$?
  elements=$(jq -r '[.files[0].groups[].members[] | .element // "-"] | join(",")' "$WORK/fix.json" 2>/dev/null)
  if [ "$rc" -eq 0 ] && grep -q "<interface type='hostdev'" "$WORK/dump$n.xml"; then
    ok "libvirt's dumpxml of the fixed $(basename "$in") keeps the interface and needs nothing more ($elements)"
  else
    not_ok "dumpxml of the fixed $(basename "$in"): hostdev-fix --check exit $rc ($elements)"
  fi
  if vsh undefine "$name" >"$WORK/out" 2>&1; then ok "undefine $name"; else not_ok "undefine $name: $(cat "$WORK/out")"; fi
done
grep -c "<hostdev mode='subsystem' type='pci' managed='no'>" "$WORK/dump1.xml" 2>/dev/null | grep -qx 2 \
  && ok "the two injected siblings survive libvirt's round trip" || not_ok "dumpxml lost the injected siblings"

# The hook: an interface whose group (10, with lpc_ich) is blocked on the fake root.
sed -e "s|<hostdev mode='subsystem' type='pci' managed='no'>|<interface type='hostdev' managed='no'>|" \
    -e "s|<source><address domain='0x0000' bus='0x00' slot='0x1f' function='0x3'/></source>|<source><address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x3'/></source>|" \
    -e "s|</hostdev>|</interface>|" "$WORK/blocked.xml" | sed -e "s|<name>[^<]*</name>|<name>$IFACE</name>|" >"$WORK/iface.xml"
grep -q "<interface type='hostdev'" "$WORK/iface.xml" || not_ok "the interface domain was not made"
if vsh define "$WORK/iface.xml" >"$WORK/out" 2>&1; then ok "define $IFACE"; else not_ok "define $IFACE: $(cat "$WORK/out")"; fi
expect_refused_start "$IFACE" 'lpc_ich'
for _ in $(seq 50); do grep -q " $IFACE release end " "$WORK/hook.log" 2>/dev/null && break; sleep 0.1; done
"$HOSTDEV" groups --root "$WORK/root" --format json >"$WORK/fake.after" 2>/dev/null
if cmp -s "$WORK/fake.before" "$WORK/fake.after"; then ok "fake root's drivers unchanged"; else not_ok "fake root changed"; fi
if vsh undefine "$IFACE" >"$WORK/out" 2>&1; then ok "undefine $IFACE"; else not_ok "undefine $IFACE: $(cat "$WORK/out")"; fi

# (f) Device pins through libvirt: hostdev-fix pins the GTX 970 of the fake
# root (02:00.0, its audio function 02:00.1 injected), and libvirt keeps the
# <metadata> holding the <hostdev:pins> block byte for byte through define,
# dumpxml and dumpxml --inactive; also with a serial that needs every escape
# hostdev-fix writes (& < > ").
step "(f) a pinned domain through define and dumpxml"
PINNED=hostdev-test-pinned-$SUFFIX
SERIAL=hostdev-test-serial-$SUFFIX
DRIFTED=hostdev-test-drifted-$SUFFIX
extra_domains+=("$PINNED" "$SERIAL" "$DRIFTED")
# metadata_of FILE: the lines from <metadata> to </metadata>.
metadata_of() { sed -n '/<metadata>/,/<\/metadata>/p' "$1"; }
test_domain "$PINNED" 0000:02:00.0 >"$WORK/pinned.in.xml"
"$HOSTDEV_FIX" --root "$WORK/root" --hide-kvm never -q -o "$WORK/pinned.xml" "$WORK/pinned.in.xml" 2>"$WORK/err"
rc=$?
metadata_of "$WORK/pinned.xml" >"$WORK/pinned.md" 2>/dev/null
if [ "$rc" -eq 0 ] && [ "$(grep -c '^    <hostdev:pins xmlns:hostdev="urn:hostdev:pins:1">$' "$WORK/pinned.md")" = 1 ] &&
   [ "$(grep -c '^      <hostdev:device address="0000:02:00\.[01]" vendor="0x10de" .* slot-path="0000:00/1b\.0/00\.[01]"/>$' "$WORK/pinned.md")" = 2 ]; then
  ok "hostdev-fix --root pins 02:00.0 and the injected 02:00.1 ($(wc -l <"$WORK/pinned.md") lines of <metadata>)"
else
  not_ok "hostdev-fix --root on $PINNED: exit $rc, metadata: $(cat "$WORK/pinned.md") $(cat "$WORK/err")"
fi
sed -e "s|<name>$PINNED</name>|<name>$SERIAL</name>|" \
    -e '/<hostdev:device address="0000:02:00.1"/s|"/>$|" nvme-serial="S4 \&amp; \&lt;1\&gt; \&quot;b\&quot;"/>|' "$WORK/pinned.xml" >"$WORK/serial.xml"
grep -q 'nvme-serial="S4 &amp; &lt;1&gt; &quot;b&quot;"/>' "$WORK/serial.xml" || not_ok "the pin with a serial was not made"
for name in "$PINNED" "$SERIAL"; do
  f=$WORK/pinned.xml
  [ "$name" = "$SERIAL" ] && f=$WORK/serial.xml
  metadata_of "$f" >"$WORK/md.written"
  if vsh define "$f" >"$WORK/out" 2>&1; then ok "define $name"; else not_ok "define $name: $(cat "$WORK/out")"; fi
  for how in "" "--inactive"; do
    vsh dumpxml $how "$name" >"$WORK/dump.xml" 2>&1
    metadata_of "$WORK/dump.xml" >"$WORK/md.dumped"
    if [ -s "$WORK/md.written" ] && cmp -s "$WORK/md.written" "$WORK/md.dumped"; then
      ok "dumpxml ${how:-(live)} $name: <metadata> byte for byte as hostdev-fix wrote it"
    else
      not_ok "dumpxml ${how:-(live)} $name: <metadata> differs (< written, > libvirt's, \$ ends a line): $(diff <(cat -A "$WORK/md.written") <(cat -A "$WORK/md.dumped"))"
    fi
  done
  # What libvirt gives back still passes: the pins are read and match.
  "$HOSTDEV_FIX" --root "$WORK/root" --hide-kvm never --check "$WORK/dump.xml" >/dev/null 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 0 ]; then ok "hostdev-fix --check on $name's dumpxml --inactive: nothing to change"; else not_ok "hostdev-fix --check on $name's dumpxml --inactive: exit $rc: $(cat "$WORK/err")"; fi
done
if vsh undefine "$SERIAL" >"$WORK/out" 2>&1; then ok "undefine $SERIAL"; else not_ok "undefine $SERIAL: $(cat "$WORK/out")"; fi

# (g) A drifted pin: the pin of 02:00.0 names a GTX 980 Ti (10de:17c8) where
# the fake root has the GTX 970; the hook refuses at prepare, nothing moves.
step "(g) $DRIFTED: the pin of 02:00.0 names another device"
sed -e "s|<name>$PINNED</name>|<name>$DRIFTED</name>|" \
    -e '/<hostdev:device address="0000:02:00.0"/s|device="0x13c2"|device="0x17c8"|' "$WORK/pinned.xml" >"$WORK/drifted.xml"
grep -q 'address="0000:02:00.0" vendor="0x10de" device="0x17c8"' "$WORK/drifted.xml" || not_ok "the drifted domain was not made"
"$HOSTDEV_FIX" --root "$WORK/root" --hide-kvm never --check "$WORK/drifted.xml" >/dev/null 2>"$WORK/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q '0000:02:00.0 is not the device the domain was made for' "$WORK/err"; then
  ok "hostdev-fix --check: blocked (exit 2), 02:00.0 is not the pinned device"
else
  not_ok "hostdev-fix --check on the drifted domain: exit $rc: $(cat "$WORK/err")"
fi
if vsh define "$WORK/drifted.xml" >"$WORK/out" 2>&1; then ok "define $DRIFTED"; else not_ok "define $DRIFTED: $(cat "$WORK/out")"; fi
expect_refused_start "$DRIFTED" 'refused, nothing changed: 0000:02:00.0 is not the device the domain was made for'
for _ in $(seq 50); do grep -q " $DRIFTED release end " "$WORK/hook.log" 2>/dev/null && break; sleep 0.1; done
"$HOSTDEV" groups --root "$WORK/root" --format json >"$WORK/fake.after" 2>/dev/null
if cmp -s "$WORK/fake.before" "$WORK/fake.after"; then ok "fake root's drivers unchanged"; else not_ok "fake root changed: $(diff "$WORK/fake.before" "$WORK/fake.after" | head -5)"; fi
# The directory's lock file (taken to read the journals) is all there may be.
if find "$WORK/root/run/hostdev" -mindepth 1 ! -name lock 2>/dev/null | grep -q .; then
  not_ok "the hook wrote under the fake root's run/hostdev: $(find "$WORK/root/run/hostdev" -mindepth 1 ! -name lock)"
else
  ok "no journal under the fake root's run/hostdev ($(ls "$WORK/root/run/hostdev" 2>/dev/null | tr '\n' ' ')only)"
fi
for name in "$PINNED" "$DRIFTED"; do
  if vsh undefine "$name" >"$WORK/out" 2>&1; then ok "undefine $name"; else not_ok "undefine $name: $(cat "$WORK/out")"; fi
done

# (h) Pins judged by virt-hostdev against libvirt's node devices (this
# machine's, read only; the domains are never started). A pin of $DEV as
# sysfs shows it adds no problem to the domain; one with another device id
# blocks it (exit 2) with the reason the hook gives.
step "(h) virt-hostdev check: pins against libvirt's node devices"
PIN_OK=hostdev-test-pin-ok-$SUFFIX
PIN_BAD=hostdev-test-pin-bad-$SUFFIX
UNPINNED=hostdev-test-unpinned-$SUFFIX
extra_domains+=("$PIN_OK" "$PIN_BAD" "$UNPINNED")
# sysfs_pin ADDR [DEVICE_ID]: the pin hostdev-fix writes for ADDR, from its
# sysfs attributes (the slot path from the device's path under /sys/devices).
sysfs_pin() {
  local s=/sys/bus/pci/devices/$1 parts slot c
  IFS=/ read -r -a parts <<<"$(readlink -f "$s" | sed 's|^/sys/devices/pci||')"
  slot=${parts[0]}  # DDDD:BB of the root bus, then SS.F of each function on the way down
  for c in "${parts[@]:1}"; do slot="$slot/${c##*:}"; done
  printf '<hostdev:device address="%s" vendor="%s" device="%s" subsystem-vendor="%s" subsystem-device="%s" class="%s" revision="%s" slot-path="%s"/>' \
    "$1" "$(cat "$s/vendor")" "${2:-$(cat "$s/device")}" "$(cat "$s/subsystem_vendor")" "$(cat "$s/subsystem_device")" \
    "$(cat "$s/class")" "$(cat "$s/revision")" "$slot"
}
# with_pin IN PIN: IN with <metadata> holding PIN after its <name>.
with_pin() {
  sed "s|</name>|</name>\n  <metadata>\n    <hostdev:pins xmlns:hostdev=\"urn:hostdev:pins:1\">\n      $2\n    </hostdev:pins>\n  </metadata>|" "$1"
}
DEV=${DEV:-}
if [ ! -x "$VIRT" ] || [ ! -e "/sys/bus/pci/devices/$DEV" ]; then
  not_ok "no virt-hostdev, or no endpoint without a host role on this machine (${DEV:-none}) for the pin checks"
else
  other=$(printf '0x%04x' $(( ($(cat "/sys/bus/pci/devices/$DEV/device") + 1) & 0xffff )))
  test_domain "$UNPINNED" "$DEV" >"$WORK/unpinned.xml"
  test_domain "$PIN_OK" "$DEV" | with_pin /dev/stdin "$(sysfs_pin "$DEV")" >"$WORK/pin-ok.xml"
  test_domain "$PIN_BAD" "$DEV" | with_pin /dev/stdin "$(sysfs_pin "$DEV" "$other")" >"$WORK/pin-bad.xml"
  echo "pin of $DEV: $(sysfs_pin "$DEV")"
  for f in unpinned pin-ok pin-bad; do
    if vsh define "$WORK/$f.xml" >"$WORK/out" 2>&1; then ok "define $f"; else not_ok "define $f: $(cat "$WORK/out")"; fi
  done
  # The errors of a domain's report (its warnings name the other two domains).
  errors() { jq -c "[.domains[] | select(.domain == \"$1\") | .problems[] | select(.severity == \"error\") | .message] | sort" "$2" 2>/dev/null; }
  virt check --format json "$UNPINNED" >"$WORK/unpinned.json" 2>"$WORK/err"
  rc_unpinned=$?
  virt check --format json "$PIN_OK" >"$WORK/pin-ok.json" 2>"$WORK/err"
  rc=$?
  want=$(errors "$UNPINNED" "$WORK/unpinned.json")
  got=$(errors "$PIN_OK" "$WORK/pin-ok.json")
  status=$(jq -r ".domains[] | select(.domain == \"$PIN_OK\") | .status" "$WORK/pin-ok.json" 2>/dev/null)
  if [ -n "$want" ] && [ "$rc" -eq "$rc_unpinned" ] && [ "$got" = "$want" ] &&
     [ "$status" = "$(jq -r ".domains[] | select(.domain == \"$UNPINNED\") | .status" "$WORK/unpinned.json" 2>/dev/null)" ] &&
     ! grep -q 'not the device the domain was made for' "$WORK/pin-ok.json"; then
    ok "check $PIN_OK: the matching pin adds no error (exit $rc, $status, as without the pin)"
  else
    not_ok "check $PIN_OK: exit $rc (unpinned $rc_unpinned), status $status, errors $got; unpinned $want"
  fi
  echo "notes on $PIN_OK: $(jq -r ".domains[] | select(.domain == \"$PIN_OK\") | .problems[] | select(.severity == \"note\") | .message" "$WORK/pin-ok.json" 2>/dev/null | tr '\n' ' ')"
  virt check "$PIN_BAD" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q "$DEV is not the device the domain was made for: .*expects $(cut -c3- "/sys/bus/pci/devices/$DEV/vendor"):${other#0x}" "$WORK/out"; then
    ok "check $PIN_BAD: blocked (exit 2), $DEV is not the pinned device"
  else
    not_ok "check $PIN_BAD: exit $rc: $(cat "$WORK/out" "$WORK/err")"
  fi
  # The same through a snapshot of the host as libvirt shows it: hostdev-fix
  # --host judges the pins as virt-hostdev check does.
  mkdir -p "$WORK/domains"
  virt snapshot -o "$WORK/libvirt-snapshot.json" --domains "$WORK/domains" 2>"$WORK/err" \
    || not_ok "virt-hostdev snapshot: $(cat "$WORK/err")"
  "$HOSTDEV_FIX" --host "$WORK/libvirt-snapshot.json" --check --format json "$WORK/domains/$PIN_OK.xml" >"$WORK/fix.json" 2>/dev/null
  rc=$?
  got=$(jq -c '[.files[0].problems[] | select(.severity == "error") | .message] | sort' "$WORK/fix.json" 2>/dev/null)
  if [ "$rc" -eq "$rc_unpinned" ] && [ -n "$got" ] && [ "$got" = "$want" ]; then
    ok "hostdev-fix --host (virt-hostdev snapshot) on $PIN_OK: the errors virt-hostdev check gives (exit $rc)"
  else
    not_ok "hostdev-fix --host (virt-hostdev snapshot) on $PIN_OK: exit $rc, errors $got; virt-hostdev check: $want"
  fi
  "$HOSTDEV_FIX" --host "$WORK/libvirt-snapshot.json" --check "$WORK/domains/$PIN_BAD.xml" >/dev/null 2>"$WORK/err"
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q "$DEV is not the device the domain was made for" "$WORK/err"; then
    ok "hostdev-fix --host (virt-hostdev snapshot) on $PIN_BAD: blocked (exit 2) by the pin"
  else
    not_ok "hostdev-fix --host (virt-hostdev snapshot) on $PIN_BAD: exit $rc: $(cat "$WORK/err")"
  fi
  for name in "$UNPINNED" "$PIN_OK" "$PIN_BAD"; do
    if vsh undefine "$name" >"$WORK/out" 2>&1; then ok "undefine $name"; else not_ok "undefine $name: $(cat "$WORK/out")"; fi
  done
fi

# (i) virt-hostdev over real ssh on loopback: this run's own sshd (a free
# port on 127.0.0.1, a throwaway ed25519 host key, an authorized_keys holding
# one throwaway client key), its host key added to root's known_hosts (ssh,
# which libvirt runs, finds the home in passwd) and taken out again. check,
# groups and snapshot through qemu+ssh:// answer what they answer through
# qemu:///system (the same daemon), but for the strings that name the URI; a
# second key the server does not accept is refused (exit 3) with what to do;
# several -c give one report per host in the order of -c, the refused host in
# its place, the summary, and the highest exit code. Timings are printed.
step "(i) virt-hostdev over qemu+ssh:// (loopback sshd)"
FLEET_DEV=hostdev-test-fleet-dev-$SUFFIX
FLEET_NET=hostdev-test-fleet-net-$SUFFIX
extra_domains+=("$FLEET_DEV" "$FLEET_NET")
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# normalized FILE URI...: the JSON document, keys sorted, with each URI given
# replaced by "URI" in every string.
normalized() {
  local f=$1
  shift
  jq -S --args 'reduce $ARGS.positional[] as $u (.; walk(if type == "string" then split($u) | join("URI") else . end))' "$@" <"$f" 2>/dev/null
}
# block N FILE: the lines of the Nth "== URI" block of a fleet's text, without its header.
block() { awk -v n="$1" '/^== /{i++; next} /^$/{if (i == n) exit} i == n' "$2"; }
host_lines() { jq -r '[.hosts[] | "\(.uri)=\(.status):\(.exit_code)"] | join(" ")' "$1" 2>/dev/null; }
# with_warnings STDOUT STDERR: what a fleet's text shows of a single-host run.
with_warnings() { sed -n 's/^virt-hostdev: warning: /warning: /p' "$2"; cat "$1"; }

mkdir -m 700 "$SSH_DIR" || die "cannot create $SSH_DIR"
for key in host good refused; do
  ssh-keygen -q -t ed25519 -N '' -C "hostdev-test-$key" -f "$SSH_DIR/${key}_key" || die "ssh-keygen ($key key) failed"
done
cp "$SSH_DIR/good_key.pub" "$SSH_DIR/authorized_keys" && chmod 600 "$SSH_DIR/authorized_keys"
make_dir /run/sshd   # sshd's privilege separation directory; removed at exit when this run created it
# A free port: one nothing listens on (and sshd fails when it cannot bind it).
sshd_up=no
for _ in $(seq 10); do
  SSH_PORT=$((20000 + RANDOM % 40000))
  ss -Htln "sport = :$SSH_PORT" 2>/dev/null | grep -q . && continue
  # StrictModes no: the temporary directory lies below the world-writable /tmp.
  cat >"$SSH_DIR/sshd_config" <<CONF
# hostdev's libvirtd test: a throwaway sshd on loopback, stopped at exit.
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
LogLevel VERBOSE
CONF
  /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" 2>"$SSH_DIR/sshd.test" || die "sshd -t refuses the configuration: $(cat "$SSH_DIR/sshd.test")"
  if /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"; then
    for _ in $(seq 50); do [ -s "$SSH_DIR/sshd.pid" ] && break; sleep 0.1; done
    [ -s "$SSH_DIR/sshd.pid" ] && { sshd_up=yes; break; }
  fi
done
[ "$sshd_up" = yes ] || die "sshd did not start: $(tail -5 "$SSH_DIR/sshd.log" 2>/dev/null)"
ok "sshd $(pid_of "$SSH_DIR/sshd.pid") listens on 127.0.0.1:$SSH_PORT"
# The host key into root's known_hosts: one line, taken out again at exit.
root_home=$(getent passwd 0 | cut -d: -f6)
if [ ! -d "$root_home/.ssh" ]; then
  mkdir -m 700 "$root_home/.ssh" || die "cannot create $root_home/.ssh"
  created_dirs+=("$root_home/.ssh")
fi
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/host_key.pub")" >"$SSH_DIR/known_hosts.line"
kh=$root_home/.ssh/known_hosts
if [ -e "$kh" ]; then
  known_hosts_size=$(stat -c %s "$kh")
  cp -p "$kh" "$SSH_DIR/known_hosts.before"
  # A file without a final newline gets one before the line (and loses it again).
  { [ "$known_hosts_size" -gt 0 ] && [ -n "$(tail -c 1 "$kh")" ] && echo; cat "$SSH_DIR/known_hosts.line"; } >"$SSH_DIR/known_hosts.added"
else
  known_hosts_size=""
  cp "$SSH_DIR/known_hosts.line" "$SSH_DIR/known_hosts.added"
fi
KNOWN_HOSTS=$kh
cat "$SSH_DIR/known_hosts.added" >>"$kh" || die "cannot add the host key to $kh"

GOOD="qemu+ssh://root@127.0.0.1:$SSH_PORT/system?keyfile=$SSH_DIR/good_key"
REFUSED="qemu+ssh://root@127.0.0.1:$SSH_PORT/system?keyfile=$SSH_DIR/refused_key"
vat() {  # vat URI ARGS...: virt-hostdev on URI, bounded in time
  local uri=$1
  shift
  timeout --kill-after=5 "$VIRSH_TIMEOUT" "$VIRT" -c "$uri" "$@"
}
# Two defined domains: one passing $DEV, one on a network libvirt does not
# have (its note names the URI the network could not be read from).
test_domain "$FLEET_DEV" "$DEV" >"$WORK/fleet-dev.xml"
test_domain "$FLEET_NET" | sed "s|<memballoon model='none'/>|<memballoon model='none'/>\n    <interface type='network'><source network='hostdev-test-nonet-$SUFFIX'/></interface>|" >"$WORK/fleet-net.xml"
for f in fleet-dev fleet-net; do
  if vsh define "$WORK/$f.xml" >"$WORK/out" 2>&1; then ok "define $f"; else not_ok "define $f: $(cat "$WORK/out")"; fi
done

# check over ssh: first (cold: the first connection to this sshd), then
# again (warm); then over the local URI.
t=$(now)
vat "$GOOD" check --all --format json >"$WORK/ssh.json" 2>"$WORK/ssh.err"
rc_ssh=$?
cold=$(since "$t")
warm=()
for _ in 1 2 3; do
  t=$(now)
  vat "$GOOD" check --all --format json >/dev/null 2>&1
  warm+=("$(since "$t")")
done
t=$(now)
vat "$URI" check --all --format json >"$WORK/local.json" 2>"$WORK/local.err"
rc_local=$?
local_time=$(since "$t")
if [ "$rc_ssh" -eq "$rc_local" ] && [ "$rc_ssh" -le 2 ] && jq -e '.domains | length >= 2' "$WORK/ssh.json" >/dev/null 2>&1; then
  ok "check --all over ssh answers (exit $rc_ssh, as over $URI; $(jq '.domains | length' "$WORK/ssh.json") domains)"
else
  not_ok "check --all over ssh: exit $rc_ssh (local $rc_local): $(head -5 "$WORK/ssh.err")"
fi
ssh_uri_seen=$(jq -r '.uri' "$WORK/ssh.json" 2>/dev/null)
echo "the ssh connection's URI as libvirt gives it: $ssh_uri_seen"
normalized "$WORK/ssh.json" "$GOOD" "$ssh_uri_seen" >"$WORK/ssh.norm"
normalized "$WORK/local.json" "$URI" >"$WORK/local.norm"
if [ -s "$WORK/ssh.norm" ] && cmp -s "$WORK/ssh.norm" "$WORK/local.norm"; then
  ok "check --all --format json over ssh is the one over $URI but for the strings naming the URI"
else
  not_ok "check over ssh and over $URI differ beyond the URI: $(diff "$WORK/local.norm" "$WORK/ssh.norm" | head -10)"
fi
# Such strings are there (the network's note), so the comparison has
# something to forgive, and it forgives nothing else.
if jq -e --arg d "$FLEET_NET" --arg u "$ssh_uri_seen" '[.domains[] | select(.domain == $d) | .problems[].message | select(contains("could not be read from " + $u))] | length == 1' "$WORK/ssh.json" >/dev/null 2>&1; then
  ok "$FLEET_NET's note names the ssh URI"
else
  not_ok "no note naming $ssh_uri_seen for $FLEET_NET: $(jq -c --arg d "$FLEET_NET" '.domains[] | select(.domain == $d) | .problems' "$WORK/ssh.json" 2>/dev/null | head -c 400)"
fi
dev_status=$(jq -r --arg d "$FLEET_DEV" '.domains[] | select(.domain == $d) | "\(.status) \([.groups[].members[] | "\(.address)=\(.verdict)"] | join(","))"' "$WORK/ssh.json" 2>/dev/null)
if [ -n "$dev_status" ] && [ "$dev_status" = "$(jq -r --arg d "$FLEET_DEV" '.domains[] | select(.domain == $d) | "\(.status) \([.groups[].members[] | "\(.address)=\(.verdict)"] | join(","))"' "$WORK/local.json" 2>/dev/null)" ]; then
  ok "$FLEET_DEV (hostdev $DEV) judged over ssh as locally: $dev_status"
else
  not_ok "$FLEET_DEV over ssh: '$dev_status'"
fi
vat "$GOOD" check --all >"$WORK/ssh.txt" 2>"$WORK/ssh.txt.err"
rc=$?
vat "$URI" check --all >"$WORK/local.txt" 2>"$WORK/local.txt.err"
if [ "$rc" -eq "$rc_local" ] && [ -s "$WORK/ssh.txt" ] &&
   cmp -s <(sed "s|$ssh_uri_seen|URI|g" "$WORK/ssh.txt") <(sed "s|$URI|URI|g" "$WORK/local.txt") &&
   cmp -s "$WORK/ssh.txt.err" "$WORK/local.txt.err"; then
  ok "check --all (text) over ssh: the local explanations, summary and warnings (exit $rc)"
else
  not_ok "check --all (text) over ssh differs: exit $rc: $(diff <(sed "s|$URI|URI|g" "$WORK/local.txt") <(sed "s|$ssh_uri_seen|URI|g" "$WORK/ssh.txt") | head -5)"
fi

# groups and snapshot over ssh: byte for byte the local ones.
for fmt in text json dot; do
  vat "$GOOD" groups --format "$fmt" >"$WORK/groups.ssh" 2>"$WORK/err"
  rc=$?
  vat "$URI" groups --format "$fmt" >"$WORK/groups.local" 2>/dev/null
  cp "$WORK/groups.local" "$WORK/groups.local.$fmt"
  if [ "$rc" -eq 0 ] && [ -s "$WORK/groups.ssh" ] && cmp -s "$WORK/groups.ssh" "$WORK/groups.local"; then
    ok "groups --format $fmt over ssh: the local listing ($(wc -l <"$WORK/groups.ssh") lines)"
  else
    not_ok "groups --format $fmt over ssh: exit $rc: $(diff "$WORK/groups.local" "$WORK/groups.ssh" | head -5) $(head -3 "$WORK/err")"
  fi
done
mkdir "$WORK/snap-ssh" "$WORK/snap-local"
vat "$GOOD" snapshot -o "$WORK/snap-ssh/host.json" --domains "$WORK/snap-ssh/domains" 2>"$WORK/err"
rc=$?
vat "$URI" snapshot -o "$WORK/snap-local/host.json" --domains "$WORK/snap-local/domains" 2>/dev/null
if [ "$rc" -eq 0 ] && [ -s "$WORK/snap-ssh/host.json" ] && [ -s "$WORK/snap-ssh/domains/$FLEET_DEV.xml" ] &&
   diff -r "$WORK/snap-local" "$WORK/snap-ssh" >"$WORK/out" 2>&1; then
  ok "snapshot --domains over ssh: the local snapshot and definitions ($(ls "$WORK/snap-ssh/domains" | wc -l) domains)"
else
  not_ok "snapshot over ssh: exit $rc: $(head -5 "$WORK/out") $(head -3 "$WORK/err")"
fi

# A key the server does not accept: refused at once, exit 3, what to do.
t=$(now)
vat "$REFUSED" check --all --format json >"$WORK/out" 2>"$WORK/err"
rc=$?
refused_time=$(since "$t")
echo "refused key: $(head -1 "$WORK/err")"
if [ "$rc" -eq 3 ] && [ ! -s "$WORK/out" ] && grep -qF "virt-hostdev: error: cannot connect to $REFUSED: " "$WORK/err" &&
   grep -q 'Permission denied (publickey' "$WORK/err"; then
  ok "a refused key: exit 3, libvirt's 'Permission denied (publickey)', nothing on stdout"
else
  not_ok "the refused key: exit $rc: $(cat "$WORK/err" "$WORK/out" | head -5)"
fi
if grep -qF "hint: 127.0.0.1 refused the key: the key $SSH_DIR/refused_key (keyfile= in the URI) is not in the authorized_keys of root on 127.0.0.1. Add its public half there (ssh-copy-id -p $SSH_PORT -i $SSH_DIR/refused_key.pub root@127.0.0.1)" "$WORK/err" &&
   grep -qF "\`ssh -p $SSH_PORT -i $SSH_DIR/refused_key root@127.0.0.1 true\` must succeed without a prompt" "$WORK/err"; then
  ok "the explanation names the refused key and how to authorize it"
else
  not_ok "the explanation of the refused key: $(cat "$WORK/err")"
fi

# A host key ssh does not know ("localhost" is not "[127.0.0.1]:PORT" in
# known_hosts; no_tty=1 makes libvirt run ssh in batch mode, so it refuses
# instead of asking): exit 3, and where the key must go. known_hosts is not
# written to.
UNKNOWN="qemu+ssh://root@localhost:$SSH_PORT/system?keyfile=$SSH_DIR/good_key&no_tty=1"
vat "$UNKNOWN" check --all >"$WORK/out" 2>"$WORK/err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q 'Host key verification failed' "$WORK/err" &&
   grep -qF "hint: the host key of localhost port $SSH_PORT is unknown or has changed in the known_hosts of the user running virt-hostdev" "$WORK/err" &&
   grep -qF "(ssh-keyscan -p $SSH_PORT localhost >> ~/.ssh/known_hosts)" "$WORK/err" &&
   cmp -s "$kh" <(cat "${SSH_DIR}/known_hosts.before" 2>/dev/null; cat "$SSH_DIR/known_hosts.added"); then
  ok "an unknown host key: exit 3, and how to make it known"
else
  not_ok "the unknown host key: exit $rc: $(cat "$WORK/err")"
fi

# Several -c: local, ssh, refused. The reports in that order whatever order
# they end in (the refused one ends first), the refused one in its place, the
# summary, the highest exit code (3: the refused host).
worst=3
st=$(jq -r --argjson r "$rc_local" -n '["ok", "fixable", "blocked"][$r]')
fleet_run() {  # fleet_run ARGS...: virt-hostdev ARGS, bounded in time; $fleet_rc, $fleet_time
  local t
  t=$(now)
  timeout --kill-after=5 $((3 * VIRSH_TIMEOUT)) "$VIRT" "$@" >"$WORK/out" 2>"$WORK/err"
  fleet_rc=$?
  fleet_time=$(since "$t")
}
fleet_run -c "$URI" -c "$GOOD" -c "$REFUSED" check --all
fleet_text_time=$fleet_time
cp "$WORK/out" "$WORK/fleet.txt"
if [ "$fleet_rc" -eq "$worst" ] && [ "$(grep '^== ' "$WORK/fleet.txt" | paste -sd'|')" = "== $URI|== $GOOD|== $REFUSED" ]; then
  ok "-c $URI -c ssh -c refused check --all: three reports in the order of -c, exit $fleet_rc"
else
  not_ok "fleet check: exit $fleet_rc (wanted $worst), headers: $(grep '^== ' "$WORK/fleet.txt" | tr '\n' ' ') $(head -3 "$WORK/err")"
fi
with_warnings "$WORK/local.txt" "$WORK/local.txt.err" >"$WORK/want1"
with_warnings "$WORK/ssh.txt" "$WORK/ssh.txt.err" >"$WORK/want2"
for n in 1 2 3; do block "$n" "$WORK/fleet.txt" >"$WORK/got$n"; done
if [ -s "$WORK/got1" ] && cmp -s "$WORK/want1" "$WORK/got1" && cmp -s "$WORK/want2" "$WORK/got2"; then
  ok "each answering host's report is its single-host report, warnings included"
else
  not_ok "fleet reports differ from the single-host ones: $(diff "$WORK/want1" "$WORK/got1" | head -3) $(diff "$WORK/want2" "$WORK/got2" | head -3)"
fi
if grep -qF "error: cannot connect to $REFUSED: " "$WORK/got3" && grep -q 'Permission denied (publickey' "$WORK/got3" &&
   grep -q '^  hint: 127.0.0.1 refused the key' "$WORK/got3"; then
  ok "the refused host is reported in its place, with its explanation"
else
  not_ok "the refused host's block: $(cat "$WORK/got3")"
fi
if [ "$(tail -1 "$WORK/fleet.txt")" = "fleet: 3 hosts: 2 $st, 1 unreachable" ]; then
  ok "summary: $(tail -1 "$WORK/fleet.txt")"
else
  not_ok "summary line: $(tail -1 "$WORK/fleet.txt")"
fi
fleet_run -c "$URI" -c "$GOOD" -c "$REFUSED" check --all --format json
cp "$WORK/out" "$WORK/fleet.json"
count() { [ "$st" = "$1" ] && echo 2 || echo 0; }
if [ "$fleet_rc" -eq "$worst" ] &&
   [ "$(host_lines "$WORK/fleet.json")" = "$URI=$st:$rc_local $GOOD=$st:$rc_local $REFUSED=unreachable:3" ] &&
   [ "$(jq -c '.summary' "$WORK/fleet.json")" = "{\"hosts\":3,\"ok\":$(count ok),\"fixable\":$(count fixable),\"blocked\":$(count blocked),\"invalid\":0,\"unreachable\":1,\"failed\":0,\"exit_code\":$worst}" ]; then
  ok "--format json: hosts in the order of -c ($(host_lines "$WORK/fleet.json")), summary $(jq -c '.summary' "$WORK/fleet.json")"
else
  not_ok "fleet JSON: exit $fleet_rc: $(host_lines "$WORK/fleet.json") $(jq -c '.summary' "$WORK/fleet.json" 2>/dev/null)"
fi
if cmp -s <(jq -S '.hosts[0].report' "$WORK/fleet.json") <(jq -S . "$WORK/local.json") &&
   cmp -s <(jq -S '.hosts[1].report' "$WORK/fleet.json") <(jq -S . "$WORK/ssh.json") &&
   jq -e --arg u "$REFUSED" '.hosts[2] | (has("report") | not) and (.error | startswith("cannot connect to " + $u + ": ") and contains("Permission denied (publickey") and contains("hint: 127.0.0.1 refused the key"))' "$WORK/fleet.json" >/dev/null 2>&1; then
  ok "each report is the single-host document; the refused host carries its error"
else
  not_ok "fleet JSON entries: $(jq -c '.hosts[] | {uri, status, error}' "$WORK/fleet.json" 2>/dev/null | head -c 600)"
fi
fleet_run -c "$REFUSED" -c "$GOOD" -c "$URI" --jobs 3 check --all --format json
if [ "$fleet_rc" -eq "$worst" ] && [ "$(host_lines "$WORK/out")" = "$REFUSED=unreachable:3 $GOOD=$st:$rc_local $URI=$st:$rc_local" ]; then
  ok "-c in the other order: the reports in that order"
else
  not_ok "reversed fleet: exit $fleet_rc: $(host_lines "$WORK/out")"
fi
fleet_run -c "$URI" -c "$GOOD" check --all --format json
if [ "$fleet_rc" -eq "$rc_local" ] && [ "$(jq -r '.summary.exit_code' "$WORK/out")" = "$rc_local" ]; then
  ok "without the refused host: exit $fleet_rc, the hosts' own"
else
  not_ok "fleet of two answering hosts: exit $fleet_rc (wanted $rc_local)"
fi
fleet_run -c "$URI" -c "$GOOD" -c "$REFUSED" groups --format json
if [ "$fleet_rc" -eq 1 ] && [ "$(host_lines "$WORK/out")" = "$URI=ok:0 $GOOD=ok:0 $REFUSED=unreachable:1" ] &&
   cmp -s <(jq -S '.hosts[1].report' "$WORK/out") <(jq -S . "$WORK/groups.local.json"); then
  ok "groups over the fleet: exit 1 for the refused host, the others' groups documents"
else
  not_ok "groups over the fleet: exit $fleet_rc: $(host_lines "$WORK/out")"
fi
# Concurrency, as figures: the local host and four over ssh, one at a time
# and four at once.
fleet_run --jobs 1 -c "$URI" -c "$GOOD" -c "$GOOD" -c "$GOOD" -c "$GOOD" check --all --format json
jobs1_time=$fleet_time
cp "$WORK/out" "$WORK/jobs1.json"
fleet_run --jobs 4 -c "$URI" -c "$GOOD" -c "$GOOD" -c "$GOOD" -c "$GOOD" check --all --format json
jobs4_time=$fleet_time
if [ "$fleet_rc" -eq "$rc_local" ] && [ "$(jq "[.hosts[] | select(.status == \"$st\")] | length" "$WORK/out")" = 5 ] &&
   cmp -s "$WORK/jobs1.json" "$WORK/out"; then
  ok "five connections at once (one local, four over ssh): all answer, as one at a time"
else
  not_ok "five connections: exit $fleet_rc: $(host_lines "$WORK/out")"
fi
# What ssh alone costs: one connection running `true`.
t=$(now)
timeout 30 ssh -p "$SSH_PORT" -i "$SSH_DIR/good_key" -o BatchMode=yes root@127.0.0.1 true >/dev/null 2>&1 \
  || not_ok "ssh -p $SSH_PORT -i good_key root@127.0.0.1 true fails"
ssh_alone=$(since "$t")
echo "timing: check --all over ssh: cold (first connection to the new sshd) ${cold} s, warm ${warm[*]} s; over $URI ${local_time} s; ssh alone (ssh ... true) ${ssh_alone} s; refused key ${refused_time} s"
echo "timing: fleet (local, ssh, refused) ${fleet_text_time} s; local + 4 over ssh: --jobs 1 ${jobs1_time} s, --jobs 4 ${jobs4_time} s"

for name in "$FLEET_DEV" "$FLEET_NET"; do
  if vsh undefine "$name" >"$WORK/out" 2>&1; then ok "undefine $name"; else not_ok "undefine $name: $(cat "$WORK/out")"; fi
done
# sshd stopped, known_hosts as it was, no sshd of this run left.
sshd_pid=$(pid_of "$SSH_DIR/sshd.pid")
ssh_teardown
if [ -n "$sshd_pid" ] && ! kill -0 "$sshd_pid" 2>/dev/null && ! pgrep -f "$SSH_DIR/sshd_config" >/dev/null; then
  ok "sshd ($sshd_pid) stopped, no sshd process of this run left"
else
  not_ok "sshd of this run still runs: $(pgrep -af "$SSH_DIR/sshd_config")"
fi
if { [ -z "$known_hosts_size" ] && [ ! -e "$kh" ]; } || { [ -n "$known_hosts_size" ] && cmp -s "$kh" "$SSH_DIR/known_hosts.before"; }; then
  ok "$kh as before this run"
else
  not_ok "$kh changed: $(diff "$SSH_DIR/known_hosts.before" "$kh" 2>&1 | head -3)"
fi

# (j) hostdev-recover.service as systemd runs it after libvirtd starts: its
# ExecStart read from the unit file, run from / with an empty environment
# (so the configuration is /etc/hostdev/hostdev.conf: the fake root). Two
# journals on the fake root: a domain that is not running holds the GTX 970
# pair (02:00.0 from nouveau, 02:00.1 from snd_hda_intel, now on vfio-pci),
# and a TCG domain this libvirtd runs holds 03:00.0 (the fake root's /proc
# holds its QEMU's command line, where `hostdev recover` looks for
# -uuid UUID). A small loop plays the kernel: a bind written to a driver's
# bind file moves the device's driver link there.
step "(j) hostdev-recover.service: ExecStart of $UNIT"
unit_line() { sed -n "s/^$1=//p" "$UNIT"; }
if [ "$(unit_line Type)" = oneshot ] && ! grep -Eq '^RemainAfterExit=(yes|true|on|1)' "$UNIT" &&
   unit_line After | grep -qw libvirtd.service && unit_line After | grep -qw virtqemud.service &&
   unit_line WantedBy | grep -qw libvirtd.service && unit_line WantedBy | grep -qw virtqemud.service; then
  ok "$UNIT: Type=oneshot without RemainAfterExit, After= and WantedBy= libvirtd.service and virtqemud.service"
else
  not_ok "$UNIT: $(grep -E '^(Type|RemainAfterExit|After|WantedBy)=' "$UNIT" | tr '\n' ' ')"
fi
read -r -a exec_start <<<"$(unit_line ExecStart)"
if [ "$MODE" = built ]; then
  # The built unit names hostdev in the install prefix: run the built one with the unit's arguments.
  echo "built unit's ExecStart: ${exec_start[*]} (run with $HOSTDEV)"
  exec_start[0]=$HOSTDEV
fi
[ "${exec_start[0]:-}" = "$HOSTDEV" ] || not_ok "ExecStart runs ${exec_start[0]:-nothing}, not $HOSTDEV"
run_unit() { (cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${exec_start[@]}"); }

R=$WORK/root
RUNNING=hostdev-test-running-$SUFFIX
GONE=hostdev-test-gone-$SUFFIX
extra_domains+=("$RUNNING")
test_domain "$RUNNING" >"$WORK/running.xml"
vsh define "$WORK/running.xml" >"$WORK/out" 2>&1 || not_ok "define $RUNNING: $(cat "$WORK/out")"
if vsh start "$RUNNING" >"$WORK/out" 2>&1; then ok "start $RUNNING"; else not_ok "start $RUNNING: $(cat "$WORK/out")"; fi
running_uuid=$(vsh domuuid "$RUNNING" 2>/dev/null | head -1)
qemu_pid=$(cat "/run/libvirt/qemu/$RUNNING.pid" 2>/dev/null)
if [ -n "$qemu_pid" ] && tr '\0' '\n' <"/proc/$qemu_pid/cmdline" | grep -qx -- "$running_uuid"; then
  ok "$RUNNING runs as QEMU $qemu_pid with -uuid $running_uuid"
else
  not_ok "no QEMU of $RUNNING (pid '${qemu_pid}') with its uuid '$running_uuid'"
fi
# The fake root's /proc: this QEMU's command line, byte for byte.
mkdir -p "$R/proc/$qemu_pid"
cat "/proc/$qemu_pid/cmdline" >"$R/proc/$qemu_pid/cmdline" 2>/dev/null
gone_uuid=$(cat /proc/sys/kernel/random/uuid)

drivers=$R/sys/bus/pci/drivers
mkdir -p "$drivers/vfio-pci"
for f in bind unbind new_id remove_id; do [ -e "$drivers/vfio-pci/$f" ] || : >"$drivers/vfio-pci/$f"; done
dev_dir() { echo "$R/sys/bus/pci/devices/$1"; }
driver_of() { basename "$(readlink "$(dev_dir "$1")/driver")"; }
set_driver() { ln -sfn "$(dirname "$(readlink "$(dev_dir "$1")/driver")")/$2" "$(dev_dir "$1")/driver"; }
declare -A original
for a in 0000:02:00.0 0000:02:00.1 0000:03:00.0; do
  original[$a]=$(driver_of "$a")
  cp "$(dev_dir "$a")/driver_override" "$WORK/override.$a"
  [ -e "$drivers/${original[$a]}/bind" ] || : >"$drivers/${original[$a]}/bind"
  set_driver "$a" vfio-pci
  printf 'vfio-pci\n' >"$(dev_dir "$a")/driver_override"
done
echo "before recover: 02:00.0 ${original[0000:02:00.0]}, 02:00.1 ${original[0000:02:00.1]}, 03:00.0 ${original[0000:03:00.0]}, all now on $(driver_of 0000:02:00.0)"
journal() {  # journal UUID NAME ADDR:GROUP...
  local uuid=$1 name=$2 sep="" d
  shift 2
  printf '{\n  "format": "hostdev-journal",\n  "version": 1,\n  "owner": {\n    "key": "%s",\n    "name": "%s"\n  },\n  "state": "detached",\n  "pid": 1,\n  "devices": [' "$uuid" "$name"
  for d in "$@"; do
    printf '%s\n    {\n      "address": "%s",\n      "group": %s,\n      "original_driver": "%s",\n      "original_override": null,\n      "done": [1, 2, 3]\n    }' \
      "$sep" "${d%:*}" "${d##*:}" "${original[${d%:*}]}"
    sep=,
  done
  printf '\n  ]\n}\n'
}
mkdir -p -m 700 "$R/run/hostdev"
journal "$gone_uuid" "$GONE" 0000:02:00.0:13 0000:02:00.1:13 >"$R/run/hostdev/$gone_uuid.json"
journal "$running_uuid" "$RUNNING" 0000:03:00.0:14 >"$R/run/hostdev/$running_uuid.json"
"$HOSTDEV" status --root "$R" >"$WORK/status.before" 2>&1
sed 's/^/  /' "$WORK/status.before"
# The kernel's part: a bind of ADDR written to DRIVER/bind moves ADDR there,
# and an emptied driver_override reads as the kernel shows it again.
(
  while :; do
    for a in 0000:02:00.0 0000:02:00.1 0000:03:00.0; do
      b=$drivers/${original[$a]}/bind
      if [ -s "$b" ] && [ "$(cat "$b")" = "$a" ]; then set_driver "$a" "${original[$a]}"; : >"$b"; fi
      o=$(dev_dir "$a")/driver_override
      [ -n "$(tr -d '\n' <"$o")" ] || cp "$WORK/override.$a" "$o"
    done
    sleep 0.02
  done
) &
sim_kernel_pid=$!
t=$(date +%s.%N)
run_unit >"$WORK/recover.out" 2>"$WORK/recover.err"
rc=$?
echo "ExecStart (${exec_start[*]}) exit $rc in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s:"
sed 's/^/  /' "$WORK/recover.out" "$WORK/recover.err"
if [ "$rc" -eq 0 ] && [ "$(driver_of 0000:02:00.0)" = "${original[0000:02:00.0]}" ] &&
   [ "$(driver_of 0000:02:00.1)" = "${original[0000:02:00.1]}" ] && [ ! -e "$R/run/hostdev/$gone_uuid.json" ]; then
  ok "the journal of $GONE (not running): 02:00.0 back on $(driver_of 0000:02:00.0), 02:00.1 on $(driver_of 0000:02:00.1), journal gone"
else
  not_ok "$GONE's devices: exit $rc, 02:00.0 on $(driver_of 0000:02:00.0), 02:00.1 on $(driver_of 0000:02:00.1), journal $(ls "$R/run/hostdev")"
fi
for n in 1 2; do
  if [ "$(driver_of 0000:03:00.0)" = vfio-pci ] && [ -f "$R/run/hostdev/$running_uuid.json" ] &&
     grep -q "'$RUNNING' ($running_uuid) is running and holds 1 device(s); kept" "$WORK/recover.err" &&
     [ "$(vsh domstate "$RUNNING" 2>&1)" = running ]; then
    ok "run $n: $RUNNING (running) keeps 03:00.0 on vfio-pci and its journal; the guest runs on"
  else
    not_ok "run $n: $RUNNING: 03:00.0 on $(driver_of 0000:03:00.0), state $(vsh domstate "$RUNNING" 2>&1): $(cat "$WORK/recover.err")"
  fi
  # The daemon's next start runs the unit again (oneshot, not remaining active).
  [ "$n" = 1 ] && { run_unit >"$WORK/recover.out" 2>"$WORK/recover.err"; rc=$?; echo "again: exit $rc"; }
done
# The guest stops: the hook's release gives 03:00.0 back (the loop still plays the kernel).
vsh destroy "$RUNNING" >/dev/null 2>&1
for _ in $(seq 100); do grep -q " $RUNNING release end " "$WORK/hook.log" 2>/dev/null && break; sleep 0.1; done
if [ "$(driver_of 0000:03:00.0)" = "${original[0000:03:00.0]}" ] && [ ! -e "$R/run/hostdev/$running_uuid.json" ] &&
   grep -Eq "^[^ ]+ $RUNNING release end 0\$" "$WORK/hook.log"; then
  ok "$RUNNING stopped: the hook's release returned 03:00.0 to ${original[0000:03:00.0]}, its journal gone"
else
  not_ok "$RUNNING stopped: 03:00.0 on $(driver_of 0000:03:00.0), journals: $(ls "$R/run/hostdev")"
fi
kill "$sim_kernel_pid" 2>/dev/null
wait "$sim_kernel_pid" 2>/dev/null
sim_kernel_pid=""
vsh undefine "$RUNNING" >"$WORK/out" 2>&1 && ok "undefine $RUNNING" || not_ok "undefine $RUNNING: $(cat "$WORK/out")"

echo "hook log:"
sed 's/^/  /' "$WORK/hook.log" 2>/dev/null
echo
checks_end
