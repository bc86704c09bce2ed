#!/usr/bin/env bash
# Runs one fuzz target of the sanitizer tree for SECONDS on a scratch copy of
# its seed corpus and regression inputs (the repository is never written).
# New inputs and crash artifacts stay in SCRATCH/TARGET. Any further
# arguments go to libFuzzer (e.g. -jobs=2, -max_len=65536).
# Usage: run.sh SANITIZE_BUILD_DIR TARGET SECONDS SCRATCH [libFuzzer flags...]
set -euo pipefail
build=$1 target=$2 seconds=$3 scratch=$4
mkdir -p "$scratch"
build=$(cd "$build" && pwd) scratch=$(cd "$scratch" && pwd)
shift 4
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/fuzz/fuzz_$target"
[ -x "$bin" ] || { echo "run.sh: $bin is not built (ctest -L fuzz builds it, or tests/fuzz/build.sh)" >&2; exit 1; }

work="$scratch/$target"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$here/corpus/$target/." "$work/corpus/"
if [ -d "$here/regressions/$target" ]; then cp -R "$here/regressions/$target/." "$work/corpus/"; fi
flags=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 -print_final_stats=1
       -artifact_prefix="$work/artifacts/")
if [ -f "$here/dict/$target.dict" ]; then flags+=(-dict="$here/dict/$target.dict"); fi

cd "$work"
set +e
"$bin" "${flags[@]}" "$@" "$work/corpus" >"$work/log" 2>&1
status=$?
set -e
# The log without its progress lines and suggested dictionary: the start, any
# report, the final stats.
sed -e '/^###### Recommended dictionary/,/^###### End of recommended dictionary/d' "$work/log" |
  grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)' || true
if [ "$status" -ne 0 ]; then
  echo "fuzz.$target: libFuzzer exited $status; the input is in $work/artifacts, the whole log in $work/log" >&2
  exit "$status"
fi
