#!/usr/bin/env bash
# Topology benchmark: `hostdev groups --format json` against `lspci -nn` on the
# same fake sysfs tree of a large synthetic server.
#
#   bench/groups.sh [--runs R] BUILD_DIR [FUNCTIONS]
#
# BUILD_DIR is a configured and built hostdev build tree (for meaningful figures,
# an optimized one: RelWithDebInfo or Release). FUNCTIONS defaults to 4096, R
# (measured runs of each command) to 15. The tree is laid out in a fresh
# temporary directory, removed at exit. Both commands must list all FUNCTIONS
# devices, with the same addresses, before anything is timed.
#
# Prints the median time of each command, the ratio hostdev/lspci, hostdev's
# peak RSS, and PASS/FAIL against the targets (ratio <= 1.0, peak RSS <= 32 MiB).
# Exit status: 0 when measured (whatever PASS/FAIL says; this is a benchmark),
# 1 when something broke, 2 on bad usage.
set -euo pipefail

usage() {
    echo "usage: groups.sh [--runs R] BUILD_DIR [FUNCTIONS]   (groups.sh --help for more)" >&2
    exit 2
}

runs=15
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) [[ $# -ge 2 ]] || usage; runs=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        -*) echo "groups.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ $# -ge 1 && $# -le 2 ]] || usage
build=$1
functions=${2:-4096}
[[ $functions =~ ^[0-9]+$ ]] || { echo "groups.sh: FUNCTIONS must be a number, got '$functions'" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "groups.sh: --runs wants a positive number, got '$runs'" >&2; exit 2; }

die() { echo "groups.sh: $*" >&2; exit 1; }

gen=$build/bench/hostdev-gen-server
runner=$build/bench/hostdev-bench-run
fakeroot=$build/tests/support/hostdev-fakeroot
hostdev=$build/cli/hostdev
lspci=${LSPCI:-lspci}
for tool in "$gen" "$runner" "$fakeroot" "$hostdev"; do
    [[ -x $tool ]] || die "$tool is missing: build the tree first (cmake --build $build)"
done
command -v "$lspci" >/dev/null || die "lspci not found: install the pciutils package"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
spec=$tmp/server.spec
root=$tmp/root

"$gen" --functions "$functions" -o "$spec" || die "hostdev-gen-server failed"
"$fakeroot" "$spec" "$root" || die "hostdev-fakeroot failed on $spec"

hostdev_cmd=("$hostdev" groups --format json --root "$root")
lspci_cmd=("$lspci" -nn -A linux-sysfs -O "sysfs.path=$root/sys/bus/pci")

# Both must see every function, and the same ones.
"$lspci" -D -n -A linux-sysfs -O "sysfs.path=$root/sys/bus/pci" >"$tmp/lspci.out" \
    || die "lspci failed on the tree"
awk '{print tolower($1)}' "$tmp/lspci.out" | sort -u >"$tmp/lspci.addr"
"${hostdev_cmd[@]}" >"$tmp/hostdev.json" || die "hostdev groups failed on the tree: ${hostdev_cmd[*]}"
grep -o '"address"[[:space:]]*:[[:space:]]*"[0-9a-fA-F:.]*"' "$tmp/hostdev.json" \
    | sed 's/.*"\([0-9a-fA-F:.]*\)"$/\1/' | tr 'A-F' 'a-f' | sort -u >"$tmp/hostdev.addr"
n_lspci=$(wc -l <"$tmp/lspci.addr")
n_hostdev=$(wc -l <"$tmp/hostdev.addr")
[[ $n_lspci -eq $functions ]] || die "lspci sees $n_lspci devices, expected $functions"
[[ $n_hostdev -eq $functions ]] || die "hostdev sees $n_hostdev devices, expected $functions"
cmp -s "$tmp/lspci.addr" "$tmp/hostdev.addr" \
    || die "hostdev and lspci list different addresses: $(diff "$tmp/lspci.addr" "$tmp/hostdev.addr" | head -5 | tr '\n' ' ')"

"$runner" --runs "$runs" --tsv \
    --name hostdev -- "${hostdev_cmd[@]}" \
    --name lspci -- "${lspci_cmd[@]}" >"$tmp/bench.tsv" || die "the benchmark runner failed"

awk -F'\t' -v n="$functions" -v runs="$runs" '
    { med[$1] = $2; min[$1] = $3; rss[$1] = $4 }
    END {
        if (!("hostdev" in med) || !("lspci" in med) || med["lspci"] <= 0) {
            print "groups.sh: incomplete benchmark output" | "cat 1>&2"; exit 1
        }
        ratio = med["hostdev"] / med["lspci"]
        rss_mib = rss["hostdev"] / 1024
        printf "tree: %d PCI functions, %d measured runs of each command (median of runs)\n", n, runs
        printf "hostdev groups --format json: median %8.2f ms  min %8.2f ms  peak RSS %6.1f MiB\n", med["hostdev"], min["hostdev"], rss_mib
        printf "lspci -nn:                    median %8.2f ms  min %8.2f ms  peak RSS %6.1f MiB\n", med["lspci"], min["lspci"], rss["lspci"] / 1024
        printf "ratio hostdev/lspci: %.2f (target <= 1.00): %s\n", ratio, ratio <= 1.0 ? "PASS" : "FAIL"
        printf "hostdev peak RSS: %.1f MiB (target <= 32 MiB): %s\n", rss_mib, rss_mib <= 32 ? "PASS" : "FAIL"
    }' "$tmp/bench.tsv"
