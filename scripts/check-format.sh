#!/usr/bin/env bash
# Checks that every C++ file of the tree is formatted as .clang-format says.
# Usage: scripts/check-format.sh [--fix]
#   (no option)  list the files that are not formatted and exit 1 if any is
#   --fix        format them in place
# Uses clang-format 14 (Debian 12's clang-format package); another version
# may format differently, so it is named explicitly when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "check-format: unknown option '$1' (try --help)" >&2; exit 64 ;;
esac

tool=""
for t in clang-format-14 clang-format; do
  if command -v "$t" >/dev/null 2>&1; then tool=$t; break; fi
done
if [ -z "$tool" ]; then
  echo "check-format: clang-format is not installed (apt-get install clang-format)" >&2
  exit 2
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -d '' files < <(git ls-files -z -- '*.cpp' '*.hpp' '*.h' '*.cc')
else  # an unpacked source tree without git
  mapfile -d '' files < <(find . -path ./build -prune -o \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -type f -print0 | sort -z)
fi
if [ "$fix" -eq 1 ]; then
  "$tool" -i -- "${files[@]}"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  if ! "$tool" --dry-run --Werror -- "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if ((${#bad[@]})); then
  printf 'check-format: not formatted as .clang-format says: %s\n' "${bad[@]}" >&2
  echo "check-format: run scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
