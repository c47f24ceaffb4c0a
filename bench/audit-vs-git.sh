#!/usr/bin/env bash
# Time countersign's full-history audit against `git log` on the same repositories.
#
#   bench/audit-vs-git.sh [--walk-example] [--runs N] [--policy P] [--bin BIN] REPO...
#   bench/audit-vs-git.sh [--walk-example] [--runs N] [--policy P] REPO BIN   (older form)
#
# For each REPO, in one run and on a scratch clone of it:
#   1. git log --first-parent --name-only --format=%H%x00%ae%x00%B        (the baseline)
#   2. countersign audit --repo R --no-cache --format json > /dev/null      (full audit)
#   3. countersign audit --repo R --format json > /dev/null after one new commit
#      (warm facts cache: only the new commit is read)
#   4. the same after one new merge of a one-commit topic forked from the first-parent
#      commit 90 days (by committer date) before the tip, 7 days further back on each run,
#      as topics are in merge-heavy histories: the merge's walk goes down the mainline to
#      the fork point (from the commit graph kept by the first audit, when the repository
#      has no commit-graph)
#   5. the full audit once more under /usr/bin/time, for its peak RSS
# and prints the medians and the ratios 2/1, 3/1 and 4/1; with several repositories, one
# table of all of them at the end, with the machine's load average as each was measured.
#
# --policy is passed to `countersign audit` (default: the repository's own countersign.toml
# when it has one, else `bundled`). The evidence database goes to the scratch directory.
#
# --walk-example measures the countersign-git crate alone with its example binary
# (target/release/examples/walk, built with
# `cargo build --release -p countersign-git --example walk`) instead of the CLI.
#
# Uses hyperfine when it is installed; otherwise runs each command N times (default 5)
# timing with `date +%s.%N` and reports the median. The scratch clone shares REPO's objects
# (`git clone --local`), gets a commit-graph only when REPO has one, and is deleted at the
# end; REPO itself is never modified.
set -euo pipefail

mode=cli
runs=5
policy=
bin=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --walk-example) mode=walk; shift ;;
        --runs) runs="$2"; shift 2 ;;
        --policy) policy="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
if [[ $# -lt 1 ]]; then
    echo "usage: $0 [--walk-example] [--runs N] [--policy P] [--bin BIN] REPO..." >&2
    exit 2
fi
# The older form: REPO BIN, the binary last.
if [[ $# -eq 2 && -z $bin && -f $2 && -x $2 ]]; then
    bin=$2
    set -- "$1"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z $bin ]]; then
    if [[ $mode == walk ]]; then bin=$root/target/release/examples/walk; else bin=$root/target/release/countersign; fi
fi
[[ -x $bin ]] || { echo "not executable: $bin" >&2; exit 2; }
given_policy=$policy

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
table=$(mktemp)
trap 'rm -f "$table"' EXIT

# measure REPO: everything above for one repository; appends its row to $table.
measure() (
repo=$(cd "$1" && pwd)
policy=$given_policy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scratch=$work/repo.git
git clone -q --bare --local "$repo" "$scratch"
branch=$(git -C "$repo" symbolic-ref --short HEAD 2>/dev/null || echo main)
git -C "$scratch" symbolic-ref HEAD "refs/heads/$branch"
src_git=$(git -C "$repo" rev-parse --absolute-git-dir)
if [[ -e $src_git/objects/info/commit-graph || -d $src_git/objects/info/commit-graphs ]]; then
    git -C "$scratch" commit-graph write --reachable
    graph=yes
else
    graph=no
fi
commits=$(git -C "$scratch" rev-list --first-parent --count HEAD)

git_cmd=(git -C "$scratch" log --first-parent --name-only '--format=%H%x00%ae%x00%B')
if [[ $mode == walk ]]; then
    full_cmd=("$bin" "$scratch" --no-cache --json)
    warm_cmd=("$bin" "$scratch" --json)
else
    if [[ -z $policy ]]; then
        if git -C "$scratch" cat-file -e HEAD:countersign.toml 2>/dev/null; then
            git -C "$scratch" show HEAD:countersign.toml > "$work/countersign.toml"
            policy=$work/countersign.toml
        else
            policy=bundled
        fi
    fi
    export COUNTERSIGN_DATABASE_URL=$work/countersign.db
    full_cmd=("$bin" audit --repo "$scratch" --policy "$policy" --no-cache --format json)
    warm_cmd=("$bin" audit --repo "$scratch" --policy "$policy" --format json)
fi

# Run a command with stdout to /dev/null; exit status 1 (policy violations) is fine.
run() {
    local status=0
    "$@" > /dev/null 2> "$work/stderr" || status=$?
    if [[ $status -gt 1 ]]; then
        echo "command failed ($status): $*" >&2
        cat "$work/stderr" >&2
        exit 2
    fi
}

new_commit() {
    local id
    id=$(git -C "$scratch" commit-tree "HEAD^{tree}" -p HEAD -m "bench: one more commit $RANDOM$RANDOM")
    git -C "$scratch" update-ref HEAD "$id"
}

# One new merge: a topic commit on a first-parent commit from before the tip's date less
# (90 + 7 k) days, merged into HEAD (k counts the merges made).
merges_made=0
new_merge() {
    local tip_time base topic merge
    tip_time=$(git -C "$scratch" log -1 --format=%ct HEAD)
    base=$(git -C "$scratch" rev-list --first-parent -1 --before=$((tip_time - (90 + 7 * merges_made) * 86400)) HEAD)
    base=${base:-$(git -C "$scratch" rev-list --first-parent --max-parents=0 HEAD | tail -1)}
    merges_made=$((merges_made + 1))
    topic=$(git -C "$scratch" commit-tree "$base^{tree}" -p "$base" -m "bench: topic $merges_made $RANDOM")
    merge=$(git -C "$scratch" commit-tree "HEAD^{tree}" -p HEAD -p "$topic" -m "bench: merge topic $merges_made")
    git -C "$scratch" update-ref HEAD "$merge"
}

# Bash's own clock (no `date` process per reading: that cost 1-3 ms inside every timing,
# a tenth of a warm re-audit).
export LC_NUMERIC=C

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# time_runs NAME PREPARE CMD...: median seconds of $runs timed runs, PREPARE run untimed before each.
time_runs() {
    local prepare=$1; shift
    local i t0 t1
    for ((i = 0; i < runs; i++)); do
        $prepare
        t0=$EPOCHREALTIME
        run "$@"
        t1=$EPOCHREALTIME
        echo "$t1 - $t0" | bc -l
    done | median
}

noop() { :; }

echo "repository: $repo ($commits first-parent commits, commit-graph: $graph)"
echo "binary:     $bin ($mode mode), $runs runs each, median"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) cores"

# Warm-up: fill the OS page cache and the facts cache.
run "${git_cmd[@]}"
run "${warm_cmd[@]}"

if command -v hyperfine > /dev/null; then
    # One --prepare per command: only the warm run gets a new commit first.
    hyperfine --runs "$runs" --export-json "$work/h.json" -N --ignore-failure \
        --prepare true --prepare true \
        --prepare "bash -c 'cd $scratch && git update-ref HEAD \$(git commit-tree HEAD^{tree} -p HEAD -m bench-\$RANDOM\$RANDOM)'" \
        -n git "${git_cmd[*]}" \
        -n full "${full_cmd[*]}" \
        -n warm "${warm_cmd[*]}" \
        > "$work/hyperfine.txt"
    cat "$work/hyperfine.txt"
    read -r git_s full_s warm_s < <(python3 -c "import json,sys; r=json.load(open('$work/h.json'))['results']; print(*[x['median'] for x in r])")
else
    git_s=$(time_runs noop "${git_cmd[@]}")
    full_s=$(time_runs noop "${full_cmd[@]}")
    warm_s=$(time_runs new_commit "${warm_cmd[@]}")
fi
merge_s=$(time_runs new_merge "${warm_cmd[@]}")

printf '%-44s %8.3f s\n' "git log --first-parent --name-only" "$git_s"
printf '%-44s %8.3f s   ratio %.3f x git\n' "full audit, --no-cache" "$full_s" "$(echo "$full_s / $git_s" | bc -l)"
printf '%-44s %8.3f s   ratio %.3f x git\n' "re-audit after one new commit (warm cache)" "$warm_s" "$(echo "$warm_s / $git_s" | bc -l)"
printf '%-44s %8.3f s   ratio %.3f x git\n' "re-audit after one new merge (warm cache)" "$merge_s" "$(echo "$merge_s / $git_s" | bc -l)"

# Peak memory of one more full run (kilobytes, as GNU time reports it).
rss_kb=$(/usr/bin/time -f %M -o "$work/rss" "${full_cmd[@]}" > /dev/null 2> /dev/null; cat "$work/rss" | tail -1)
printf '%-44s %8d MiB\n' "peak RSS of the full audit" "$((rss_kb / 1024))"
printf '| %s | %s | %s | %.3f s | %.3f s | %.2fx | %.3f s | %.3fx | %.3f s | %.3fx | %d MiB | %s |\n' \
    "$(basename "$repo")" "$commits" "$graph" "$git_s" "$full_s" "$(echo "$full_s / $git_s" | bc -l)" \
    "$warm_s" "$(echo "$warm_s / $git_s" | bc -l)" "$merge_s" "$(echo "$merge_s / $git_s" | bc -l)" \
    "$((rss_kb / 1024))" "$(cut -d' ' -f1 /proc/loadavg)" >> "$table"
)

for r in "$@"; do
    measure "$r" || exit 2
    echo
done
echo "| repository | first-parent commits | commit-graph | git log | full audit | ratio | warm re-audit | ratio | after a merge | ratio | peak RSS | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$table"
