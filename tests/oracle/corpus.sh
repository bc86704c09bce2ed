#!/usr/bin/env bash
# Every fixed output of the test corpora checked by libvirt's own QEMU driver
# (qemu:///embed), which refuses what the RelaxNG schema lets through: above
# all a guest PCI address two devices use ("Attempted double use of PCI
# Address"; libvirt's test driver does not check guest addresses).
#
# For each domain of examples/domains and tests/data/domains, the built
# hostdev-fix runs on the host the file is meant for:
#   examples/domains/NAME.xml   the example host of tests/unit/test_fix.cpp
#                               (kExampleDomainHost), examples/hosts/HOST.json;
#   tests/data/domains/*.xml    the host test_fix.cpp builds for the corpus
#                               (sibling_host_for): each PCI hostdev's function
#                               is an NVIDIA GPU function (0: display, others:
#                               audio) sharing one IOMMU group per slot with the
#                               other function of its slot (1 for function 0,
#                               else 0), as a fake root made here.
# Then, in ONE virsh process: every input is defined (the control: libvirt
# must accept it, or refuse it for a reason listed below), every input is
# undefined again, and every fixed output is defined. An output must be
# accepted when its input was; when libvirt refuses the input for a reason of
# its own, the output must be refused with exactly the same message (hostdev
# added no new one). A negative control proves the driver refuses a double use.
#
#   tests/oracle/corpus.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib.sh"

for tool in "$HOSTDEV_FIX" "$FAKEROOT"; do
  [ -x "$tool" ] || die "$tool is missing: build the tree first"
done
need_packages
export HOSTDEV_PCI_IDS=$SRC/tests/data/pci.ids

# Which example host each example domain is written for (as test_fix.cpp).
declare -A EXAMPLE_HOST=(
  [win10-gtx970]=z170-gtx970
  [blocked-hda]=z170-gtx970
  [usb-xhci]=hm170-laptop
  [nvme]=hm170-laptop
  [sriov-vf]=sriov-server
  [sriov-vf-shared]=sriov-server
  [router-i210]=workstation
)

# Corpus inputs libvirt 9.0 refuses for reasons that are not hostdev's: the
# first word is "refused" (always) or "maybe" (depends on what is installed),
# then the text libvirt's message must contain.
declare -A KNOWN_INPUT_REFUSAL=(
  # An emulated TPM 2.0 needs swtpm, which these tests do not install.
  [tests/data/domains/hyperv-features.xml]="maybe TPM version '2.0' is not supported"
)

mkdir -p "$WORK/in" "$WORK/out" "$WORK/hosts"
printf 'host iommu=dmar0\n' >"$WORK/hosts/empty.spec"
"$FAKEROOT" "$WORK/hosts/empty.spec" "$WORK/hosts/empty" >/dev/null || die "cannot build the empty fake root"

# sibling_host FILE: the fake root of the corpus host for FILE, in $HOST_ROOT.
# The PCI hostdevs are the devices an empty host lacks.
sibling_host() {
  local spec=$WORK/hosts/$1.spec addr slot fn other group=0
  declare -A group_of=() seen=()
  : >"$spec"
  while read -r addr; do
    slot=${addr%.*}
    fn=${addr##*.}
    if [ "$fn" = 0 ]; then other=$slot.1; else other=$slot.0; fi
    [ -n "${group_of[$slot]:-}" ] || { group=$((group + 1)); group_of[$slot]=$group; }
    for a in "$addr" "$other"; do
      [ -z "${seen[$a]:-}" ] || continue
      seen[$a]=1
      if [ "${a##*.}" = 0 ]; then
        echo "dev $a 10de:13c2 0x030000 group=${group_of[$slot]} driver=nouveau" >>"$spec"
      else
        echo "dev $a 10de:0fbb 0x040300 group=${group_of[$slot]} driver=snd_hda_intel" >>"$spec"
      fi
    done
  done < <("$HOSTDEV_FIX" --root "$WORK/hosts/empty" --format json -q "$SRC/$2" 2>/dev/null |
           jq -r '.files[0].problems[] | select(.message | test("is not on this host")) | .device')
  HOST_ROOT=$WORK/hosts/$1
  "$FAKEROOT" "$spec" "$HOST_ROOT" >/dev/null || die "cannot build the host of $2: $(cat "$spec")"
}

files=() names=()
defines_in="" undefines="" defines_out=""
n=0
for f in "$SRC"/examples/domains/*.xml "$SRC"/tests/data/domains/*.xml; do
  rel=${f#"$SRC"/}
  n=$((n + 1))
  case $rel in
    examples/*)
      stem=$(basename "$rel" .xml)
      [ -n "${EXAMPLE_HOST[$stem]:-}" ] || die "$rel has no example host here (add it to EXAMPLE_HOST)"
      host=(--host "$SRC/examples/hosts/${EXAMPLE_HOST[$stem]}.json")
      ;;
    *)
      sibling_host "case-$n" "$rel"
      host=(--root "$HOST_ROOT")
      ;;
  esac
  name=$("$HOSTDEV_FIX" "${host[@]}" --format json -q "$f" 2>/dev/null | jq -r '.files[0].domain // empty')
  [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "$rel: domain name '$name' (a plain name is needed here)"
  for other in "${names[@]}"; do [ "$other" != "$name" ] || die "$rel: domain name '$name' is used twice in the corpora"; done
  files+=("$rel")
  names+=("$name")
  as_qemu_type "$f" "$WORK/in/$n.xml"
  defines_in+="define $WORK/in/$n.xml; "
  undefines+="undefine $name --nvram; "
  "$HOSTDEV_FIX" "${host[@]}" -q -o "$WORK/out/fixed.xml" "$f"
  rc=$?
  case $rc in
    0) as_qemu_type "$WORK/out/fixed.xml" "$WORK/out/$n.xml"
       defines_out+="define $WORK/out/$n.xml; " ;;
    2) echo "$rel: blocked on its host, no output (input checked only)" ;;
    *) not_ok "$rel: hostdev-fix exited $rc on its host" ;;
  esac
  rm -f "$WORK/out/fixed.xml"
done

# The negative control: two devices on guest 00:05.1, what hostdev-fix wrote
# for guest-taken-by-controller.xml before it looked at every device.
NEG=$WORK/in/double-use.xml
as_qemu_type "$SRC/tests/data/domains/guest-taken-by-controller.xml" "$WORK/neg.xml"
sed -e "s|</devices>|  <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x1'/></hostdev>\n  </devices>|" \
  -e "s|<name>[^<]*</name>|<name>oracle-double-use</name>|" -e "/<uuid>/d" "$WORK/neg.xml" >"$NEG"

start=$(date +%s%N)
new_embed_root corpus
embed_virsh "$defines_in $undefines $defines_out define $NEG" >"$WORK/virsh.out" 2>"$WORK/virsh.err"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))

# verdict FILE: "accepted", or libvirt's message for it (the error line that
# follows "Failed to define domain from FILE").
verdict() {
  if grep -qF "defined from $1" "$WORK/virsh.out"; then echo accepted; return; fi
  local msg
  msg=$(grep -A1 -F "Failed to define domain from $1" "$WORK/virsh.err" | sed -n '2s/^error: //p')
  echo "${msg:-no answer from virsh}"
}

inputs_ok=0 outputs_ok=0 outputs=0
for i in "${!files[@]}"; do
  n=$((i + 1))
  rel=${files[$i]}
  vin=$(verdict "$WORK/in/$n.xml")
  known=${KNOWN_INPUT_REFUSAL[$rel]:-}
  if [ "$vin" = accepted ]; then
    if [[ $known == refused* ]]; then not_ok "$rel: libvirt now accepts the input (remove it from KNOWN_INPUT_REFUSAL)"; else ok; inputs_ok=$((inputs_ok + 1)); fi
  elif [ -n "$known" ] && [[ $vin == *"${known#* }"* ]]; then
    ok
    echo "$rel: input refused by libvirt as known: $vin"
  else
    not_ok "$rel: libvirt refuses the input: $vin"
  fi
  [ -f "$WORK/out/$n.xml" ] || continue
  outputs=$((outputs + 1))
  vout=$(verdict "$WORK/out/$n.xml")
  if [ "$vout" = "$vin" ]; then
    ok
    [ "$vout" != accepted ] || outputs_ok=$((outputs_ok + 1))
  else
    not_ok "$rel: libvirt's QEMU driver refuses hostdev-fix's output: $vout (input: $vin)"
    grep -n "type=.pci." "$WORK/out/$n.xml" | sed 's/^/  /' >&2
  fi
done
# Device pins come back from libvirt (README "Device pins"): the
# <hostdev:pins> block of each accepted output that has one, as dumpxml writes
# it, is the block hostdev-fix wrote: byte for byte where the document has
# libvirt's own layout (two-space indentation, LF), and apart from the
# indentation and line ends libvirt gives every document elsewhere.
pins_block() { sed -n '/<hostdev:pins /,/<\/hostdev:pins>/p' "$1"; }
pinned=0 exact=0
for i in "${!files[@]}"; do
  n=$((i + 1))
  out=$WORK/out/$n.xml
  [ -f "$out" ] && grep -q '<hostdev:pins ' "$out" && [ "$(verdict "$out")" = accepted ] || continue
  pinned=$((pinned + 1))
  embed_virsh "dumpxml --inactive ${names[$i]}" >"$WORK/dump.xml" 2>"$WORK/dump.err"
  wrote=$(pins_block "$out") got=$(pins_block "$WORK/dump.xml")
  if grep -q $'^    <hostdev:pins [^\r]*$' "$out"; then
    exact=$((exact + 1))
  else
    wrote=$(sed -e 's/^[[:space:]]*//' -e 's/\r$//' <<<"$wrote") got=$(sed 's/^[[:space:]]*//' <<<"$got")
  fi
  if [ -n "$got" ] && [ "$got" = "$wrote" ]; then
    ok
  else
    not_ok "${files[$i]}: libvirt changed the device pins: $(diff <(echo "$wrote") <(echo "$got") | head -5) $(head -2 "$WORK/dump.err")"
  fi
done
[ "$pinned" -gt 0 ] && [ "$exact" -gt 0 ] && ok || not_ok "no fixed output carries device pins in libvirt's layout"
echo "$pinned pinned outputs read back from libvirt with their pins unchanged ($exact byte for byte, the others re-indented)"

vneg=$(verdict "$NEG")
if [[ $vneg == *"Attempted double use of PCI Address 0000:00:05.1"* ]]; then ok; else not_ok "negative control: $vneg"; fi

echo "${#files[@]} corpus domains: $inputs_ok inputs accepted by libvirt; $outputs fixed outputs, $outputs_ok accepted"
echo "one virsh process on qemu:///embed: $elapsed_ms ms ($(grep -c 'defined from' "$WORK/virsh.out") defines accepted)"
finish
