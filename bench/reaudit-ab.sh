#!/usr/bin/env bash
# Warm re-audits of several binaries, alternating, on scratch clones of one repository.
#
#   bench/reaudit-ab.sh [--merge] REPO ROUNDS BIN...
#
# Each binary gets its own bare clone of REPO (sharing its objects) and its own SQLite
# store, audited twice first (facts cache, kept graph and snapshot warm). Then, ROUNDS
# times, for each binary in turn: one new commit on its clone, and one timed
# `countersign audit --policy bundled --format json`. With --merge the new commit is a merge
# of a one-commit topic forked from the first-parent commit 90 days (plus 7 per round)
# before the tip, as in bench/audit-vs-git.sh. Prints each binary's median and minimum in ms.
# REPO is never modified.
set -euo pipefail
merge=no
if [[ ${1:-} == --merge ]]; then merge=yes; shift; fi
if [[ $# -lt 3 ]]; then
    echo "usage: $0 [--merge] REPO ROUNDS BIN..." >&2
    exit 2
fi
repo=$1 rounds=$2
shift 2
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

audit() { # audit N BIN
    COUNTERSIGN_DATABASE_URL=$work/db$1 "$2" audit --repo "$work/r$1.git" --policy bundled --format json \
        > /dev/null 2> "$work/err$1" || [[ $? -le 1 ]] || { cat "$work/err$1" >&2; exit 2; }
}

new_commit() { # new_commit N ROUND
    local r=$work/r$1.git id tip_time base topic
    if [[ $merge == yes ]]; then
        tip_time=$(git -C "$r" log -1 --format=%ct HEAD)
        base=$(git -C "$r" rev-list --first-parent -1 --before=$((tip_time - (90 + 7 * $2) * 86400)) HEAD)
        base=${base:-$(git -C "$r" rev-list --first-parent --max-parents=0 HEAD | tail -1)}
        topic=$(git -C "$r" commit-tree "$base^{tree}" -p "$base" -m "bench: topic $2")
        id=$(git -C "$r" commit-tree "HEAD^{tree}" -p HEAD -p "$topic" -m "bench: merge topic $2")
    else
        id=$(git -C "$r" commit-tree "HEAD^{tree}" -p HEAD -m "bench: one more commit $2")
    fi
    git -C "$r" update-ref HEAD "$id"
}

i=0
for bin in "$@"; do
    i=$((i + 1))
    git clone -q --bare --local "$repo" "$work/r$i.git"
    audit $i "$bin"
    audit $i "$bin"
done
# Microseconds from bash's own clock (no `date` process inside the timing).
export LC_NUMERIC=C
for ((k = 0; k < rounds; k++)); do
    i=0
    for bin in "$@"; do
        i=$((i + 1))
        new_commit $i $k
        t0=${EPOCHREALTIME/./}
        audit $i "$bin"
        t1=${EPOCHREALTIME/./}
        echo "$i $((t1 - t0))" >> "$work/times"
    done
done
i=0
for bin in "$@"; do
    i=$((i + 1))
    awk -v n=$i '$1 == n {print $2}' "$work/times" | sort -n | awk -v bin="$bin" \
        '{a[NR] = $1} END {printf "%-40s median %.1f ms  min %.1f ms  (%d rounds)\n", bin, a[int((NR + 1) / 2)] / 1000, a[1] / 1000, NR}'
done
