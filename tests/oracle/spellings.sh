#!/usr/bin/env bash
# libvirt's own reading of every PCI address spelling in
# tests/data/addresses/spellings.txt: each case is a domain whose hostdev
# source <address> carries the spelling; all are defined through the QEMU
# driver in one virsh process, and the normalised address dumpxml prints (or
# the refusal) must be the table's. The unit test AddressSpellings holds
# hostdev's reader to the same table, so hostdev and libvirt agree on each case.
#
#   tests/oracle/spellings.sh BUILD_DIR SOURCE_DIR
. "$(dirname "$0")/lib.sh"

TABLE=$SRC/tests/data/addresses/spellings.txt
[ -r "$TABLE" ] || die "cannot read $TABLE"
need_packages
new_embed_root spellings

# address_element FIELD SPELLING: the <address> of the case, as the unit test builds it.
address_element() {
  local out="<address" f fallback
  for f in domain:0x0000 bus:0x01 slot:0x00 function:0x0; do
    fallback=${f#*:}
    f=${f%%:*}
    if [ "$f" != "$1" ]; then
      out+=" $f='$fallback'"
    elif [ "$2" != "(absent)" ]; then
      out+=" $f='$2'"
    fi
  done
  printf '%s/>' "$out"
}

fields=() values=() expected=()
defines=""
while IFS= read -r line; do
  case $line in '' | '#'*) continue ;; esac
  rest=${line#*|}
  [ "$rest" != "$line" ] && [ "${rest%|*}" != "$rest" ] || die "spellings.txt: bad line: $line"
  i=${#fields[@]}
  fields+=("${line%%|*}")
  values+=("${rest%|*}")
  expected+=("${rest##*|}")
  cat >"$WORK/case-$i.xml" <<EOF
<domain type='qemu'>
  <name>spelling-$i</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source>$(address_element "${fields[$i]}" "${values[$i]}")</source>
    </hostdev>
  </devices>
</domain>
EOF
  defines+="define $WORK/case-$i.xml; "
done <"$TABLE"
[ ${#fields[@]} -ge 40 ] || die "only ${#fields[@]} cases in $TABLE"

embed_virsh -q "$defines" >"$WORK/define.out" 2>"$WORK/define.err" || die "virsh failed: $(tail -3 "$WORK/define.err")"
dumps=""
for i in "${!fields[@]}"; do dumps+="echo @$i; dumpxml spelling-$i --xpath //hostdev/source/address; "; done
embed_virsh -q "$dumps" >"$WORK/dump.out" 2>/dev/null

# libvirt's answer for each case: the address it stores, or "refused". In a
# command list virsh's echo ends without a newline, so one line may hold
# several markers: "@5@6<address .../>".
declare -A got=()
attr() { sed -nE "s/.* $1=\"([^\"]*)\".*/\\1/p" <<<"$2"; }
while IFS= read -r line; do
  while [[ $line =~ ^@([0-9]+)(.*)$ ]]; do
    current=${BASH_REMATCH[1]}
    line=${BASH_REMATCH[2]}
    got[$current]=refused
  done
  if [[ $line == *"<address "* ]]; then
    got[$current]=$(printf '%04x:%02x:%02x.%x' "$(attr domain "$line")" "$(attr bus "$line")" "$(attr slot "$line")" \
                      "$(attr function "$line")")
  fi
done <"$WORK/dump.out"

printf '%-10s %-26s %-18s %s\n' field spelling libvirt table
for i in "${!fields[@]}"; do
  libvirt=${got[$i]:-missing}
  shown=$(printf '%s' "${values[$i]}" | sed 's/\t/\\t/g')
  printf '%-10s %-26s %-18s %s\n' "${fields[$i]}" "'$shown'" "$libvirt" "${expected[$i]}"
  if [ "$libvirt" = "${expected[$i]}" ]; then ok; else not_ok "${fields[$i]}='$shown': libvirt reads $libvirt, the table says ${expected[$i]}"; fi
done
# Every refusal has libvirt's reason on stderr (one "Failed to define" per refused case).
refused=$(grep -c 'Failed to define domain' "$WORK/define.err")
want=$(printf '%s\n' "${expected[@]}" | grep -c '^refused$')
if [ "$refused" -eq "$want" ]; then ok; else not_ok "$refused refusals on stderr, $want in the table"; fi
finish
