#!/usr/bin/env bash
# The version is one: CMakeLists.txt's project(hostdev VERSION X.Y.Z), the
# top entry of debian/changelog (a native package: X.Y.Z, or X.Y.Z~... for a
# pre-release) and what `hostdev --version` and `virt-hostdev --version`
# print. Usage: version.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=${1:?usage: version.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: version.sh BUILD_DIR SOURCE_DIR}
failed=0
cmake_version=$(sed -n 's/^project(hostdev VERSION \([0-9.]*\)[ )].*/\1/p' "$SRC/CMakeLists.txt")
# The first line of debian/changelog: "hostdev (VERSION) DIST; urgency=..."
deb_version=$(sed -n '1s/^hostdev (\([^)]*\)) .*/\1/p' "$SRC/debian/changelog")
echo "CMakeLists.txt: ${cmake_version:-none}; debian/changelog: ${deb_version:-none}"
if [ -z "$cmake_version" ] || [ "$deb_version" != "$cmake_version" ]; then
  echo "FAIL: debian/changelog's version '${deb_version}' is not CMakeLists.txt's '${cmake_version}':" \
       "add a debian/changelog entry for $cmake_version (dch -v $cmake_version)" >&2
  failed=1
fi
if command -v dpkg-parsechangelog >/dev/null && [ "$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)" != "$deb_version" ]; then
  echo "FAIL: dpkg-parsechangelog reads another version than '$deb_version' from debian/changelog" >&2
  failed=1
fi
for exe in cli/hostdev virsh-plugin/virt-hostdev; do
  [ -x "$BUILD/$exe" ] || continue
  out=$("$BUILD/$exe" --version 2>&1)
  if printf '%s\n' "$out" | grep -qw -- "$cmake_version"; then
    echo "$exe --version: $out"
  else
    echo "FAIL: $BUILD/$exe --version prints '$out', not $cmake_version" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "ok: one version, $cmake_version"
exit "$failed"
