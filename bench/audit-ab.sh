#!/usr/bin/env bash
# Compare countersign builds on one repository, alternating with `git log` in every round.
#
#   bench/audit-ab.sh REPO ROUNDS BIN...
#
# Each round runs `git log --first-parent --name-only --format=%H%x00%ae%x00%B` and then
# `BIN audit --repo REPO --policy bundled --no-cache --no-store --format json` for each BIN,
# under /usr/bin/time. Prints, per command, the median wall time (and its ratio to git's),
# user and system CPU, peak RSS, and every round's wall time. Alternating puts each build
# and git on the same machine state; on a shared machine that matters more than the count.
set -euo pipefail
if [[ $# -lt 3 ]]; then
    echo "usage: $0 REPO ROUNDS BIN..." >&2
    exit 2
fi
repo=$1
rounds=$2
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
for ((i = 0; i < rounds; i++)); do
    /usr/bin/time -f "%e %U %S %M" -o "$out/t" \
        git -C "$repo" log --first-parent --name-only '--format=%H%x00%ae%x00%B' > /dev/null
    cat "$out/t" >> "$out/git"
    for b in "$@"; do
        # Exit status 1 is a policy violation found, not a failure.
        status=0
        /usr/bin/time -f "%e %U %S %M" -o "$out/t" \
            "$b" audit --repo "$repo" --policy bundled --no-cache --no-store --format json > /dev/null 2> "$out/err" || status=$?
        if [[ $status -gt 1 ]]; then
            echo "$b failed ($status):" >&2
            cat "$out/err" >&2
            exit 2
        fi
        tail -1 "$out/t" >> "$out/$(basename "$b").times"
    done
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
git_s=$(cut -d' ' -f1 "$out/git" | median)
printf '%-24s wall %.3f s\n' "git log" "$git_s"
for b in "$@"; do
    f=$out/$(basename "$b").times
    wall=$(cut -d' ' -f1 "$f" | median)
    printf '%-24s wall %.3f s (%.3fx git)  user %.2f s  system %.2f s  peak RSS %d MiB  rounds: %s\n' \
        "$(basename "$b")" "$wall" "$(echo "$wall / $git_s" | bc -l)" \
        "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median)" \
        "$(($(cut -d' ' -f4 "$f" | median | cut -d. -f1) / 1024))" "$(cut -d' ' -f1 "$f" | tr '\n' ' ')"
done
