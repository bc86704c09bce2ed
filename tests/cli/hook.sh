#!/usr/bin/env bash
# hostdev-hook as libvirt runs it: argv NAME OP SUBOP EXTRA, the domain XML on
# stdin, the configuration from HOSTDEV_CONFIG pointing at a fake root. Nothing
# here can move a device: the refusals happen before any write.
. "$(dirname "$0")/lib.sh"

HOOK=$BUILD/hooks/hostdev-hook
D=$SRC/examples/domains
"$FAKEROOT" "$SRC/examples/hosts/src/z170-gtx970.spec" "$WORK/root" || { echo "cannot build fake root"; exit 1; }
cat >"$WORK/hostdev.conf" <<EOF
# hook test configuration
root = $WORK/root
log_file = $WORK/hook.log
wait_timeout_ms = 500
lock_timeout_ms = 2000
EOF
export HOSTDEV_CONFIG=$WORK/hostdev.conf

cat >"$WORK/plain.xml" <<'EOF'
<domain type='qemu' id='3'>
  <name>plain</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>
EOF

# Everything about the fake root that a hook could change: drivers, overrides,
# every file and link (the log file lives outside the root). The binder's lock
# file (run/hostdev/lock) may appear; a journal may not.
root_state() {
  "$HOSTDEV" groups --root "$WORK/root" --format json
  # Sizes of files only: a directory's size depends on the file system (on tmpfs it counts entries).
  (cd "$WORK/root" && find . -path ./run -prune -o -type d -printf '%p d\n' -o -printf '%p %y %l %s\n' | LC_ALL=C sort)
  find "$WORK/root/run" -name '*.json' 2>/dev/null
  cat "$WORK"/root/sys/bus/pci/devices/*/driver_override
}
root_state >"$WORK/before" || { echo "cannot read the fake root"; exit 1; }
expect_empty() {  # expect_empty FILE WHAT
  if [ -s "$1" ]; then not_ok "$2 not empty: $(head -c 200 "$1")"; else ok; fi
}
expect_lines() {  # expect_lines N FILE
  local n; n=$(wc -l <"$2")
  if [ "$n" -eq "$1" ]; then ok; else not_ok "$(basename "$2") has $n lines, wanted $1"; cat "$2" >&2; fi
}

# A domain without hostdevs: 0 at every step, silent, nothing changed.
for step in "prepare begin" "start begin" "started begin" "stopped end" "release end" \
            "reconnect begin" "migrate begin" "restore begin"; do
  # shellcheck disable=SC2086
  expect_rc 0 "$HOOK" plain $step - <"$WORK/plain.xml"
  expect_empty "$WORK/out" "stdout of $step"
  expect_empty "$WORK/err" "stderr of $step"
done
root_state >"$WORK/after"
expect_same "$WORK/before" "$WORK/after"
if [ -e "$WORK/root/run/hostdev" ]; then not_ok "the fast path created the journal directory"; else ok; fi
# One log line per call.
expect_lines 8 "$WORK/hook.log"
expect_grep '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} plain prepare begin 0$' "$WORK/hook.log"
expect_grep ' plain release end 0$' "$WORK/hook.log"

# A blocked group: exit 1, one line on stderr naming the reason, nothing changed.
expect_rc 1 "$HOOK" audio-guest prepare begin - <"$D/blocked-hda.xml"
expect_lines 1 "$WORK/err"
expect_grep '^hostdev: audio-guest: .*lpc_ich' "$WORK/err"
expect_empty "$WORK/out" "stdout of a refused prepare"
expect_grep ' audio-guest prepare begin 1$' "$WORK/hook.log"
# libvirt then runs stopped and release: 0, nothing to return.
expect_rc 0 "$HOOK" audio-guest stopped end - <"$D/blocked-hda.xml"
expect_rc 0 "$HOOK" audio-guest release end - <"$D/blocked-hda.xml"
expect_empty "$WORK/err" "stderr of release after a refusal"
root_state >"$WORK/after"
expect_same "$WORK/before" "$WORK/after"

# migrate and restore print nothing, with hostdevs too (stdout would replace the XML).
for step in "migrate begin" "restore begin"; do
  # shellcheck disable=SC2086
  expect_rc 0 "$HOOK" win10-gaming $step - <"$D/win10-gtx970.xml"
  expect_empty "$WORK/out" "stdout of $step"
done
# reconnect always exits 0.
expect_rc 0 "$HOOK" win10-gaming reconnect begin - <"$D/win10-gtx970.xml"
expect_empty "$WORK/out" "stdout of reconnect"

# A large document (over 1 MiB) is read whole, without blocking the writer.
{ sed '$d' "$WORK/plain.xml"; for _ in $(seq 20000); do echo "  <!-- padding padding padding padding padding -->"; done; echo '</domain>'; } >"$WORK/big.xml"
expect_rc 0 "$HOOK" plain prepare begin - <"$WORK/big.xml"

# Over 64 MiB: read to the end (the writer never blocks), refused at prepare.
{ printf "<domain><name>huge</name>"; head -c 70000000 /dev/zero | tr '\0' ' '; printf "</domain>"; } >"$WORK/huge.xml"
expect_rc 1 "$HOOK" huge prepare begin - <"$WORK/huge.xml"
expect_lines 1 "$WORK/err"
expect_grep '^hostdev: huge: the domain XML on stdin is larger than 64 MiB$' "$WORK/err"
expect_rc 0 "$HOOK" huge release end - <"$WORK/huge.xml"
rm -f "$WORK/huge.xml"

# No stdin at all, or an empty one.
expect_rc 0 "$HOOK" vm start begin - </dev/null
expect_rc 0 "$HOOK" vm start begin - <&-

# Too few arguments: usage on stderr, 1.
expect_rc 1 "$HOOK" vm prepare </dev/null
expect_grep 'usage: hostdev-hook NAME OPERATION SUBOP' "$WORK/err"

# A broken configuration never stops a domain without hostdevs; with hostdevs,
# prepare is refused with the file and line, other steps exit 0.
printf 'root = %s\nrot = /\n' "$WORK/root" >"$WORK/bad.conf"
HOSTDEV_CONFIG=$WORK/bad.conf expect_rc 0 "$HOOK" plain prepare begin - <"$WORK/plain.xml"
HOSTDEV_CONFIG=$WORK/bad.conf expect_rc 1 "$HOOK" audio-guest prepare begin - <"$D/blocked-hda.xml"
expect_lines 1 "$WORK/err"
expect_grep "^hostdev: audio-guest: bad configuration: $WORK/bad.conf:2: unknown key 'rot'" "$WORK/err"
HOSTDEV_CONFIG=$WORK/bad.conf expect_rc 0 "$HOOK" audio-guest release end - <"$D/blocked-hda.xml"
root_state >"$WORK/after"
expect_same "$WORK/before" "$WORK/after"

# The fast path decides from the domain's elements, before anything else is
# read: a USB-only domain, or one naming <hostdev> in a comment, starts
# whatever state hostdev.conf is in (malformed, a directory, a FIFO, a link).
# `timeout` only turns a hang into a failure.
cat >"$WORK/usb.xml" <<'XML'
<domain type='kvm'><name>usb</name><uuid>22222222-3333-4444-5555-666666666666</uuid>
  <devices><hostdev mode='subsystem' type='usb' managed='yes'>
    <source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev></devices></domain>
XML
cat >"$WORK/commented.xml" <<'XML'
<domain type='kvm'><name>commented</name><uuid>33333333-2222-3333-4444-555555555555</uuid>
  <!-- <hostdev mode='subsystem' type='pci'><source><address bus='0x02'/></source></hostdev> -->
  <devices/></domain>
XML
mkdir "$WORK/conf-dir"
mkfifo "$WORK/conf-fifo"
ln -s "$WORK/hostdev.conf" "$WORK/conf-link"
for conf in "$WORK/bad.conf" "$WORK/conf-dir" "$WORK/conf-fifo" "$WORK/conf-link"; do
  for xml in usb commented plain; do
    HOSTDEV_CONFIG=$conf expect_rc 0 timeout 20 "$HOOK" "$xml" prepare begin - <"$WORK/$xml.xml"
    expect_empty "$WORK/err" "stderr of $xml prepare with $(basename "$conf")"
  done
done
# With PCI passthrough the configuration is needed: one line says what is wrong with it.
HOSTDEV_CONFIG=$WORK/conf-fifo expect_rc 1 timeout 20 "$HOOK" audio-guest prepare begin - <"$D/blocked-hda.xml"
expect_lines 1 "$WORK/err"
expect_grep "^hostdev: audio-guest: bad configuration: cannot read the configuration .*is a FIFO, not a regular file" "$WORK/err"
HOSTDEV_CONFIG=$WORK/conf-link expect_rc 1 timeout 20 "$HOOK" audio-guest prepare begin - <"$D/blocked-hda.xml"
expect_grep "symbolic link" "$WORK/err"

# log_file is used only as a regular file: a FIFO without a reader, a
# directory, a link, a full device or a full disk never blocks the hook nor
# changes its outcome.
mkfifo "$WORK/log-fifo"
mkdir "$WORK/log-dir"
echo "untouched" >"$WORK/log-target"
ln -s "$WORK/log-target" "$WORK/log-link"
mknod "$WORK/log-full" c 1 7
for log in log-fifo log-dir log-link log-full; do
  printf 'root = %s\nlog_file = %s\n' "$WORK/root" "$WORK/$log" >"$WORK/log.conf"
  HOSTDEV_CONFIG=$WORK/log.conf expect_rc 0 timeout 20 "$HOOK" plain prepare begin - <"$WORK/plain.xml"
  expect_empty "$WORK/err" "stderr with log_file $log"
  HOSTDEV_CONFIG=$WORK/log.conf expect_rc 1 timeout 20 "$HOOK" audio-guest prepare begin - <"$D/blocked-hda.xml"
  expect_grep '^hostdev: audio-guest: .*lpc_ich' "$WORK/err"
done
[ "$(cat "$WORK/log-target")" = untouched ] && ok || not_ok "log_file written through a link"
[ -p "$WORK/log-fifo" ] && [ -c "$WORK/log-full" ] && ok || not_ok "a special log_file was replaced"
# A full disk, in a private mount namespace with a small tmpfs.
if unshare -m true 2>/dev/null; then
  cat >"$WORK/full-disk.sh" <<SH
set -u
mkdir -p "$WORK/tiny" && mount -t tmpfs -o size=16k tmpfs "$WORK/tiny" || exit 99
: >"$WORK/tiny/hook.log"
head -c 65536 /dev/zero >"$WORK/tiny/fill" 2>/dev/null
printf 'root = %s\nlog_file = %s\n' "$WORK/root" "$WORK/tiny/hook.log" >"$WORK/tiny.conf"
HOSTDEV_CONFIG=$WORK/tiny.conf timeout 20 "$HOOK" plain prepare begin - <"$WORK/plain.xml"
SH
  expect_rc 0 unshare -m bash "$WORK/full-disk.sh"
  expect_empty "$WORK/err" "stderr with log_file on a full disk"
fi

# reconnect begin exits 0 whatever escapes: here a journal whose "format" is
# null (it used to abort the hook). On a copy of the root, so that the
# checks above see the original unchanged.
cp -a "$WORK/root" "$WORK/root-j"
mkdir -p "$WORK/root-j/run/hostdev"
echo '{"format": null}' >"$WORK/root-j/run/hostdev/0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9.json"
printf 'root = %s\n' "$WORK/root-j" >"$WORK/j.conf"
HOSTDEV_CONFIG=$WORK/j.conf expect_rc 0 "$HOOK" win10-gaming reconnect begin - <"$D/win10-gtx970.xml"
expect_empty "$WORK/out" "stdout of reconnect with a broken journal"
HOSTDEV_CONFIG=$WORK/j.conf expect_rc 0 "$HOOK" win10-gaming release end - <"$D/win10-gtx970.xml"

# The hook loads neither libxml2 nor libvirt; its C++ runtime is linked in
# (hooks/CMakeLists.txt), so no shared C++ library may come in either.
ldd "$HOOK" >"$WORK/ldd" 2>&1 || not_ok "ldd $HOOK failed"
if grep -Eq 'libxml2|libvirt' "$WORK/ldd"; then not_ok "hostdev-hook loads $(grep -Eo 'lib(xml2|virt)[^ ]*' "$WORK/ldd" | tr '\n' ' ')"; else ok; fi
if grep -q 'libpugixml\.a' "$BUILD/CMakeCache.txt" && grep -Eq 'libstdc\+\+|libspdlog|libfmt|libpugixml' "$WORK/ldd"; then
  not_ok "hostdev-hook has a static C++ runtime but loads a shared C++ library: $(grep -Eo 'lib(stdc\+\+|spdlog|fmt|pugixml)[^ ]*' "$WORK/ldd" | tr '\n' ' ')"
else
  ok
fi

# cmake --install puts it in SYSCONFDIR/libvirt/hooks/qemu.d/50-hostdev.
if DESTDIR=$WORK/dest cmake --install "$BUILD" >"$WORK/install.log" 2>&1; then ok; else not_ok "cmake --install failed"; tail -5 "$WORK/install.log" >&2; fi
installed=$(find "$WORK/dest" -path '*/libvirt/hooks/qemu.d/50-hostdev' -type f -perm -u+x | head -1)
if [ -n "$installed" ] && cmp -s "$installed" "$HOOK"; then ok; else not_ok "no executable libvirt/hooks/qemu.d/50-hostdev installed"; fi

finish
