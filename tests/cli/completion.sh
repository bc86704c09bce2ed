#!/usr/bin/env bash
# The bash completion (completion/hostdev.bash), driven as bash drives it
# (COMP_WORDS split at COMP_WORDBREAKS, COMP_CWORD, COMP_LINE, COMP_POINT):
# subcommands and flags from each --help, flag values, PCI addresses of a fake
# root given with --root, domains from a stub virsh with the line's -c, files
# and directories. Once with bash-completion's library loaded first (when
# installed), once in a bare bash.
# Usage: completion.sh BUILD SRC [bare]
. "$(dirname "$0")/lib.sh"

if [ "${3-}" != bare ]; then
  if [ -f /usr/share/bash-completion/bash_completion ]; then
    # shellcheck disable=SC1091
    . /usr/share/bash-completion/bash_completion
  fi
  bash "$0" "$BUILD" "$SRC" bare || failed=$((failed + 1))
fi
. "$SRC/completion/hostdev.bash"
mode=${3:-with bash-completion}

# A stub virsh: its arguments logged, two domains locally, one on kvm1.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/virsh" <<EOF
#!/bin/sh
echo "\$*" >>"$WORK/virsh.log"
case "\$*" in
  "-c qemu+ssh://kvm1/system list --all --name") printf 'remote-vm\n\n' ;;
  "list --all --name") printf 'win10\nubuntu-gpu\n\n' ;;
  *) exit 1 ;;
esac
EOF
chmod +x "$WORK/bin/virsh"
PATH=$WORK/bin:$BUILD/cli:$BUILD/virsh-plugin:$PATH

# A fake root with three functions.
cat >"$WORK/host.spec" <<'SPEC'
dev 00:01.0 8086:1901 0x060400 group=1 driver=pcieport bus=01
dev 01:00.0 10de:13c2 0x030000 group=1 driver=nouveau
dev 01:00.1 10de:0fbb 0x040300 group=1 driver=snd_hda_intel
SPEC
"$FAKEROOT" "$WORK/host.spec" "$WORK/root" || { echo "cannot build fake root"; exit 1; }
mkdir -p "$WORK/files/domains"
touch "$WORK/files/dom1.xml" "$WORK/files/dom2.xml" "$WORK/files/host.json" "$WORK/files/out.txt"

# complete LINE: COMPREPLY for the cursor at the end of LINE, sorted into $WORK/got.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  # bash's split: blanks separate words; ':' and '=' are words of their own.
  local spaced
  spaced=$(printf '%s' "$1" | sed 's/\([:=]\)/ \1 /g')
  read -r -a COMP_WORDS <<<"$spaced"
  case $1 in *" ") COMP_WORDS+=("") ;; esac
  case $1 in *: | *=) COMP_WORDS+=("") ;; esac
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _hostdev_complete "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort >"$WORK/got"
}
# expect_words LINE WORD...: the candidates are exactly these.
expect_words() {
  local line=$1; shift
  complete_line "$line"
  printf '%s\n' "$@" | sed '/^$/d' | sort >"$WORK/want"
  if cmp -s "$WORK/got" "$WORK/want"; then ok; else
    not_ok "[$mode] '$line': got [$(tr '\n' ' ' <"$WORK/got")], wanted [$(tr '\n' ' ' <"$WORK/want")]"
  fi
}
# expect_has LINE WORD...: the candidates include these; expect_lacks: none of these.
expect_has() {
  local line=$1 w; shift
  complete_line "$line"
  for w in "$@"; do grep -qxF -- "$w" "$WORK/got" && ok || not_ok "[$mode] '$line' does not offer $w"; done
}
expect_lacks() {
  local line=$1 w; shift
  complete_line "$line"
  for w in "$@"; do grep -qxF -- "$w" "$WORK/got" && not_ok "[$mode] '$line' offers $w" || ok; done
}

# bash-completion's loader finds it under each installed name (as cmake
# --install lays it out) and it registers all three.
if [ "$mode" != bare ] && declare -F __load_completion >/dev/null; then
  mkdir -p "$WORK/user/completions"
  cp "$SRC/completion/hostdev.bash" "$WORK/user/completions/virt-hostdev"
  complete -r hostdev hostdev-fix virt-hostdev 2>/dev/null
  BASH_COMPLETION_USER_DIR=$WORK/user __load_completion virt-hostdev && ok || not_ok "[$mode] the loader did not find virt-hostdev"
fi
# Registered for the three executables.
for c in hostdev hostdev-fix virt-hostdev; do
  complete -p "$c" 2>/dev/null | grep -q -- '-F _hostdev_complete' && ok || not_ok "[$mode] no completion for $c"
done

# Subcommands: exactly those of --help.
mapfile -t subs < <(hostdev --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ "${#subs[@]}" -ge 8 ] && ok || not_ok "hostdev --help lists ${#subs[@]} subcommands"
expect_words "hostdev " "${subs[@]}"
expect_words "hostdev re" reattach recover
expect_words "hostdev --" --help --version
mapfile -t vsubs < <(virt-hostdev --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
expect_words "virt-hostdev " "${vsubs[@]}"
# Global options' values are skipped when looking for the subcommand.
expect_words "virt-hostdev --jobs 2 -c qemu:///system ch" check
expect_has "virt-hostdev --" --connect --jobs --pci-ids

# Flags of one subcommand.
expect_words "hostdev detach --" --help --domain --root --journal-dir --dry-run
expect_words "hostdev status --f" --format
expect_lacks "hostdev detach -" --format --write
expect_has "virt-hostdev check --" --all --format --hide-kvm --whole-slot --pin --schema-dir
expect_lacks "virt-hostdev check --" --define --relocate
expect_has "hostdev-fix -" -o --output -q --quiet --check --diff --in-place --network --relocate --repin
# Values of a flag with choices, also as --flag=VALUE.
expect_words "hostdev status --format " text json
expect_words "hostdev groups --format=d" dot
expect_words "hostdev-fix --hide-kvm a" auto always
expect_words "hostdev boot-config --initramfs " auto initramfs-tools dracut mkinitcpio
# A flag that takes no value does not swallow the next word.
expect_words "hostdev detach --dry-run --root $WORK/root 0000:01:00." 00.0 00.1

# PCI addresses of the root given on the line.
expect_words "hostdev detach --root $WORK/root " 0000:00:01.0 0000:01:00.0 0000:01:00.1
expect_words "hostdev reattach --root=$WORK/root 0000:0" 00:01.0 01:00.0 01:00.1
# After a ':' bash replaces only what follows it: the candidates are cut there.
expect_words "hostdev detach --root $WORK/root 0000:01" 01:00.0 01:00.1
expect_words "hostdev reattach 0000:01:00.1 --root $WORK/root 0000:00:" 01.0
expect_words "hostdev boot-config --root $WORK/root 0000:01:00" 00.0 00.1
expect_words "hostdev detach --root $WORK/files 0" # no sys/bus/pci there: nothing

# Domains from virsh, with the line's -c.
: >"$WORK/virsh.log"
expect_words "virt-hostdev check " win10 ubuntu-gpu
expect_words "virt-hostdev check --all --format text u" ubuntu-gpu
expect_grep '^list --all --name$' "$WORK/virsh.log"
expect_words "virt-hostdev -c qemu+ssh://kvm1/system fix " remote-vm
expect_grep '^-c qemu\+ssh://kvm1/system list --all --name$' "$WORK/virsh.log"
expect_words "virt-hostdev --connect=qemu+ssh://kvm1/system check r" remote-vm
expect_words "virt-hostdev groups " -h --help --format -o --output

# Files where files are taken, directories where directories are.
expect_words "hostdev-fix $WORK/files/d" "$WORK/files/dom1.xml" "$WORK/files/dom2.xml" "$WORK/files/domains"
expect_words "hostdev-fix --check $WORK/files/dom1.xml $WORK/files/dom2" "$WORK/files/dom2.xml"
expect_words "hostdev-fix --host $WORK/files/h" "$WORK/files/host.json"
expect_words "hostdev-fix -o $WORK/files/ou" "$WORK/files/out.txt"
expect_words "hostdev groups --output $WORK/files/o" "$WORK/files/out.txt"
expect_words "hostdev detach --domain $WORK/files/dom1" "$WORK/files/dom1.xml"
expect_words "hostdev-fix --schema-dir $WORK/files/" "$WORK/files/domains"
expect_words "hostdev detach --root $WORK/fil" "$WORK/files"
expect_words "virt-hostdev snapshot --domains $WORK/files/d" "$WORK/files/domains"

finish
