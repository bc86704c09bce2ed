#!/usr/bin/env bash
# Every generated man page renders without a warning (man --warnings, as
# lintian checks pages) and has the sections a page needs.
# Usage: render.sh BUILD SRC MANDIR PAGE...
. "$(dirname "$0")/../cli/lib.sh"
MANDIR=$3
shift 3
command -v man >/dev/null || { echo "man is missing: apt-get install man-db groff-base" >&2; exit 1; }

for page in "$@"; do
  file=$MANDIR/$page
  [ -s "$file" ] || { not_ok "$file was not generated (cmake --build build --target man)"; continue; }
  MANWIDTH=80 man --warnings -l "$file" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  [ "$rc" -eq 0 ] && ok || not_ok "man -l $page exited $rc"
  if [ -s "$WORK/err" ]; then not_ok "man --warnings -l $page:"; sed 's/^/  /' "$WORK/err" >&2; else ok; fi
  want=(NAME SYNOPSIS DESCRIPTION FILES EXAMPLES "SEE ALSO")
  case $page in *.5) ;; *) want+=("EXIT STATUS") ;; esac
  for s in "${want[@]}"; do
    grep -qx "$s" "$WORK/out" && ok || not_ok "$page has no $s section"
  done
done

finish
