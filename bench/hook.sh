#!/usr/bin/env bash
# Hook benchmark: the whole process `hostdev-hook NAME prepare begin -` for a
# domain without hostdevs (the common case: libvirt runs every hook on every
# lifecycle step of every domain) against an empty bash hook (`#!/bin/bash`,
# `exit 0`) given the same argv and the same domain XML on stdin.
#
#   bench/hook.sh [--runs R] BUILD_DIR
#
# BUILD_DIR is a configured and built hostdev build tree (for meaningful figures,
# an optimized one: RelWithDebInfo or Release). R (measured runs of each, taking
# turns) defaults to 201. The hook reads a configuration (HOSTDEV_CONFIG) whose
# root is a directory that does not exist, so it cannot touch this machine's
# devices; a domain without hostdevs never gets that far anyway.
#
# Prints the median time of each, the ratio hostdev-hook/bash, the hook's peak
# RSS, and PASS/FAIL against the targets (ratio <= 1.0, peak RSS <= 8 MiB).
# Exit status: 0 when measured (whatever PASS/FAIL says; this is a benchmark),
# 1 when something broke, 2 on bad usage.
set -euo pipefail
export LC_ALL=C

usage() {
    echo "usage: hook.sh [--runs R] BUILD_DIR   (hook.sh --help for more)" >&2
    exit 2
}

runs=201
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) [[ $# -ge 2 ]] || usage; runs=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        -*) echo "hook.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ $# -eq 1 ]] || usage
build=$1
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "hook.sh: --runs wants a positive number, got '$runs'" >&2; exit 2; }

die() { echo "hook.sh: $*" >&2; exit 1; }

runner=$build/bench/hostdev-bench-run
hook=$build/hooks/hostdev-hook
for tool in "$runner" "$hook"; do
    [[ -x $tool ]] || die "$tool is missing: build the tree first (cmake --build $build)"
done
[[ -x /bin/bash ]] || die "/bin/bash is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-bench-hook.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The live XML libvirt passes at `prepare` for an ordinary guest: a disk, a
# network interface, controllers, console, graphics; no <hostdev>.
cat >"$tmp/domain.xml" <<'XML'
<domain type='kvm' id='7'>
  <name>web01</name>
  <uuid>4b2f6c1e-9a3d-4e57-8c10-2d6e9f7a1b35</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state='off'/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm>
    <suspend-to-mem enabled='no'/>
    <suspend-to-disk enabled='no'/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/web01.qcow2' index='1'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'>
      <alias name='pcie.0'/>
    </controller>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x10'/>
      <alias name='pci.1'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='2' port='0x11'/>
      <alias name='pci.2'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>
    </controller>
    <controller type='pci' index='3' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='3' port='0x12'/>
      <alias name='pci.3'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x2'/>
    </controller>
    <controller type='pci' index='4' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='4' port='0x13'/>
      <alias name='pci.4'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x3'/>
    </controller>
    <controller type='sata' index='0'>
      <alias name='ide'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='virtio-serial' index='0'>
      <alias name='virtio-serial0'/>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:3a:5c:71'/>
      <source network='default' portid='0c6d2d0e-59f2-4a5e-9d7b-61f0c2a8e3b4' bridge='virbr0'/>
      <target dev='vnet3'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <source path='/dev/pts/3'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/run/libvirt/qemu/channel/7-web01/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='tablet' bus='usb'>
      <alias name='input0'/>
      <address type='usb' bus='0' port='1'/>
    </input>
    <input type='mouse' bus='ps2'>
      <alias name='input1'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input2'/>
    </input>
    <graphics type='vnc' port='5903' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='rng0'/>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </rng>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+0:+0</label>
    <imagelabel>+0:+0</imagelabel>
  </seclabel>
</domain>
XML
grep -q '<hostdev' "$tmp/domain.xml" && die "the benchmark domain must not have a hostdev"

printf '#!/bin/bash\nexit 0\n' >"$tmp/empty-hook"
chmod +x "$tmp/empty-hook"
# A configuration as installed, with a root that does not exist.
printf 'root = %s\njournal_dir = %s\n' "$tmp/no-such-root" "$tmp/no-such-root/run/hostdev" >"$tmp/hostdev.conf"
export HOSTDEV_CONFIG=$tmp/hostdev.conf

hook_cmd=("$hook" web01 prepare begin -)
bash_cmd=("$tmp/empty-hook" web01 prepare begin -)

# The hook must take its fast path: exit 0, nothing on stdout or stderr.
"${hook_cmd[@]}" <"$tmp/domain.xml" >"$tmp/hook.out" 2>"$tmp/hook.err" \
    || die "hostdev-hook failed on a domain without hostdevs: $(cat "$tmp/hook.err")"
[[ ! -s $tmp/hook.out && ! -s $tmp/hook.err ]] || die "hostdev-hook printed something: $(head -c 200 "$tmp/hook.out" "$tmp/hook.err")"
[[ ! -e $tmp/no-such-root ]] || die "hostdev-hook created its root on the fast path"

"$runner" --runs "$runs" --warmup 10 --tsv --stdin "$tmp/domain.xml" \
    --name hook -- "${hook_cmd[@]}" \
    --name bash -- "${bash_cmd[@]}" >"$tmp/bench.tsv" || die "the benchmark runner failed"

awk -F'\t' -v runs="$runs" -v bytes="$(wc -c <"$tmp/domain.xml")" '
    { med[$1] = $2; min[$1] = $3; rss[$1] = $4 }
    END {
        if (!("hook" in med) || !("bash" in med) || med["bash"] <= 0) {
            print "hook.sh: incomplete benchmark output" | "cat 1>&2"; exit 1
        }
        ratio = med["hook"] / med["bash"]
        rss_mib = rss["hook"] / 1024
        printf "domain without hostdevs: %d bytes of XML on stdin, argv NAME prepare begin -, %d measured runs of each (median of runs)\n", bytes, runs
        printf "hostdev-hook:    median %7.3f ms  min %7.3f ms  peak RSS %5.1f MiB\n", med["hook"], min["hook"], rss_mib
        printf "empty bash hook: median %7.3f ms  min %7.3f ms  peak RSS %5.1f MiB\n", med["bash"], min["bash"], rss["bash"] / 1024
        printf "ratio hostdev-hook/bash: %.2f (target <= 1.00): %s\n", ratio, ratio <= 1.0 ? "PASS" : "FAIL"
        printf "hostdev-hook peak RSS: %.1f MiB (target <= 8 MiB): %s\n", rss_mib, rss_mib <= 8 ? "PASS" : "FAIL"
    }' "$tmp/bench.tsv"
