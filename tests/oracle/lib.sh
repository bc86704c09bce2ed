# Helpers for the oracle tests: libvirt's own QEMU driver, run in-process by
# virsh through qemu:///embed?root=DIR, judges what hostdev reads and writes.
# No daemon is started and no device of this machine is touched: the embedded
# driver keeps its whole state (configuration, capability cache, domain
# definitions) under DIR, a fresh directory removed at exit, and a define
# starts nothing.
#
#   . lib.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
export LC_ALL=C

BUILD=${1:?usage: SCRIPT BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: SCRIPT BUILD_DIR SOURCE_DIR}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$SRC" && pwd)
HOSTDEV_FIX=$BUILD/cli/hostdev-fix
FAKEROOT=$BUILD/tests/support/hostdev-fakeroot
VIRSH_TIMEOUT=300  # seconds; the first call probes QEMU's capabilities (~5 s)

passed=0
failed=0
ok() { passed=$((passed + 1)); }
not_ok() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
die() { echo "$(basename "$0"): $*" >&2; echo; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
finish() {
  echo; echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# The unix sockets of the embedded driver live under its root: keep the path short.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-oracle-XXXXXX") || die "cannot make a work directory"
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

# Installs what is missing, as tests/libvirtd/run.sh does (never
# libvirt-daemon-system, never a daemon).
need_packages() {
  local need=() p
  for p in libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 jq; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages ${need[*]} (run as root to install them)"
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; then
      apt-get update -q >>"$WORK/apt.log" 2>&1
      apt-get install -y -q --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 \
        || { tail -20 "$WORK/apt.log" >&2; die "cannot install ${need[*]}"; }
    fi
  fi
  for tool in virsh qemu-system-x86_64 jq; do
    command -v "$tool" >/dev/null || die "$tool not found after installing the packages"
  done
  # As root, the QEMU driver looks up the user and group Debian builds it
  # with (libvirt-qemu) before it reads qemu.conf, and refuses to start
  # without them. libvirt-daemon-system creates both; without that package
  # (a fresh machine), make them as its postinst does: a system user with no
  # login and no home.
  if [ "$(id -u)" -eq 0 ] && ! getent passwd libvirt-qemu >/dev/null; then
    echo "adding the system user libvirt-qemu (as libvirt-daemon-system does)"
    getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu || die "cannot add the group libvirt-qemu"
    useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt \
      --shell /usr/sbin/nologin libvirt-qemu || die "cannot add the user libvirt-qemu"
  fi
}

# new_embed_root NAME: a fresh root for the embedded QEMU driver, in $EMBED.
# As root, qemu.conf runs QEMU as root: otherwise libvirt probes QEMU's
# capabilities again on every call (seconds each).
new_embed_root() {
  EMBED=$WORK/$1
  mkdir -p "$EMBED/etc" || die "cannot make $EMBED"
  if [ "$(id -u)" -eq 0 ]; then
    printf 'user = "root"\ngroup = "root"\n' >"$EMBED/etc/qemu.conf"
  fi
}

# embed_virsh [VIRSH_OPTION...] COMMANDS: one virsh process on the embedded
# driver under $EMBED, running COMMANDS (';'-separated; virsh goes on after a
# failed one and exits 0).
embed_virsh() {
  local commands=${!#}
  timeout --kill-after=5 "$VIRSH_TIMEOUT" virsh "${@:1:$#-1}" -c "qemu:///embed?root=$EMBED" "$commands"
}

# as_qemu_type IN OUT: a copy whose <domain type='kvm'> reads type='qemu'.
# The QEMU driver accepts type='kvm' only when its capabilities show a usable
# /dev/kvm, which CI machines do not have (and KVM guests hang on these
# machines); the guest-address checks do not depend on the type. Only the
# root element's type changes; every other byte is as hostdev wrote it.
as_qemu_type() {
  sed -E "0,/<domain([^>]*[[:space:]])type=(['\"])kvm(['\"])/s//<domain\\1type=\\2qemu\\3/" "$1" >"$2"
}
