#!/usr/bin/env bash
# The Debian packages, built and installed for real (Debian 12, as root).
#
#   tests/package/run.sh BUILD_DIR SOURCE_DIR
#
#   build    copies the source (the files git knows, or the tree without its
#            build directories) to BUILD_DIR/package/hostdev-VERSION (a fixed
#            path, so that ccache finds the previous run's objects) and runs
#            `dpkg-buildpackage -us -uc -b` there with DEB_BUILD_OPTIONS=nocheck;
#            the source tree is left as it was (git status); lintian on the
#            result fails on errors and lists every tag; dpkg -c of each .deb;
#   install  `apt-get install ./hostdev_*.deb ./virt-hostdev_*.deb`, as a user
#            would (no libvirt daemon running: nothing to reload);
#   test     tests/libvirtd/run.sh --installed: the libvirtd suite on the
#            installed hook and binaries (hostdev.conf pointed at a fake root,
#            put back: the conffile ends byte for byte as installed, dpkg
#            --verify silent);
#   reload   with this test's own libvirtd running a guest: reinstalling over
#            itself sends the daemon SIGHUP, the guest and the daemon run on;
#            `apt-get purge` refuses while a journal in /run/hostdev says devices
#            are detached (which domain, which devices, what to run) and the
#            package stays installed; `apt-get remove` sends SIGHUP, the guest
#            runs on and libvirtd still starts guests, without the hook
#            (libvirt's own log of the commands it runs); installing with the
#            daemon running makes it run the hook; `dpkg --purge` refuses
#            again with a journal, then purges;
#   purge    nothing of what `dpkg -L` listed before the removal is left (but
#            the directories that were there before), nor /etc/hostdev,
#            /run/hostdev or hostdev-recover.service's enablement links.
# Prints how long each phase takes, and "N passed, N failed".
# Refuses to run when hostdev is installed as a package, when /etc/hostdev or
# /run/hostdev exist, or when libvirtd, virtqemud or virtlogd run. Undoes at
# exit what it did (daemons stopped by PID, domains undefined, packages
# purged, qemu.conf restored); the build dependencies apt installed stay.
set -uo pipefail
export LC_ALL=C

BUILD=${1:?usage: run.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: run.sh BUILD_DIR SOURCE_DIR}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$SRC" && pwd)
URI=qemu:///system
VIRSH_TIMEOUT=60

CHECKS_NAME=package/run.sh
# shellcheck source=../support/checks.sh
. "$SRC/tests/support/checks.sh"
now() { date +%s; }
timings=()
timed() { timings+=("$1 $(($(now) - $2)) s"); }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs and purges the packages)"
for tool in dpkg-buildpackage dh lintian apt-get; do
  command -v "$tool" >/dev/null || die "$tool is missing: install debhelper, dpkg-dev and lintian (scripts/setup.sh does)"
done
for p in hostdev virt-hostdev; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  case "$st" in "" | *not-installed) ;; *) die "package $p is on this machine ($st): this test installs and purges it; purge it first (apt-get purge $p)" ;; esac
done
for d in /etc/hostdev /run/hostdev; do
  [ ! -e "$d" ] || die "$d exists: this test checks that purge removes it; move it away first (is hostdev installed with cmake --install?)"
done
for d in libvirtd virtqemud virtlogd; do
  pgrep -x "$d" >/dev/null && die "$d is already running on this machine; this test starts its own daemons: stop it first"
done
VERSION=$(sed -n 's/^project(hostdev VERSION \([0-9.]*\)[ )].*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$VERSION" ] || die "no project(hostdev VERSION ...) in $SRC/CMakeLists.txt"
ARCH=$(dpkg --print-architecture)
PKG=$BUILD/package
COPY=$PKG/hostdev-$VERSION
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-package-XXXXXX")
chmod 755 "$WORK"
export DEBIAN_FRONTEND=noninteractive
SUFFIX=$$
GUEST=hostdev-test-pkg-guest-$SUFFIX
LATER=hostdev-test-pkg-later-$SUFFIX
JOURNAL_UUID=$(cat /proc/sys/kernel/random/uuid)
HELD=hostdev-test-pkg-held-$SUFFIX
log_dir_created=no
qemu_conf_backup=""
qemu_conf_created=no
run_dir_created=no

vsh() { timeout --kill-after=5 "$VIRSH_TIMEOUT" virsh -q -c "$URI" "$@"; }
stop_daemon() {  # stop_daemon PIDFILE NAME
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
installed_status() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null; }
cleanup() {
  local rc=$?
  set +e
  if [ -s "$WORK/libvirtd.pid" ] && kill -0 "$(cat "$WORK/libvirtd.pid")" 2>/dev/null; then
    for d in "$GUEST" "$LATER"; do vsh destroy "$d" >/dev/null 2>&1; vsh undefine "$d" >/dev/null 2>&1; done
  fi
  stop_daemon "$WORK/libvirtd.pid" libvirtd
  stop_daemon "$WORK/virtlogd.pid" virtlogd
  for d in "$GUEST" "$LATER"; do rm -f "/etc/libvirt/qemu/$d.xml" "/var/log/libvirt/qemu/$d.log"; done
  rm -f "/run/hostdev/$JOURNAL_UUID.json"
  for p in hostdev virt-hostdev; do
    case "$(installed_status "$p")" in
      "" | *not-installed) ;;
      *) echo "package/run.sh: purging $p, left by a failed run" >&2; dpkg --purge "$p" >/dev/null 2>&1 ;;
    esac
  done
  [ "$run_dir_created" = yes ] && rm -rf /run/hostdev
  [ -n "$qemu_conf_backup" ] && cp -p "$qemu_conf_backup" /etc/libvirt/qemu.conf
  [ "$qemu_conf_created" = yes ] && rm -f /etc/libvirt/qemu.conf
  [ "$log_dir_created" = yes ] && rm -rf /var/log/libvirt
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
step "build: dpkg-buildpackage -us -uc -b in $COPY"
t=$(now)
git -C "$SRC" status --porcelain --ignored=no >"$WORK/git.before" 2>/dev/null
rm -rf "$COPY" "$PKG"/*.deb "$PKG"/*.ddeb "$PKG"/*.changes "$PKG"/*.buildinfo
mkdir -p "$COPY"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked and untracked files, not the ignored ones (build trees).
  (cd "$SRC" && git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$COPY" \
    || die "cannot copy the source to $COPY"
else
  (cd "$SRC" && tar --exclude=./build --exclude='./build-*' --exclude=./.git -cf - .) | tar -xf - -C "$COPY" \
    || die "cannot copy the source to $COPY"
fi
(cd "$COPY" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1
rc=$?
timed build "$t"
if [ "$rc" -ne 0 ]; then tail -40 "$WORK/build.log" >&2; die "dpkg-buildpackage failed (exit $rc); the log's end is above"; fi
ok "dpkg-buildpackage -us -uc -b ($(($(now) - t)) s)"
grep -E 'ccache|cache hit' "$WORK/build.log" >/dev/null && echo "note: built through ccache"
git -C "$SRC" status --porcelain --ignored=no >"$WORK/git.after" 2>/dev/null
if cmp -s "$WORK/git.before" "$WORK/git.after"; then ok "the source tree is as before the build (git status)"; else not_ok "the build changed the source tree: $(diff "$WORK/git.before" "$WORK/git.after")"; fi
DEBS=("$PKG/hostdev_${VERSION}_$ARCH.deb" "$PKG/virt-hostdev_${VERSION}_$ARCH.deb")
for deb in "${DEBS[@]}"; do
  [ -f "$deb" ] || die "$deb was not built: $(ls "$PKG")"
  echo "dpkg -c $(basename "$deb"):"
  dpkg -c "$deb" | awk '{ print "  " $1, $6, $7, $8 }'
  v=$(dpkg-deb -f "$deb" Version)
  [ "$v" = "$VERSION" ] && ok "$(basename "$deb"): version $v, as CMakeLists.txt" || not_ok "$(basename "$deb"): version $v, CMakeLists.txt says $VERSION"
done
# The split: libvirt only in virt-hostdev.
for deb in "${DEBS[@]}"; do dpkg-deb -f "$deb" Depends; done >"$WORK/depends"
if ! dpkg-deb -f "${DEBS[0]}" Depends | grep -q libvirt && dpkg-deb -f "${DEBS[1]}" Depends | grep -q 'libvirt0'; then
  ok "hostdev depends on no libvirt library ($(dpkg-deb -f "${DEBS[0]}" Depends)); virt-hostdev on libvirt0"
else
  not_ok "dependencies: $(cat "$WORK/depends")"
fi
mkdir "$WORK/ctrl" "$WORK/data"
dpkg-deb -e "${DEBS[0]}" "$WORK/ctrl" && dpkg-deb -x "${DEBS[0]}" "$WORK/data"
if grep -qx /etc/hostdev/hostdev.conf "$WORK/ctrl/conffiles"; then ok "/etc/hostdev/hostdev.conf is a conffile"; else not_ok "conffiles: $(cat "$WORK/ctrl/conffiles")"; fi
# Every key the parser knows, commented at its default; the file parses.
keys=$(grep -o 'known: [^)]*' "$SRC/libhostdev/src/binding/config.cpp" | tr -d '"' | tr -s ' ' | sed 's/known: //; s/,//g')
conf=$WORK/data/etc/hostdev/hostdev.conf
missing=""
for k in $keys; do grep -Eq "^#$k =( |\$)" "$conf" || missing="$missing $k"; done
if [ -n "$keys" ] && [ -z "$missing" ] && ! grep -Eq '^[[:space:]]*[a-z_]+[[:space:]]*=' "$conf"; then
  ok "the shipped hostdev.conf has every key ($(echo $keys | wc -w)) commented at its default, none set"
else
  not_ok "the shipped hostdev.conf: keys missing:${missing:- none}; set: $(grep -E '^[[:space:]]*[a-z_]+[[:space:]]*=' "$conf")"
fi
mkdir "$WORK/empty-root"
if HOSTDEV_CONFIG=$conf "$WORK/data/usr/bin/hostdev" status --root "$WORK/empty-root" >/dev/null 2>"$WORK/err"; then
  ok "the shipped hostdev.conf is read without error"
else
  not_ok "the shipped hostdev.conf: $(cat "$WORK/err")"
fi
# The functions shared by the maintainer scripts are the same in each.
for pair in "check_journals prerm postrm" "reload_libvirt postinst postrm"; do
  read -r fn a b <<<"$pair"
  block() { sed -n "/^# BEGIN $fn/,/^# END $fn/p" "$SRC/debian/hostdev.$1"; }
  if [ -n "$(block "$a")" ] && cmp -s <(block "$a") <(block "$b"); then ok "$fn: the same in hostdev.$a and hostdev.$b"; else not_ok "$fn differs between hostdev.$a and hostdev.$b"; fi
done

step "lintian"
lintian --fail-on error --display-info --show-overrides "$PKG/hostdev_${VERSION}_$ARCH.changes" >"$WORK/lintian" 2>&1
rc=$?
sed 's/^/  /' "$WORK/lintian"
if [ "$rc" -eq 0 ]; then ok "lintian: no error ($(grep -c '^W: ' "$WORK/lintian") warnings, $(grep -c '^I: ' "$WORK/lintian") notes)"; else not_ok "lintian fails (exit $rc)"; fi

# ---------------------------------------------------------------- install
step "install: apt-get install ./hostdev_${VERSION}_$ARCH.deb ./virt-hostdev_${VERSION}_$ARCH.deb"
# The paths of the packages' contents that exist already (directories shared
# with other packages): after the purge only these may be there.
for deb in "${DEBS[@]}"; do dpkg-deb -c "$deb"; done | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||; /^$/d' | sort -u >"$WORK/contents"
while read -r p; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done <"$WORK/contents" >"$WORK/existed"
t=$(now)
(cd "$PKG" && apt-get install -y "./hostdev_${VERSION}_$ARCH.deb" "./virt-hostdev_${VERSION}_$ARCH.deb") >"$WORK/apt.install" 2>&1
rc=$?
timed install "$t"
if [ "$rc" -eq 0 ]; then ok "apt-get install (exit 0, $(($(now) - t)) s)"; else tail -20 "$WORK/apt.install" >&2; die "apt-get install failed (exit $rc)"; fi
grep -q 'SIGHUP\|reloaded' "$WORK/apt.install" && not_ok "postinst reloaded a daemon, though none runs: $(grep 'SIGHUP\|reloaded' "$WORK/apt.install")"
dpkg -L hostdev virt-hostdev | grep -vx '/\.' | sort -u >"$WORK/listed"
cp -p /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed"
if [ "$(/usr/bin/hostdev --version)" = "hostdev $VERSION" ] && [ -x /etc/libvirt/hooks/qemu.d/50-hostdev ] &&
   [ -f /lib/systemd/system/hostdev-recover.service ] && [ -x /usr/bin/virt-hostdev ]; then
  ok "installed: $(/usr/bin/hostdev --version), the hook /etc/libvirt/hooks/qemu.d/50-hostdev, hostdev-recover.service, virt-hostdev"
else
  not_ok "installed files: $(ls -l /usr/bin/hostdev /etc/libvirt/hooks/qemu.d/50-hostdev /lib/systemd/system/hostdev-recover.service 2>&1)"
fi
for d in libvirtd virtqemud; do
  if [ -L "/etc/systemd/system/$d.service.wants/hostdev-recover.service" ]; then
    ok "hostdev-recover.service enabled: WantedBy $d.service"
  else
    not_ok "no /etc/systemd/system/$d.service.wants/hostdev-recover.service"
  fi
done
find /etc/systemd /var/lib/systemd -name '*hostdev*' 2>/dev/null | sort >"$WORK/systemd.installed"
echo "systemd's state of the unit: $(tr '\n' ' ' <"$WORK/systemd.installed")"

# ---------------------------------------------------------------- test
step "test: tests/libvirtd/run.sh --installed"
t=$(now)
bash "$SRC/tests/libvirtd/run.sh" --installed "$BUILD" "$SRC" >"$WORK/suite.log" 2>&1
rc=$?
timed test "$t"
sed 's/^/  | /' "$WORK/suite.log"
if [ "$rc" -eq 0 ]; then ok "the libvirtd suite on the installed packages: $(tail -1 "$WORK/suite.log")"; else not_ok "the libvirtd suite on the installed packages (exit $rc): $(tail -1 "$WORK/suite.log")"; fi
if cmp -s /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed" && [ -z "$(dpkg --verify hostdev virt-hostdev 2>&1)" ]; then
  ok "the conffile is byte for byte as installed; dpkg --verify is silent"
else
  not_ok "after the suite: $(cmp /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed" 2>&1) $(dpkg --verify hostdev virt-hostdev 2>&1)"
fi

# ---------------------------------------------------------------- reload
step "reload: reinstall, refused purge, remove, with libvirtd running a guest"
t=$(now)
if [ -f /etc/libvirt/qemu.conf ]; then
  qemu_conf_backup=$WORK/qemu.conf.backup
  cp -p /etc/libvirt/qemu.conf "$qemu_conf_backup"
else
  qemu_conf_created=yes
fi
# user and group root, as tests/libvirtd/run.sh sets them (restored at exit).
printf 'user = "root"\ngroup = "root"\n' >/etc/libvirt/qemu.conf
if [ ! -d /var/log/libvirt ]; then mkdir -m 700 /var/log/libvirt && log_dir_created=yes; fi
virtlogd -d -p "$WORK/virtlogd.pid" || die "virtlogd did not start"
# libvirt's own log of the commands it runs: which hooks it calls, and when.
LIBVIRT_LOG_FILTERS="1:util.command" LIBVIRT_LOG_OUTPUTS="1:file:$WORK/libvirtd.log" \
  libvirtd -d -p "$WORK/libvirtd.pid" || die "libvirtd did not start"
for _ in $(seq 120); do timeout 10 virsh -q -c "$URI" version >/dev/null 2>&1 && break; sleep 0.5; done
daemon_pid=$(cat "$WORK/libvirtd.pid")
test_domain "$GUEST" >"$WORK/guest.xml"
test_domain "$LATER" >"$WORK/later.xml"
vsh define "$WORK/guest.xml" >/dev/null 2>&1 && vsh start "$GUEST" >"$WORK/out" 2>&1 \
  && ok "libvirtd ($daemon_pid) runs $GUEST" || not_ok "start $GUEST: $(cat "$WORK/out")"
qemu_pid=$(cat "/run/libvirt/qemu/$GUEST.pid" 2>/dev/null)
alive() {  # the daemon and the guest's QEMU are the same processes as before
  kill -0 "$daemon_pid" 2>/dev/null && [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null &&
    [ "$(vsh domstate "$GUEST" 2>&1)" = running ]
}

(cd "$PKG" && apt-get install -y --reinstall "./hostdev_${VERSION}_$ARCH.deb") >"$WORK/apt.reinstall" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "hostdev: sent SIGHUP to libvirtd ($daemon_pid)" "$WORK/apt.reinstall" && alive &&
   cmp -s /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed"; then
  ok "reinstall over itself: $(grep -o 'hostdev: sent SIGHUP to libvirtd ([0-9]*)' "$WORK/apt.reinstall"); libvirtd and $GUEST (QEMU $qemu_pid) run on; the conffile kept"
else
  not_ok "reinstall: exit $rc: $(grep hostdev: "$WORK/apt.reinstall") $(tail -3 "$WORK/apt.reinstall")"
fi

# A journal saying devices are detached: purge is refused, nothing removed.
held_journal() {
  [ -d /run/hostdev ] || { mkdir -m 700 /run/hostdev && run_dir_created=yes; }
  cat >"/run/hostdev/$JOURNAL_UUID.json" <<JSON
{
  "format": "hostdev-journal",
  "version": 1,
  "owner": {
    "key": "$JOURNAL_UUID",
    "name": "$HELD"
  },
  "state": "detached",
  "pid": 1,
  "devices": [
    {
      "address": "0000:7e:1f.6",
      "group": 99,
      "original_driver": "e1000e",
      "original_override": null,
      "done": [1, 2, 3]
    }
  ]
}
JSON
}
held_journal
apt-get purge -y hostdev virt-hostdev >"$WORK/apt.purge1" 2>&1
rc=$?
echo "apt-get purge with a journal (exit $rc):"
grep -A12 'hostdev: cannot' "$WORK/apt.purge1" | sed 's/^/  /'
if [ "$rc" -ne 0 ] && grep -q "hostdev: cannot remove: hostdev's journals in /run/hostdev say that devices are still detached" "$WORK/apt.purge1" &&
   grep -qF "/run/hostdev/$JOURNAL_UUID.json: domain '$HELD' ($JOURNAL_UUID) holds 0000:7e:1f.6" "$WORK/apt.purge1" &&
   grep -q 'hostdev recover' "$WORK/apt.purge1" && [ "$(installed_status hostdev)" = "install ok installed" ] &&
   [ -x /etc/libvirt/hooks/qemu.d/50-hostdev ] && [ -e /etc/hostdev/hostdev.conf ]; then
  ok "apt-get purge refused (exit $rc): the domain, its device and what to run named; hostdev still installed"
else
  not_ok "apt-get purge with a journal: exit $rc, hostdev $(installed_status hostdev): $(tail -15 "$WORK/apt.purge1")"
fi
rm -f "/run/hostdev/$JOURNAL_UUID.json"

apt-get remove -y hostdev virt-hostdev >"$WORK/apt.remove" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q "hostdev: sent SIGHUP to libvirtd ($daemon_pid)" "$WORK/apt.remove" && alive &&
   [ "$(installed_status hostdev)" = "deinstall ok config-files" ] && [ ! -e /etc/libvirt/hooks/qemu.d/50-hostdev ] &&
   cmp -s /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed"; then
  ok "apt-get remove: the hook gone, the conffile kept, $(grep -o 'hostdev: sent SIGHUP to libvirtd ([0-9]*)' "$WORK/apt.remove"); $GUEST runs on"
else
  not_ok "apt-get remove: exit $rc, hostdev $(installed_status hostdev): $(grep hostdev: "$WORK/apt.remove") $(tail -3 "$WORK/apt.remove")"
fi
if vsh define "$WORK/later.xml" >/dev/null 2>&1 && vsh start "$LATER" >"$WORK/out" 2>&1 && [ "$(vsh domstate "$LATER")" = running ]; then
  ok "after the removal libvirtd still starts guests ($LATER)"
else
  not_ok "after the removal, start $LATER: $(cat "$WORK/out")"
fi
vsh destroy "$LATER" >/dev/null 2>&1
# hook_runs NAME: the hook calls libvirt logged for domain NAME.
hook_runs() { grep -c "About to run .*/etc/libvirt/hooks/qemu.d/50-hostdev $1 prepare begin" "$WORK/libvirtd.log" 2>/dev/null; }
if [ "$(hook_runs "$GUEST")" = 1 ] && [ "$(hook_runs "$LATER")" = 0 ]; then
  ok "libvirtd ran the hook for $GUEST (installed before it started), not for $LATER (started after the removal)"
else
  not_ok "hook calls in libvirtd's log: $GUEST $(hook_runs "$GUEST"), $LATER $(hook_runs "$LATER") (wanted 1 and 0)"
fi
# Installed while the daemon runs: the SIGHUP makes it find the hook.
(cd "$PKG" && apt-get install -y "./hostdev_${VERSION}_$ARCH.deb" "./virt-hostdev_${VERSION}_$ARCH.deb") >"$WORK/apt.install2" 2>&1
rc=$?
vsh start "$LATER" >"$WORK/out" 2>&1
if [ "$rc" -eq 0 ] && grep -q "hostdev: sent SIGHUP to libvirtd ($daemon_pid)" "$WORK/apt.install2" &&
   [ "$(hook_runs "$LATER")" = 1 ] && alive && cmp -s /etc/hostdev/hostdev.conf "$WORK/hostdev.conf.installed"; then
  ok "installed with libvirtd running: $(grep -o 'sent SIGHUP to libvirtd ([0-9]*)' "$WORK/apt.install2"), and libvirtd runs the hook for $LATER now; the kept hostdev.conf in use"
else
  not_ok "install with libvirtd running: exit $rc, hook calls for $LATER: $(hook_runs "$LATER"): $(grep hostdev: "$WORK/apt.install2") $(cat "$WORK/out")"
fi
vsh destroy "$LATER" >/dev/null 2>&1
apt-get remove -y hostdev virt-hostdev >"$WORK/apt.remove2" 2>&1 || not_ok "apt-get remove (again): $(tail -3 "$WORK/apt.remove2")"

held_journal
dpkg --purge hostdev >"$WORK/dpkg.purge" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -qF "hostdev: cannot purge: hostdev's journals in /run/hostdev say" "$WORK/dpkg.purge" &&
   grep -qF "domain '$HELD' ($JOURNAL_UUID) holds 0000:7e:1f.6" "$WORK/dpkg.purge" && [ -e "/run/hostdev/$JOURNAL_UUID.json" ]; then
  ok "dpkg --purge of the removed package refused (exit $rc), the journal kept; hostdev: $(installed_status hostdev)"
else
  not_ok "dpkg --purge with a journal: exit $rc: $(cat "$WORK/dpkg.purge")"
fi
grep 'hostdev: cannot' "$WORK/dpkg.purge" | sed 's/^/  /'
# dpkg removes the conffiles before it runs postrm purge: say what a refused purge left.
echo "after the refused purge: hostdev $(installed_status hostdev), /etc/hostdev/hostdev.conf $([ -e /etc/hostdev/hostdev.conf ] && echo present || echo gone)"
rm -f "/run/hostdev/$JOURNAL_UUID.json"
timed reload "$t"

# ---------------------------------------------------------------- purge
step "purge"
t=$(now)
apt-get purge -y hostdev virt-hostdev >"$WORK/apt.purge" 2>&1
rc=$?
timed purge "$t"
if [ "$rc" -eq 0 ] && [ -z "$(dpkg-query -W -f='${Status}\n' hostdev virt-hostdev 2>/dev/null | grep -v not-installed)" ]; then
  ok "apt-get purge (exit 0)"
else
  not_ok "apt-get purge: exit $rc: $(tail -5 "$WORK/apt.purge")"
fi
left=""
while read -r p; do
  { [ -e "$p" ] || [ -L "$p" ]; } || continue
  grep -qxF "$p" "$WORK/existed" || left="$left $p"
done <"$WORK/listed"
for p in /etc/hostdev /run/hostdev; do { [ -e "$p" ] || [ -L "$p" ]; } && left="$left $p"; done
left="$left $(find /etc/systemd /var/lib/systemd -name '*hostdev*' 2>/dev/null | tr '\n' ' ')"
if [ -z "${left// /}" ] && [ "$(wc -l <"$WORK/listed")" -gt 10 ]; then
  ok "nothing left of the $(wc -l <"$WORK/listed") paths dpkg -L listed (but $(wc -l <"$WORK/existed") directories that were there before), nor /etc/hostdev, /run/hostdev or the unit's links"
else
  not_ok "left after the purge:$left"
fi
if vsh start "$LATER" >"$WORK/out" 2>&1 && alive; then ok "after the purge libvirtd starts guests; $GUEST ran through it all"; else not_ok "after the purge: $(cat "$WORK/out")"; fi

echo
echo "timing: ${timings[*]}"
checks_end
