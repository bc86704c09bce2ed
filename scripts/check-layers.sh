#!/usr/bin/env bash
# Checks that the code keeps the layers ARCHITECTURE.md draws: each folder of
# the library includes only the folders below it, the hook does not use the
# shared front-end library, and only virsh-plugin/ includes libvirt.
# Usage: scripts/check-layers.sh   (exit 1 and one line per offending include)
set -euo pipefail
cd "$(dirname "$0")/.."

# What each library layer may include besides itself.
declare -A allowed=(
  [base]=""
  [host]="base"
  [domain]="base"
  [policy]="base host domain"
  [binding]="base host domain policy"
  [setup]="base host domain policy"
  [output]="base host domain policy"
)

bad=0
complain() { echo "check-layers: $1" >&2; bad=1; }

for layer in "${!allowed[@]}"; do
  for dir in "libhostdev/src/$layer" "libhostdev/include/hostdev/$layer"; do
    [ -d "$dir" ] || continue
    while IFS= read -r line; do
      file=${line%%:*}
      inc=$(sed -E 's/.*#include "(hostdev\/)?([a-z_]+)\/.*/\2/' <<<"$line")
      [ "$inc" = "$layer" ] && continue
      case " ${allowed[$layer]} " in
        *" $inc "*) ;;
        *) complain "$file: the $layer layer includes $inc/ (allowed: ${allowed[$layer]:-none}); see ARCHITECTURE.md" ;;
      esac
    done < <(grep -rHE '^#include "(hostdev/)?[a-z_]+/' "$dir" || true)
  done
done

# Only virsh-plugin/ talks to libvirt; the hook does not link frontend/.
while IFS= read -r line; do
  complain "${line%%:*}: includes libvirt outside virsh-plugin/"
done < <(grep -rlE '#include <libvirt/' libhostdev frontend cli hooks 2>/dev/null || true)
while IFS= read -r line; do
  complain "$line: the hook includes frontend/ (it has its own guard)"
done < <(grep -rlE '#include "(frontend/)?(output|host_source)\.hpp"' hooks 2>/dev/null || true)

[ "$bad" -eq 0 ] && echo "check-layers: every include follows the layers"
exit "$bad"
