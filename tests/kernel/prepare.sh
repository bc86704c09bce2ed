#!/usr/bin/env bash
# Prepares the kernel suite's guest: a real Debian kernel and a busybox
# initramfs holding the project's binaries, a nested QEMU and the test
# scenarios (init.sh as /init).
#
#   tests/kernel/prepare.sh BUILD_DIR SOURCE_DIR OUT_DIR
#
# 1. Installs what is missing (qemu-system-x86, busybox-static, jq, ovmf
#    for the gpu profile's UEFI boot, and libvirt's daemon, QEMU driver and
#    virsh for the libvirt profile) with apt-get, as root or through sudo.
# 2. Resolves the current kernel package from `apt-cache depends
#    linux-image-amd64` (never a fixed version), downloads it with
#    `apt-get download` and unpacks it into OUT/cache; both are kept, so a
#    second run downloads nothing. Older cached kernels are removed.
# 3. Builds OUT/initramfs.cpio.gz: busybox and its applets, the kernel
#    modules the guest needs with their dependencies (and a modules.dep made
#    by `busybox depmod`), hostdev, hostdev-fix, virt-hostdev and hostdev-hook (also as
#    /etc/libvirt/hooks/qemu.d/50-hostdev), jq, qemu-system-x86_64 with its
#    TCG accelerator module and firmware, every shared library at its own
#    path, pci.ids, libvirt's RelaxNG schemas, the domains, /init, the
#    gpu profile's scenarios (gpu.sh) with their stand-in systemctl, and the
#    libvirt profile's (libvirt.sh) with the guest responder its hot-plug
#    domain boots (responder/, built here with gcc -m32).
# Writes OUT/guest.env for boot.sh.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: prepare.sh BUILD_DIR SOURCE_DIR OUT_DIR}
SRC=${2:?usage: prepare.sh BUILD_DIR SOURCE_DIR OUT_DIR}
OUT=${3:?usage: prepare.sh BUILD_DIR SOURCE_DIR OUT_DIR}
BUILD=$(cd "$BUILD" && pwd) || kernel_die "no build directory $1"
SRC=$(cd "$SRC" && pwd) || kernel_die "no source directory $2"
mkdir -p "$OUT" || kernel_die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$SRC/tests/kernel
CACHE=$OUT/cache
ROOT=$OUT/root
started=$(date +%s.%N)
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() { echo "== [$(elapsed) s] $*"; }

# Only the guest's binaries: a missing one means the tree is not built.
BINARIES=("$BUILD/cli/hostdev" "$BUILD/cli/hostdev-fix" "$BUILD/hooks/hostdev-hook" "$BUILD/virsh-plugin/virt-hostdev")
for b in "${BINARIES[@]}"; do
  [ -x "$b" ] || kernel_die "$b is missing: build the tree first (cmake --build $BUILD)"
done

# ------------------------------------------------------------------ packages
step "packages"
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else kernel_die "not root and no sudo: cannot run $*"
  fi
}
need=()
for p in qemu-system-x86 busybox-static jq ovmf libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" \
      >"$OUT/apt.log" 2>&1; then
    as_root apt-get update -q >>"$OUT/apt.log" 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" \
      >>"$OUT/apt.log" 2>&1 || { tail -20 "$OUT/apt.log" >&2; kernel_die "cannot install ${need[*]}"; }
  fi
fi
QEMU=$(command -v qemu-system-x86_64) || kernel_die "qemu-system-x86_64 not found"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || kernel_die "$BUSYBOX not found (package busybox-static)"
JQ=$(command -v jq) || kernel_die "jq not found"
QEMU_FILES=(
  /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
  /usr/share/seabios/bios-256k.bin
  /usr/share/qemu/kvmvapic.bin
  # the option ROM with which SeaBIOS boots a multiboot <kernel> (the libvirt
  # profile's guest responder)
  /usr/share/qemu/multiboot_dma.bin
)
for f in "${QEMU_FILES[@]}"; do [ -e "$f" ] || kernel_die "$f is missing (package qemu-system-x86)"; done

# ------------------------------------------------------------------ kernel
step "kernel package"
mkdir -p "$CACHE" || kernel_die "cannot create $CACHE"
resolve_kernel() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(resolve_kernel)
if [ -z "$pkg" ]; then
  echo "apt-cache does not know linux-image-amd64; running apt-get update"
  as_root apt-get update -q >"$OUT/apt-update.log" 2>&1 || { tail -5 "$OUT/apt-update.log" >&2; kernel_die "apt-get update failed"; }
  pkg=$(resolve_kernel)
fi
[ -n "$pkg" ] || kernel_die "cannot resolve the current kernel from 'apt-cache depends linux-image-amd64'"
KVER=${pkg#linux-image-}
echo "kernel package: $pkg (version $KVER)"

deb=$(ls "$CACHE/${pkg}_"*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  # Into a scratch directory first: an interrupted download never looks cached.
  # As this user: no sandbox user needs to reach the directory.
  download() {
    rm -rf "$CACHE/download.tmp" && mkdir "$CACHE/download.tmp" &&
      (cd "$CACHE/download.tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg") \
        >"$OUT/download.log" 2>&1 &&
      mv "$CACHE/download.tmp/${pkg}_"*.deb "$CACHE/" && rm -rf "$CACHE/download.tmp"
  }
  if ! download; then
    echo "download failed; running apt-get update and retrying"
    as_root apt-get update -q >>"$OUT/download.log" 2>&1
    download || { tail -5 "$OUT/download.log" >&2; kernel_die "apt-get download $pkg failed"; }
  fi
  deb=$(ls "$CACHE/${pkg}_"*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || kernel_die "apt-get download $pkg left no .deb in $CACHE"
  echo "downloaded $(basename "$deb") ($(du -m "$deb" | cut -f1) MiB)"
else
  echo "cached: $(basename "$deb")"
fi
# Other kernels cached by earlier runs.
for old in "$CACHE"/linux-image-*.deb "$CACHE"/tree-*; do
  [ -e "$old" ] || continue
  case "$old" in "$deb" | "$CACHE/tree-$pkg") ;; *) echo "removing stale $(basename "$old")"; rm -rf "$old" ;; esac
done

TREE=$CACHE/tree-$pkg
if [ ! -e "$TREE/.complete" ]; then
  step "unpacking $(basename "$deb")"
  rm -rf "$TREE" "$TREE.tmp"
  dpkg-deb -x "$deb" "$TREE.tmp" || kernel_die "cannot unpack $deb"
  # The package has no modules.dep (its postinst runs depmod).
  "$BUSYBOX" depmod -b "$TREE.tmp" "$KVER" || kernel_die "busybox depmod failed on the unpacked kernel"
  touch "$TREE.tmp/.complete" && mv "$TREE.tmp" "$TREE" || kernel_die "cannot move $TREE.tmp to $TREE"
fi
VMLINUZ=$TREE/boot/vmlinuz-$KVER
MODDIR=$TREE/lib/modules/$KVER
[ -f "$VMLINUZ" ] || kernel_die "no $VMLINUZ in $deb"
[ -f "$MODDIR/modules.dep" ] || kernel_die "no modules.dep in $MODDIR"

# ------------------------------------------------------------------ initramfs
step "initramfs"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,proc,sys,dev,run,tmp,root,etc/hostdev} \
  || kernel_die "cannot create $ROOT"
# Debian's merged /usr: the paths ldd prints (/lib/..., /lib64/...) resolve.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done

install -m 755 "$BUSYBOX" "$ROOT/usr/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
  name=${applet##*/}
  [ "$name" = busybox ] && continue   # the list holds busybox itself
  dest=$ROOT/$applet
  [ -e "$dest" ] || [ -L "$dest" ] || ln -s /usr/bin/busybox "$dest"
done

# put FILE [DEST]: copies FILE to the same path (or DEST) in the tree.
put() {
  local dest=${2:-$1}
  mkdir -p "$ROOT$(dirname "$dest")" && cp -L "$1" "$ROOT$dest" || kernel_die "cannot copy $1 to $dest"
}
# put_libs FILE: every shared library FILE needs, at its own path.
put_libs() {
  local lib
  ldd "$1" >"$OUT/ldd.out" 2>&1 || { cat "$OUT/ldd.out" >&2; kernel_die "ldd $1 failed"; }
  grep -q 'not found' "$OUT/ldd.out" && { cat "$OUT/ldd.out" >&2; kernel_die "ldd $1: a library is missing"; }
  for lib in $(grep -o '/[^ ]*' "$OUT/ldd.out"); do
    [ -e "$ROOT$lib" ] || put "$lib"
  done
}
# put_program FILE DEST: FILE (debug sections left out) at DEST, with its libraries.
put_program() {
  mkdir -p "$ROOT$(dirname "$2")"
  objcopy --strip-debug "$1" "$ROOT$2" 2>/dev/null || cp -L "$1" "$ROOT$2" || kernel_die "cannot copy $1"
  chmod 755 "$ROOT$2"
  put_libs "$1"
}

put_program "$BUILD/cli/hostdev" /usr/local/bin/hostdev
put_program "$BUILD/cli/hostdev-fix" /usr/local/bin/hostdev-fix
put_program "$BUILD/hooks/hostdev-hook" /etc/libvirt/hooks/qemu.d/50-hostdev
put_program "$JQ" /usr/bin/jq
put_program "$QEMU" /usr/bin/qemu-system-x86_64
for f in "${QEMU_FILES[@]}"; do
  put "$f"
  case "$f" in *.so) put_libs "$f" ;; esac
done
# libvirt for the libvirt profile (libvirt.sh): the monolithic daemon, its
# QEMU and node-device drivers, virsh, and the data the QEMU driver reads.
LIBVIRT_DRIVERS=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver
put_program /usr/sbin/libvirtd /usr/sbin/libvirtd
put_program /usr/bin/virsh /usr/bin/virsh
put_program "$BUILD/virsh-plugin/virt-hostdev" /usr/local/bin/virt-hostdev
for drv in qemu nodedev; do
  put "$LIBVIRT_DRIVERS/libvirt_driver_$drv.so" && put_libs "$LIBVIRT_DRIVERS/libvirt_driver_$drv.so"
done
mkdir -p "$ROOT/usr/share/libvirt" && cp -r /usr/share/libvirt/cpu_map "$ROOT/usr/share/libvirt/"
[ -f /usr/share/misc/pci.ids ] && put /usr/share/misc/pci.ids
[ -d /usr/share/libvirt/schemas ] || kernel_die "/usr/share/libvirt/schemas is missing (package libvirt0)"
mkdir -p "$ROOT/usr/share/libvirt" && cp -r /usr/share/libvirt/schemas "$ROOT/usr/share/libvirt/"

# Kernel modules: the drivers of the guest's devices, vfio, and everything
# they depend on (from modules.dep; busybox modprobe ignores softdeps, so
# vfio_iommu_type1 is listed and loaded explicitly).
MODULES=(virtio_pci virtio_net e1000e e1000 nvme xhci_pci snd_hda_intel snd_hda_codec_generic
         lpc_ich i2c_i801 ahci vfio_iommu_type1 vfio_pci bochs)
declare -A want=()
for m in "${MODULES[@]}"; do
  pattern=${m//_/[-_]}
  line=$(grep -m1 -E "(^|/)${pattern}\.ko:" "$MODDIR/modules.dep") || kernel_die "module $m is not in $KVER"
  for f in ${line/:/}; do want[$f]=1; done
done
for f in "${!want[@]}"; do
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$f")" && cp "$MODDIR/$f" "$ROOT/lib/modules/$KVER/$f" \
    || kernel_die "cannot copy module $f"
done
cp "$MODDIR"/modules.builtin "$MODDIR"/modules.builtin.modinfo "$MODDIR"/modules.order "$ROOT/lib/modules/$KVER/"
"$BUSYBOX" depmod -b "$ROOT" "$KVER" || kernel_die "busybox depmod failed on the initramfs tree"
echo "modules: ${#want[@]} files"

# The scenarios.
install -m 755 "$HERE/init.sh" "$ROOT/init"
mkdir -p "$ROOT/hostdev-test" && cp "$HERE"/domains/*.xml "$HERE/gpu.sh" "$HERE/libvirt.sh" "$ROOT/hostdev-test/"
# The gpu profile's stand-in display manager (the guest has no systemd).
install -m 755 "$HERE/standin/systemctl" "$ROOT/usr/bin/systemctl"
install -m 755 "$HERE/standin/fake-dm" "$ROOT/usr/local/bin/fake-dm"
# The libvirt profile's timing hook (installed around 50-hostdev when measuring).
install -m 755 "$HERE/standin/stamp-hook" "$ROOT/hostdev-test/stamp-hook"
# The libvirt profile's hostdev-recover.service (built from systemd/), whose
# command its checks L5 and L8 run as the unit would.
install -m 644 "$BUILD/systemd/hostdev-recover.service" "$ROOT/hostdev-test/hostdev-recover.service" \
  || kernel_die "$BUILD/systemd/hostdev-recover.service is missing: build the tree first"
# The libvirt profile's guest responder: what a domain boots instead of an OS
# to answer hot-unplug requests (responder/responder.c). A 32-bit freestanding
# image: the 64-bit gcc and binutils build it, no 32-bit libraries needed.
gcc -m32 -march=i686 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib -O2 \
  -Wall -Wextra -Werror -c "$HERE/responder/responder.c" -o "$OUT/responder.o" \
  || kernel_die "cannot compile the guest responder (gcc -m32 -ffreestanding)"
ld -m elf_i386 --no-warn-rwx-segments -T "$HERE/responder/responder.ld" -o "$ROOT/hostdev-test/responder.elf" "$OUT/responder.o" \
  || kernel_die "cannot link the guest responder (ld -m elf_i386)"
mkdir -p "$ROOT/usr/lib/systemd/system" && cp "$HERE/standin/fake-dm.service" "$ROOT/usr/lib/systemd/system/"
cat >"$ROOT/etc/hostdev/hostdev.conf" <<'EOF'
# The kernel suite's guest: its own devices, moved for real.
root = /
wait_timeout_ms = 10000
lock_timeout_ms = 10000
log_file = /run/hostdev-hook.log
EOF
echo "$KVER" >"$ROOT/hostdev-test/kernel-version"

step "packing"
(cd "$ROOT" && find . -mindepth 1 | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$OUT/initramfs.cpio.gz.tmp" \
  || kernel_die "cannot pack the initramfs"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
echo "initramfs: $(du -m "$OUT/initramfs.cpio.gz" | cut -f1) MiB packed, $(du -sm "$ROOT" | cut -f1) MiB unpacked"

cat >"$OUT/guest.env" <<EOF
PREPARE_STARTED=$started
KVER=$KVER
VMLINUZ=$VMLINUZ
INITRD=$OUT/initramfs.cpio.gz
EOF
step "prepared in $(elapsed) s"
