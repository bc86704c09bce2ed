#!/usr/bin/env bash
# virt-hostdev over libvirt's test driver (in-process, no daemon): the host of
# node.xml read through the node-device API, every verdict of check, fix with
# --diff and --define, groups, connection failures, and check --all judging
# every domain exactly as hostdev-fix does on a snapshot of the same host.
. "$(dirname "$0")/../cli/lib.sh"

VIRT=$BUILD/virsh-plugin/virt-hostdev
NODE=$(cd "$SRC/tests/virsh" && pwd)/node.xml
URI="test://$NODE"
export HOSTDEV_PCI_IDS=$SRC/tests/data/pci.ids

json_of() {  # json_of FILTER: jq on $WORK/out, one raw line per result
  jq -r "$1" "$WORK/out" 2>/dev/null
}
expect_eq() {  # expect_eq WANT GOT WHAT
  if [ "$1" = "$2" ]; then ok; else not_ok "$3: got '$2', wanted '$1'"; fi
}

# --- groups: the host as libvirt shows it --------------------------------
expect_rc 0 "$VIRT" -c "$URI" groups
expect_grep '^IOMMU group 1:$' "$WORK/out"
expect_grep '01:00.0 VGA compatible controller \[0300\]: NVIDIA Corporation GM204 \[GeForce GTX 970\] \[10de:13c2\]' "$WORK/out"
expect_grep 'host role: USB controller with the host keyboard' "$WORK/out"
expect_grep 'SR-IOV VF of 0000:04:00.0' "$WORK/out"
expect_grep '^warning: read through libvirt' "$WORK/out"
# The test driver drops <driver>: every function reads as unbound.
if grep -q 'driver: nouveau' "$WORK/out"; then not_ok "the test driver showed a driver"; else ok; fi
expect_rc 0 "$VIRT" -c "$URI" groups --format json
expect_eq 12 "$(json_of '.groups | length')" "groups in JSON"
expect_eq "0000:00:01.0 0000:01:00.0 0000:01:00.1" \
  "$(json_of '.groups[] | select(.group == 1) | [.devices[].address] | join(" ")')" "members of group 1"
expect_eq '["host-keyboard"]' "$(json_of '.groups[] | select(.group == 4) | .devices[0].roles | tojson')" "roles of 00:14.0"
expect_rc 0 "$VIRT" -c "$URI" groups --format dot
expect_grep '^digraph hostdev' "$WORK/out"
expect_grep '"0000:00:01.0" -> "0000:01:00.0"' "$WORK/out"

# --- check --all: every verdict --------------------------------------------
expect_rc 2 "$VIRT" -c "$URI" check --all
expect_grep "^test://$NODE: 11 domains: 5 ok, 2 fixable, 4 blocked\$" "$WORK/out"
expect_grep '^gpu: change: add <hostdev> for 0000:01:00.1' "$WORK/out"
expect_grep '^usb: error: .*USB controller with the host keyboard' "$WORK/out"
expect_grep "^vmd: error: 10000:01:00.0 is not on this host" "$WORK/out"
# No progress line when stderr is not a terminal.
if grep -q $'\r' "$WORK/err"; then not_ok "progress written to a non-terminal"; else ok; fi

expect_rc 2 "$VIRT" -c "$URI" check --all --format json
cp "$WORK/out" "$WORK/check.json"
expect_eq 2 "$(json_of '.exit_code')" "exit_code in JSON"
expect_eq "$URI" "$(json_of '.uri')" "uri in JSON"
statuses=$(json_of '.domains[] | "\(.domain)=\(.status)"' | tr '\n' ' ')
expect_eq "audio=ok bridge=blocked gpu=fixable gpu-complete=ok missing=blocked nic=fixable nvme=ok plain=ok usb=blocked vf=ok vmd=blocked " \
  "$statuses" "statuses"
expect_eq "0000:00:1f.0=stays-on-host 0000:00:1f.3=covered 0000:00:1f.4=stays-on-host" \
  "$(json_of '.domains[] | select(.domain == "audio") | [.groups[].members[] | "\(.address)=\(.verdict)"] | join(" ")')" "audio's verdicts"
expect_eq "inject-hostdev hide-kvm pin pin" \
  "$(json_of '.domains[] | select(.domain == "gpu") | [.changes[].kind] | join(" ")')" "gpu's changes"
expect_eq "0c1f4a6e-0a4b-4f3c-9a51-000000000002 false false" \
  "$(json_of '.domains[] | select(.domain == "gpu") | "\(.uuid) \(.autostart) \(.active)"')" "gpu's uuid and state"
# Across domains: gpu and gpu-complete both assign group 1.
for pair in "gpu gpu-complete" "gpu-complete gpu"; do
  set -- $pair
  expect_eq warning \
    "$(json_of ".domains[] | select(.domain == \"$1\") | .problems[] | select(.message | contains(\"also assigned by domain '$2'\")) | .severity")" \
    "cross-domain warning of $1"
done
expect_eq 0 "$(json_of '[.domains[] | select(.domain == "nvme" or .domain == "plain") | .problems[] | select(.message | contains("also assigned"))] | length')" \
  "no cross-domain warning elsewhere"
# Host uses libvirt shows: both I350 ports' interfaces, the NVMe disk.
expect_eq "0000:02:00.0 0000:02:00.1" \
  "$(json_of '.domains[] | select(.domain == "nic") | [.problems[] | select(.message | contains("network interface")) | .device] | join(" ")')" \
  "nic's interface warnings"
expect_eq warning \
  "$(json_of '.domains[] | select(.domain == "nvme") | .problems[] | select(.message | contains("disk /dev/nvme0n1")) | .severity')" \
  "nvme's disk warning"
expect_grep '"warnings": \[' "$WORK/out"

# --- check DOMAIN...: exit codes as hostdev-fix --check ---------------------
expect_rc 0 "$VIRT" -c "$URI" check plain
expect_grep '^plain: ok, nothing to change' "$WORK/out"
expect_rc 1 "$VIRT" -c "$URI" check gpu
expect_rc 2 "$VIRT" -c "$URI" check usb
expect_rc 2 "$VIRT" -c "$URI" check missing
expect_grep '0000:3d:00.0 is not on this host' "$WORK/out"
expect_rc 2 "$VIRT" -c "$URI" check bridge
expect_rc 2 "$VIRT" -c "$URI" check vmd
expect_rc 1 "$VIRT" -c "$URI" check plain gpu nvme
expect_rc 0 "$VIRT" -c "$URI" check 0c1f4a6e-0a4b-4f3c-9a51-000000000001   # by UUID
expect_grep '^plain: ok' "$WORK/out"
# A named domain still meets the others.
expect_rc 0 "$VIRT" -c "$URI" check gpu-complete --format json
expect_eq 1 "$(json_of '.domains | length')" "one domain reported"
expect_eq 1 "$(json_of '[.domains[0].problems[] | select(.message | contains("domain '"'"'gpu'"'"'"))] | length')" "gpu-complete meets gpu"
expect_rc 3 "$VIRT" -c "$URI" check no-such-domain --format json
expect_eq "no-such-domain=invalid" "$(json_of '.domains[] | "\(.domain)=\(.status)"')" "unknown domain"
expect_grep "no domain named 'no-such-domain'" "$WORK/out"
expect_rc 3 "$VIRT" -c "$URI" check
expect_grep 'give --all or one or more domain names' "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" check --all plain
expect_rc 3 "$VIRT" -c "$URI" check --all --format yaml
# Planning options reach the planner as in hostdev-fix.
expect_rc 1 "$VIRT" -c "$URI" check vf --whole-slot --format json
expect_eq "0000:04:02.1" "$(json_of '.domains[0].changes[] | select(.kind == "inject-hostdev") | .device')" "--whole-slot"
expect_rc 1 "$VIRT" -c "$URI" check gpu --hide-kvm never --format json
if [ "$(json_of '.domains[0].status')" = fixable ] && [ "$(json_of '[.domains[0].changes[] | select(.kind == "hide-kvm")] | length')" = 0 ]; then ok; else not_ok "--hide-kvm never"; fi

# --- fix -------------------------------------------------------------------
expect_rc 0 "$VIRT" -c "$URI" fix gpu
cp "$WORK/out" "$WORK/gpu-fixed.xml"
expect_grep "function='0x1'" "$WORK/out"
expect_grep "<hidden state='on'/>" "$WORK/out"
expect_grep '^gpu: change: add <hostdev> for 0000:01:00.1' "$WORK/err"
expect_rc 0 "$VIRT" -c "$URI" fix gpu --diff -q
expect_grep '^--- a/gpu.xml' "$WORK/out"
expect_grep "^\+        <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>" "$WORK/out"
if [ -s "$WORK/err" ]; then not_ok "-q wrote on stderr"; else ok; fi
expect_rc 0 "$VIRT" -c "$URI" fix gpu --define
expect_grep 'gpu: redefined on .*, UUID 0c1f4a6e-0a4b-4f3c-9a51-000000000002 kept' "$WORK/err"
if [ -s "$WORK/out" ]; then not_ok "--define printed XML"; else ok; fi
expect_rc 0 "$VIRT" -c "$URI" fix nic --define --diff
expect_grep "^\+        <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>" "$WORK/out"
expect_grep 'nic: redefined' "$WORK/err"
expect_rc 0 "$VIRT" -c "$URI" fix plain --define
expect_grep 'plain: nothing to change, not redefined' "$WORK/err"
expect_rc 0 "$VIRT" -c "$URI" fix plain
expect_grep '<name>plain</name>' "$WORK/out"
expect_rc 2 "$VIRT" -c "$URI" fix usb --define
if [ -s "$WORK/out" ]; then not_ok "blocked fix printed on stdout"; else ok; fi
expect_grep 'usb: blocked' "$WORK/err"
expect_rc 2 "$VIRT" -c "$URI" fix missing --diff
if [ -s "$WORK/out" ]; then not_ok "blocked --diff printed on stdout"; else ok; fi
expect_rc 2 "$VIRT" -c "$URI" fix vmd
expect_rc 3 "$VIRT" -c "$URI" fix no-such-domain
expect_grep "no domain named 'no-such-domain'" "$WORK/err"
expect_rc 3 "$VIRT" -c "$URI" fix

# --- the same verdicts as hostdev-fix on a snapshot of the same host ----------
expect_rc 0 "$VIRT" -c "$URI" snapshot -o "$WORK/snap.json" --domains "$WORK/domains"
expect_eq 11 "$(ls "$WORK/domains" | wc -l)" "definitions written"
# groups of the snapshot are the groups libvirt shows, byte for byte.
"$VIRT" -c "$URI" groups --format json >"$WORK/groups.virt.json" 2>/dev/null
"$HOSTDEV" groups --host "$WORK/snap.json" --format json >"$WORK/groups.snap.json" 2>/dev/null
expect_same "$WORK/groups.virt.json" "$WORK/groups.snap.json"
# Each definition through hostdev-fix: status, exit code, every member's verdict.
verdicts() {  # verdicts JSON_ENTRY_FILTER FILE
  jq -r "$1 | \"\(.status) \([.groups[] | .members[] | \"\(.address)=\(.verdict)\"] | join(\",\"))\"" "$2"
}
compared=0
for f in "$WORK"/domains/*.xml; do
  name=$(basename "$f" .xml)
  "$HOSTDEV_FIX" --check --host "$WORK/snap.json" --format json "$f" >"$WORK/fix.json" 2>/dev/null
  rc=$?
  want=$(verdicts '.files[0]' "$WORK/fix.json")
  got=$(verdicts ".domains[] | select(.domain == \"$name\")" "$WORK/check.json")
  expect_eq "$want" "$got" "$name: hostdev-fix and virt-hostdev"
  expect_eq "$rc" "$(jq -r ".domains[] | select(.domain == \"$name\") | .status" "$WORK/check.json" |
    sed 's/^ok$/0/; s/^fixable$/1/; s/^blocked$/2/; s/^invalid$/3/')" "$name: exit code"
  compared=$((compared + 1))
done
expect_eq 11 "$compared" "domains compared"
# And the fixed document is hostdev-fix's.
"$HOSTDEV_FIX" -q --host "$WORK/snap.json" "$WORK/domains/gpu.xml" >"$WORK/gpu.hostdev-fix.xml"
expect_same "$WORK/gpu.hostdev-fix.xml" "$WORK/gpu-fixed.xml"

# --- hostdev networks: pools read from the connection and judged ---------------
# node.xml plus an interface of the PF 04:00.0, three hostdev networks, a NAT
# network and four domains on them.
sed '/^<\/node>/d' "$NODE" >"$WORK/net-node.xml"
cat >>"$WORK/net-node.xml" <<'XML'
  <device>
    <name>net_enp4s0f0_3c_fd_fe_00_00_01</name>
    <parent>pci_0000_04_00_0</parent>
    <capability type='net'>
      <interface>enp4s0f0</interface>
      <address>3c:fd:fe:00:00:01</address>
    </capability>
  </device>
  <network>
    <name>vfs</name>
    <forward mode='hostdev' managed='yes'>
      <pf dev='enp4s0f0'/>
    </forward>
  </network>
  <network>
    <name>bad-pool</name>
    <forward mode='hostdev' managed='yes'>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x02' function='0x1'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x14' function='0x0'/>
      <address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/>
    </forward>
  </network>
  <network>
    <name>natnet</name>
    <forward mode='nat'/>
    <bridge name='virbr9'/>
    <ip address='192.168.199.1' netmask='255.255.255.0'/>
  </network>
XML
for d in on-vfs:vfs on-bad:bad-pool on-nat:natnet on-none:nosuchnet; do
  name=${d%%:*} net=${d#*:}
  cat >>"$WORK/net-node.xml" <<XML
  <domain type='test'>
    <name>$name</name>
    <memory unit='KiB'>1048576</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <interface type='network'><source network='$net'/></interface>
    </devices>
  </domain>
XML
done
echo '</node>' >>"$WORK/net-node.xml"
NETURI="test://$WORK/net-node.xml"
expect_rc 2 "$VIRT" -c "$NETURI" check --all --format json
nets=$(json_of '.domains[] | select(.domain | startswith("on-")) | "\(.domain)=\(.status)"' | tr '\n' ' ')
expect_eq "on-bad=blocked on-nat=ok on-none=ok on-vfs=ok " "$nets" "statuses on hostdev networks"
expect_eq 0 "$(json_of '[.domains[] | select(.domain == "on-vfs" or .domain == "on-nat") | .problems[]] | length')" \
  "problems of a viable pool and a NAT network"
expect_eq "error 0000:00:14.0 error 0000:09:00.0" \
  "$(json_of '[.domains[] | select(.domain == "on-bad") | .problems[] | "\(.severity) \(.device)"] | join(" ")')" \
  "problems of bad-pool"
expect_grep '0000:09:00.0 in the pool of network .bad-pool. is not on this host' "$WORK/out"
expect_grep "network 'nosuchnet' \\(interface on line [0-9]+\\) not given: its pool was not checked; it could not be read from $NETURI" "$WORK/out"

# --- connection failures ------------------------------------------------------
expect_rc 3 "$VIRT" -c "test://$WORK/no-such-node.xml" check --all
expect_grep "cannot connect to test://$WORK/no-such-node.xml" "$WORK/err"
expect_grep 'hint: the test driver takes' "$WORK/err"
expect_rc 1 "$VIRT" -c "test://$WORK/no-such-node.xml" groups
expect_rc 3 "$VIRT" -c "nosuchdriver:///system" check --all
expect_grep 'cannot connect to nosuchdriver:///system' "$WORK/err"
# ssh to a closed port: refused at once; the hints name what ssh needs.
expect_rc 3 timeout 60 "$VIRT" -c "qemu+ssh://nobody@127.0.0.1:1/system" check --all
expect_grep 'cannot connect to qemu\+ssh://nobody@127.0.0.1:1/system' "$WORK/err"
expect_grep 'hint: libvirt runs ssh to nobody@127.0.0.1 \(port 1\): `ssh -p 1 nobody@127.0.0.1 true`' "$WORK/err"
expect_grep '^  hint: nothing accepts connections on 127.0.0.1 port 1: is sshd running there' "$WORK/err"
# The key of the URI is the one to try by hand.
expect_rc 3 timeout 60 "$VIRT" -c "qemu+ssh://nobody@127.0.0.1:1/system?keyfile=/k%2Fey&no_tty=1" check --all
expect_grep 'hint: libvirt runs ssh to nobody@127.0.0.1 \(port 1\): `ssh -p 1 -i /k/ey nobody@127.0.0.1 true`' "$WORK/err"

# <interface type='hostdev'> through the libvirt API: the same node with two
# more domains, an igb port and a VF given as interfaces.
sed '/^<\/node>$/d' "$NODE" >"$WORK/node-iface.xml"
cat >>"$WORK/node-iface.xml" <<'XML'
  <domain type='test'>
    <name>nic-iface</name>
    <uuid>0c1f4a6e-0a4b-4f3c-9a51-0000000000a1</uuid>
    <memory unit='KiB'>1048576</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <interface type='hostdev' managed='no'>
        <mac address='52:54:00:6d:90:a1'/>
        <source><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x1'/></source>
      </interface>
    </devices>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test'>
    <name>vf-iface</name>
    <uuid>0c1f4a6e-0a4b-4f3c-9a51-0000000000a2</uuid>
    <memory unit='KiB'>1048576</memory>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <interface type='hostdev' managed='yes'>
        <source><address type='pci' domain='0x0000' bus='0x04' slot='0x02' function='0x1'/></source>
      </interface>
    </devices>
    <test:runstate>5</test:runstate>
  </domain>
</node>
XML
expect_rc 1 "$VIRT" -c "test://$WORK/node-iface.xml" check nic-iface vf-iface --format json
expect_eq "nic-iface=fixable vf-iface=ok " "$(json_of '.domains[] | "\(.domain)=\(.status)"' | tr '\n' ' ')" "interface statuses"
expect_eq "0000:02:00.0=injected:null 0000:02:00.1=covered:interface" \
  "$(json_of '.domains[] | select(.domain == "nic-iface") | [.groups[].members[] | "\(.address)=\(.verdict):\(.element)"] | join(" ")')" \
  "nic-iface's verdicts and elements"
expect_grep "add <hostdev> for 0000:02:00.0.*managed='no'" "$WORK/out"

# --- device pins from node devices -------------------------------------------
# fix pins what libvirt shows (ids, class, the parent chain for the slot
# path); check refuses a domain whose pinned device is not what is there.
expect_rc 0 "$VIRT" -c "$URI" fix gpu
expect_grep '<hostdev:device address="0000:01:00.0" vendor="0x10de" device="0x13c2" .*class="0x030000" .*slot-path="0000:00/01.0/00.0"/>' "$WORK/out"
cp "$WORK/out" "$WORK/gpu-fixed.xml"
sed '/^<\/node>$/d' "$NODE" >"$WORK/node-pins.xml"
for d in pinned drifted; do
  sed -e "s|<name>gpu</name>|<name>$d</name>|" -e '/<uuid>/d' "$WORK/gpu-fixed.xml" >"$WORK/$d.xml"
done
sed -i 's/address="0000:01:00.0" vendor="0x10de" device="0x13c2"/address="0000:01:00.0" vendor="0x10de" device="0x1b80"/' "$WORK/drifted.xml"
cat "$WORK/pinned.xml" "$WORK/drifted.xml" >>"$WORK/node-pins.xml"
echo '</node>' >>"$WORK/node-pins.xml"
expect_rc 2 "$VIRT" -c "test://$WORK/node-pins.xml" check pinned drifted --format json
expect_eq "pinned=ok drifted=blocked " "$(json_of '.domains[] | "\(.domain)=\(.status)"' | tr '\n' ' ')" "pinned statuses"
expect_grep '0000:01:00.0 is not the device the domain was made for: .*fields that differ: device 1b80 -> 13c2' "$WORK/out"
expect_rc 2 "$VIRT" -c "test://$WORK/node-pins.xml" fix drifted
expect_grep 'not the device the domain was made for' "$WORK/err"
expect_rc 0 "$VIRT" -c "test://$WORK/node-pins.xml" fix --repin --diff drifted
expect_grep '^\+.*device="0x13c2"' "$WORK/out"

# --- a fleet: several -c ------------------------------------------------------
# Each host checked on its own connection; one report per host in the order
# of -c whatever order they end in, a host that cannot be reached reported in
# its place, the summary, the highest exit code. The single-host documents
# are what one -c writes.
DOWN="test://$WORK/no-such-node.xml"
# block N FILE: the lines of the Nth "== URI" block, without its header and
# the blank line that ends it.
block() { awk -v n="$1" '/^== /{i++; next} /^$/{if (i == n) exit} i == n' "$2"; }
expect_rc 2 "$VIRT" -c "$URI" check --all --format json
cp "$WORK/out" "$WORK/single.json"
expect_rc 2 "$VIRT" -c "$URI" check --all
{ sed -n 's/^virt-hostdev: warning: /warning: /p' "$WORK/err"; cat "$WORK/out"; } >"$WORK/single.txt"
expect_rc 0 "$VIRT" -c test:///default check --all
{ sed -n 's/^virt-hostdev: warning: /warning: /p' "$WORK/err"; cat "$WORK/out"; } >"$WORK/default.txt"

expect_rc 3 "$VIRT" -c test:///default -c "$URI" -c "$DOWN" check --all
cp "$WORK/out" "$WORK/fleet.txt"
expect_eq "== test:///default|== $URI|== $DOWN" "$(grep '^== ' "$WORK/fleet.txt" | paste -sd'|')" "fleet headers in the order of -c"
expect_eq "fleet: 3 hosts: 1 ok, 1 blocked, 1 unreachable" "$(tail -1 "$WORK/fleet.txt")" "fleet summary line"
block 1 "$WORK/fleet.txt" >"$WORK/block1"
block 2 "$WORK/fleet.txt" >"$WORK/block2"
expect_same "$WORK/default.txt" "$WORK/block1"
expect_same "$WORK/single.txt" "$WORK/block2"
block 3 "$WORK/fleet.txt" >"$WORK/block3"
expect_grep "^error: cannot connect to $DOWN" "$WORK/block3"
expect_grep '^  hint: the test driver takes' "$WORK/block3"
if [ -s "$WORK/err" ] && grep -qv 'I/O warning' "$WORK/err"; then not_ok "the fleet wrote on stderr: $(head -3 "$WORK/err")"; else ok; fi

expect_rc 3 "$VIRT" -c test:///default -c "$URI" -c "$DOWN" check --all --format json
expect_eq "test:///default=ok:0 $URI=blocked:2 $DOWN=unreachable:3" \
  "$(json_of '[.hosts[] | "\(.uri)=\(.status):\(.exit_code)"] | join(" ")')" "fleet hosts in JSON"
expect_eq '{"hosts":3,"ok":1,"fixable":0,"blocked":1,"invalid":0,"unreachable":1,"failed":0,"exit_code":3}' \
  "$(json_of '.summary | tojson')" "fleet summary in JSON"
expect_eq "uri,status,exit_code,report uri,status,exit_code,report uri,status,exit_code,error" \
  "$(json_of '[.hosts[] | keys_unsorted | join(",")] | join(" ")')" "keys of the fleet's entries"
jq -S '.hosts[1].report' "$WORK/out" >"$WORK/fleet-report.json" 2>/dev/null
jq -S . "$WORK/single.json" >"$WORK/single-sorted.json"
expect_same "$WORK/single-sorted.json" "$WORK/fleet-report.json"
expect_grep "cannot connect to $DOWN: .*hint: the test driver takes" "$WORK/out"
# The worst host decides; the order of -c decides the order of the reports.
expect_rc 2 "$VIRT" -c "$URI" -c test:///default check --all
expect_eq "== $URI|== test:///default" "$(grep '^== ' "$WORK/out" | paste -sd'|')" "reversed -c, reversed reports"
expect_rc 3 "$VIRT" -c test:///default -c "$URI" check gpu plain --format json
expect_eq "test:///default=invalid:3 $URI=fixable:1" \
  "$(json_of '[.hosts[] | "\(.uri)=\(.status):\(.exit_code)"] | join(" ")')" "named domains on each host"
expect_rc 0 "$VIRT" -c test:///default -c test:///default --jobs 1 check --all --format json
expect_eq "ok ok 0" "$(json_of '"\(.hosts[0].status) \(.hosts[1].status) \(.summary.exit_code)"')" "two ok hosts"
expect_rc 3 "$VIRT" -c test:///default -c "$URI" check --all --jobs 0
expect_rc 3 "$VIRT" -c test:///default "$URI" check --all   # one value per -c
expect_rc 3 "$VIRT" -c test:///default -c "$URI" check
expect_grep 'give --all or one or more domain names' "$WORK/err"

# groups: each host's listing, or its groups document as the report.
"$VIRT" -c "$URI" groups --format json >"$WORK/groups.single.json" 2>/dev/null
expect_rc 0 "$VIRT" -c "$URI" -c "$URI" groups --format json
jq '.hosts[1].report' "$WORK/out" >"$WORK/groups.fleet.json" 2>/dev/null
expect_same "$WORK/groups.single.json" "$WORK/groups.fleet.json"
expect_eq "ok ok 0" "$(json_of '"\(.hosts[0].status) \(.hosts[1].status) \(.summary.exit_code)"')" "groups of two hosts"
"$VIRT" -c "$URI" groups >"$WORK/groups.single.txt" 2>/dev/null
expect_rc 1 "$VIRT" -c "$DOWN" -c "$URI" groups
block 2 "$WORK/out" >"$WORK/groups.block2"
expect_same "$WORK/groups.single.txt" "$WORK/groups.block2"
expect_grep "^error: cannot connect to $DOWN" "$WORK/out"
expect_eq "fleet: 2 hosts: 1 ok, 1 unreachable" "$(tail -1 "$WORK/out")" "groups fleet summary"
expect_rc 3 "$VIRT" -c "$URI" -c "$URI" groups --format dot
expect_grep 'dot draws one host' "$WORK/err"
# fix and snapshot take one connection.
expect_rc 3 "$VIRT" -c "$URI" -c "$URI" snapshot
expect_grep 'snapshot writes one host, the input of hostdev-fix --host: give one -c, not 2' "$WORK/err"
if [ -s "$WORK/out" ]; then not_ok "snapshot with two -c wrote on stdout"; else ok; fi
expect_rc 3 "$VIRT" -c "$URI" -c "$URI" fix gpu
expect_grep 'fix changes one domain on one connection: give one -c, not 2' "$WORK/err"

finish
