#!/usr/bin/env bash
# Validation benchmark: one `hostdev-fix --check --format json` process over N
# domain files against `virt-xml-validate FILE domain` run on each file.
#
#   bench/fix.sh [--runs R] [--host SNAPSHOT] BUILD_DIR [COUNT]
#
# BUILD_DIR is a configured and built hostdev build tree (for meaningful figures,
# an optimized one: RelWithDebInfo or Release). COUNT (default 400) domain files
# are written by hostdev-gen-domains for the host of SNAPSHOT (default
# examples/hosts/z170-gtx970.json) into a fresh temporary directory (under
# /dev/shm when it is writable, else $TMPDIR or /tmp), removed at exit.
# hostdev-fix runs R times (default 3; median wall time); the virt-xml-validate
# loop runs once. Both must judge the same files schema-valid, and the files the
# generator made schema-invalid must be judged invalid by both.
#
# Prints both wall times (and CPU times), the ratio, how many files each judged
# valid, and "verdicts agree: yes|no" with any disagreeing files.
# Exit status: 0 when measured and the verdicts agree (whatever the ratio), 1
# when the verdicts disagree or something broke, 2 on bad usage.
set -euo pipefail
export LC_ALL=C

usage() {
    echo "usage: fix.sh [--runs R] [--host SNAPSHOT] BUILD_DIR [COUNT]   (fix.sh --help for more)" >&2
    exit 2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(dirname "$here")
runs=3
host=$source_dir/examples/hosts/z170-gtx970.json
while [[ $# -gt 0 ]]; do
    case $1 in
        --runs) [[ $# -ge 2 ]] || usage; runs=$2; shift 2 ;;
        --host) [[ $# -ge 2 ]] || usage; host=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) echo "fix.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ $# -ge 1 && $# -le 2 ]] || usage
build=$1
count=${2:-400}
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "fix.sh: COUNT must be a positive number, got '$count'" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "fix.sh: --runs wants a positive number, got '$runs'" >&2; exit 2; }

die() { echo "fix.sh: $*" >&2; exit 1; }

fix=$build/cli/hostdev-fix
gen=$build/bench/hostdev-gen-domains
for tool in "$fix" "$gen"; do
    [[ -x $tool ]] || die "$tool is missing: build the tree first (cmake --build $build)"
done
[[ -r $host ]] || die "host snapshot $host is not readable"
command -v virt-xml-validate >/dev/null || die "virt-xml-validate not found: install the libvirt-clients package"
command -v xmllint >/dev/null || die "xmllint not found (virt-xml-validate needs it): install the libxml2-utils package"
command -v jq >/dev/null || die "jq not found: install the jq package"
# virt-xml-validate must accept a known-good domain, or every verdict below is noise.
virt-xml-validate "$source_dir/examples/domains/win10-gtx970.xml" domain >/dev/null 2>&1 \
    || die "virt-xml-validate rejects examples/domains/win10-gtx970.xml: is libvirt's domain.rng installed?"

# Many small files: a memory file system keeps the file system out of the figures.
if [[ -d /dev/shm && -w /dev/shm ]]; then base=/dev/shm; else base=${TMPDIR:-/tmp}; fi
tmp=$(mktemp -d "$base/hostdev-fixbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dir=$tmp/domains

"$gen" --count "$count" --host "$host" -o "$dir" --manifest "$tmp/manifest.tsv" >"$tmp/gen.out" \
    || die "hostdev-gen-domains failed"
files=("$dir"/*.xml)
[[ ${#files[@]} -eq $count ]] || die "expected $count domain files in $dir, found ${#files[@]}"

TIMEFORMAT='%3R %3U %3S'

# (a) hostdev-fix: one process for every file. Exit codes 0-3 are verdicts
# (ok, fixable, blocked, invalid); anything else is a failure.
: >"$tmp/fix.times"
for ((i = 0; i < runs; i++)); do
    rc=0
    { time "$fix" --check --quiet --host "$host" --format json "${files[@]}" >"$tmp/fix.json" 2>"$tmp/fix.err" || rc=$?; } 2>>"$tmp/fix.times"
    [[ $rc -le 3 ]] || die "hostdev-fix failed (exit $rc): $(head -5 "$tmp/fix.err")"
done
jq -r '.files[] | [.file, (if .status == "invalid" then "invalid" else "valid" end), .status] | @tsv' \
    "$tmp/fix.json" | sort >"$tmp/fix.verdicts" || die "hostdev-fix printed no JSON report"
[[ $(wc -l <"$tmp/fix.verdicts") -eq $count ]] \
    || die "hostdev-fix reported $(wc -l <"$tmp/fix.verdicts") files, expected $count"

# (b) virt-xml-validate, once per file, as a shell loop would run it.
{ time (for f in "${files[@]}"; do
            if virt-xml-validate "$f" domain >/dev/null 2>>"$tmp/virt.err"; then
                printf '%s\tvalid\n' "$f"
            else
                printf '%s\tinvalid\n' "$f"
            fi
        done >"$tmp/virt.verdicts.raw"); } 2>"$tmp/virt.times"
sort "$tmp/virt.verdicts.raw" >"$tmp/virt.verdicts"

# Compare: the two tools with each other, and both with the generator's intent.
sort "$tmp/manifest.tsv" >"$tmp/manifest.sorted"
join -t $'\t' "$tmp/fix.verdicts" "$tmp/virt.verdicts" >"$tmp/both" 2>/dev/null || true
join -t $'\t' "$tmp/both" "$tmp/manifest.sorted" >"$tmp/all" 2>/dev/null || true
[[ $(wc -l <"$tmp/all") -eq $count ]] || die "could not match the verdicts of both tools to the $count files"

awk -F'\t' -v n="$count" -v runs="$runs" -v fixtimes="$tmp/fix.times" -v virttimes="$tmp/virt.times" \
    -v gen="$(cat "$tmp/gen.out")" '
    function ms(s) { return s * 1000 }
    BEGIN {
        k = 0
        while ((getline line < fixtimes) > 0) { split(line, t, " "); k++; real[k] = t[1]; cpu[k] = t[2] + t[3] }
        # median and minimum of the runs (insertion sort; R is small)
        for (i = 2; i <= k; i++) for (j = i; j > 1 && real[j] < real[j-1]; j--) {
            x = real[j]; real[j] = real[j-1]; real[j-1] = x; x = cpu[j]; cpu[j] = cpu[j-1]; cpu[j-1] = x
        }
        fix_med = (k % 2) ? real[(k + 1) / 2] : (real[k / 2] + real[k / 2 + 1]) / 2
        fix_cpu = (k % 2) ? cpu[(k + 1) / 2] : (cpu[k / 2] + cpu[k / 2 + 1]) / 2
        fix_min = real[1]
        getline line < virttimes; split(line, t, " "); virt_real = t[1]; virt_cpu = t[2] + t[3]
    }
    # file, fix verdict, fix status, virt verdict, intent, intended schema verdict, shape
    {
        fix_valid += ($2 == "valid"); virt_valid += ($4 == "valid"); status[$3]++
        if ($2 != $4) disagree[++nd] = $1 " hostdev-fix: " $2 " (" $3 "), virt-xml-validate: " $4 " (" $7 ")"
        else if ($2 != $6) offintent[++no] = $1 " both: " $2 ", generator meant: " $6 " (" $7 ")"
        if ($3 != $5) { nm++; if (nm <= 10) mism[nm] = $1 " status " $3 ", generator meant " $5 " (" $7 ")" }
    }
    END {
        if (fix_med <= 0) fix_med = 0.0005   # below the timer resolution
        ratio = virt_real / fix_med
        sub(/^wrote [0-9]+ domain files to [^:]*: /, "", gen)
        printf "files: %d domain files (generator %s)\n", n, gen
        printf "hostdev-fix --check --format json, one process:  median %9.1f ms  min %9.1f ms  cpu %8.1f ms  (runs: %d)\n", ms(fix_med), ms(fix_min), ms(fix_cpu), k
        printf "virt-xml-validate FILE domain, once per file:    wall   %9.1f ms                   cpu %8.1f ms  (1 run: slow, not repeated)\n", ms(virt_real), ms(virt_cpu)
        printf "ratio virt-xml-validate loop / hostdev-fix: %.1fx (target >= 20x): %s\n", ratio, (ratio >= 20 ? "PASS" : "FAIL")
        printf "schema-valid: hostdev-fix %d of %d, virt-xml-validate %d of %d\n", fix_valid, n, virt_valid, n
        printf "hostdev-fix statuses: ok %d, fixable %d, blocked %d, invalid %d (as the generator meant: %d of %d)\n", status["ok"], status["fixable"], status["blocked"], status["invalid"], n - nm, n
        for (i = 1; i <= nm && i <= 10; i++) printf "  note: %s\n", mism[i]
        printf "verdicts agree: %s\n", (nd == 0 ? "yes" : "no")
        for (i = 1; i <= nd; i++) printf "  disagree: %s\n", disagree[i]
        for (i = 1; i <= no; i++) printf "  generator: %s\n", offintent[i]
        exit (nd == 0 && no == 0) ? 0 : 1
    }' "$tmp/all" || {
    echo "fix.sh: the schema verdicts disagree, or differ from what the generator meant (see above)" >&2
    if grep -qv ' validates$' "$tmp/virt.err"; then
        echo "virt-xml-validate said:" >&2
        grep -v ' validates$' "$tmp/virt.err" | head -20 >&2
    fi
    exit 1
}
