#!/usr/bin/env bash
# The man pages say what the executables accept: every long and short flag of
# every --help (the program's and each subcommand's, the subcommands read from
# the program's --help) is in that program's page (docs/man/PAGE.scd), a
# subcommand's in its "## PROG SUB" section or the page's OPTIONS; every
# option a section defines still exists; every hostdev.conf key the parser
# knows (its unknown-key message) is defined in hostdev.conf(5), and no other.
# Usage: flags.sh BUILD SRC PROG=PAGE...   (PROG a path under BUILD)
. "$(dirname "$0")/../cli/lib.sh"
shift 2
MAN=$SRC/docs/man

# The flags of a --help text, one per line: the first word of each option line.
help_flags() { sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n' | grep -E '^--?[A-Za-z]'; }
# The subcommands of a --help text.
help_subcommands() { sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'; }
# The lines of a page from a heading (a line equal to $2) to the next heading.
section() { awk -v h="$2" '$0 == h { on = 1; next } /^#/ { on = 0 } on' "$1"; }
# The options a section defines: the lines that start a definition (*-x*, *--yy* ...).
defined_flags() { grep -E '^\*-' | grep -oE '\*--?[A-Za-z][A-Za-z0-9-]*\*' | tr -d '*'; }
has_flag() {  # has_flag FLAG: stdin holds it as a word of its own
  grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|\$)"
}

for spec in "$@"; do
  prog=${spec%%=*} page=$MAN/${spec#*=}.scd
  name=$(basename "$prog")
  exe=$BUILD/$prog
  [ -x "$exe" ] || { not_ok "$exe is not built"; continue; }
  [ -f "$page" ] || { not_ok "$name has no man page ($page)"; continue; }
  "$exe" --help >"$WORK/help" 2>&1 || { not_ok "$name --help failed"; continue; }
  subs=$(help_subcommands <"$WORK/help")
  if [ -z "$subs" ]; then
    # No subcommands: the whole page, both ways.
    for f in $(help_flags <"$WORK/help"); do
      has_flag "$f" <"$page" && ok || not_ok "$name $f is not in $(basename "$page")"
    done
    for f in $(defined_flags <"$page"); do
      help_flags <"$WORK/help" | grep -qxF -- "$f" && ok || not_ok "$(basename "$page") defines $f, which $name --help lacks"
    done
    continue
  fi
  section "$page" "# OPTIONS" >"$WORK/common"
  [ -s "$WORK/common" ] && ok || not_ok "$(basename "$page") has no OPTIONS section"
  for f in $(help_flags <"$WORK/help"); do
    has_flag "$f" <"$WORK/common" && ok || not_ok "$name $f is not in the OPTIONS of $(basename "$page")"
  done
  for sub in $subs; do
    section "$page" "## $name $sub" >"$WORK/sub"
    if [ ! -s "$WORK/sub" ]; then
      not_ok "$(basename "$page") has no section \"## $name $sub\""
      continue
    fi
    ok
    "$exe" "$sub" --help >"$WORK/subhelp" 2>&1 || { not_ok "$name $sub --help failed"; continue; }
    for f in $(help_flags <"$WORK/subhelp"); do
      { has_flag "$f" <"$WORK/sub" || has_flag "$f" <"$WORK/common"; } && ok \
        || not_ok "$name $sub $f is not in its section of $(basename "$page")"
    done
    for f in $(defined_flags <"$WORK/sub"); do
      help_flags <"$WORK/subhelp" | grep -qxF -- "$f" && ok \
        || not_ok "$(basename "$page") defines $f for $name $sub, which its --help lacks"
    done
  done
  # The synopsis names every subcommand.
  section "$page" "# SYNOPSIS" >"$WORK/synopsis"
  for sub in $subs; do
    grep -qF -- "*$sub*" "$WORK/synopsis" && ok || not_ok "the SYNOPSIS of $(basename "$page") lacks $sub"
  done
done

# hostdev.conf: the keys the parser knows, from its own message about an unknown key.
printf 'no_such_key = 1\n' >"$WORK/bad.conf"
mkdir -p "$WORK/root"
HOSTDEV_CONFIG=$WORK/bad.conf "$HOSTDEV" status --root "$WORK/root" >/dev/null 2>"$WORK/err"
keys=$(sed -n 's/.*(known: \([^)]*\)).*/\1/p' "$WORK/err" | tr -d ' ' | tr ',' ' ')
if [ -z "$keys" ]; then
  not_ok "no 'known:' list in hostdev's message about an unknown key"
  sed 's/^/  /' "$WORK/err" >&2
fi
conf=$MAN/hostdev.conf.5.scd
section "$conf" "# KEYS" >"$WORK/keys"
for k in $keys; do
  grep -qE "^\*$k\* =" "$WORK/keys" && ok || not_ok "hostdev.conf key $k is not defined in hostdev.conf.5.scd"
done
for k in $(sed -n 's/^\*\([a-z_]*\)\* =.*/\1/p' "$WORK/keys"); do
  case " $keys " in *" $k "*) ok ;; *) not_ok "hostdev.conf.5.scd defines $k, which the parser does not know" ;; esac
done

finish
