#!/usr/bin/env python3
"""How often git's `limit_list` answer differs from the exact set (issue 8).

    bench/merge-walk-exact.py REPO WALK_JSON [--show N]

WALK_JSON is the output of `target/release/examples/walk REPO --no-cache --json` (the
changes, newest first; a merge's `commits` are what it brings in, oldest first, found the
way `git rev-list P1..M` finds them, or the merge itself when it brings in nothing).

For every first-parent merge M this computes, from `git log --format='%H %ct %P' HEAD`
alone, the exact set: the ancestors of M's other parents that are not ancestors of P1, in
one pass over the first-parent chain oldest to newest with a `seen` set (everything
reachable from the current mainline commit). It orders the set the way git's date-ordered
walk would order it if only those commits were queued (newest committer date first, ties
in the order queued). Then it compares set and order with countersign's (= git's) answer.

`limit_list` stops when every queued commit is hidden and none is newer than the oldest
visible one, plus five commits of slop; with skewed clocks it can stop before a hidden mark
reaches a commit it already listed, and then lists a commit P1 already had. Its answer is
always a superset of the exact set, in the same relative order, so the only possible
difference is such extra commits. Exit status 0 when none differ, 1 otherwise.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import heapq
import json
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("walk_json")
    ap.add_argument("--show", type=int, default=10)
    args = ap.parse_args()

    out = subprocess.run(
        ["git", "-C", args.repo, "log", "--format=%H %ct %P", "HEAD"], check=True, stdout=subprocess.PIPE
    ).stdout.decode()
    parents: dict[str, list[str]] = {}
    date: dict[str, int] = {}
    for line in out.splitlines():
        f = line.split()
        parents[f[0]] = f[2:]
        date[f[0]] = int(f[1])
    tip = subprocess.run(["git", "-C", args.repo, "rev-parse", "HEAD"], check=True, stdout=subprocess.PIPE)
    chain = []
    c: str | None = tip.stdout.decode().strip()
    while c is not None:
        chain.append(c)
        c = parents[c][0] if parents[c] else None
    chain.reverse()

    with open(args.walk_json, "rb") as f:
        ours = {ch["id"]: [k["id"] for k in ch["commits"]] for ch in json.load(f)}

    seen: set[str] = set()
    # 1 + the newest child date of a skewed edge (a parent newer than its child) among the
    # commits in `seen`; see `provable` below.
    skew_bound = -(2**63)
    provable = 0
    merges = same = extra_merges = extra_commits = order_diff = 0
    shown = 0
    for m in chain:
        ps = parents[m]
        if len(ps) < 2:
            seen.add(m)
            if ps and date[ps[0]] > date[m]:
                skew_bound = max(skew_bound, date[m] + 1)
            continue
        merges += 1
        # Exact set: ancestors of the other parents not yet seen.
        topic: set[str] = set()
        stack = [p for p in ps[1:] if p not in seen]
        while stack:
            x = stack.pop()
            if x in topic or x in seen:
                continue
            topic.add(x)
            stack.extend(p for p in parents[x] if p not in seen and p not in topic)
        # Order: git's date-ordered walk restricted to the exact set.
        heap = []
        seq = 1  # 0 is the hidden first parent
        queued: set[str] = set()
        for p in ps[1:]:
            if p in topic and p not in queued:
                queued.add(p)
                heapq.heappush(heap, (-date[p], seq, p))
                seq += 1
        order = []
        while heap:
            _, _, x = heapq.heappop(heap)
            order.append(x)
            for p in parents[x]:
                if p in topic and p not in queued:
                    queued.add(p)
                    heapq.heappush(heap, (-date[p], seq, p))
                    seq += 1
        exact = list(reversed(order)) or [m]
        # Provably git's answer: every commit where the exact set meets P1's history (an
        # other parent already seen, or a parent of a topic commit outside the topic) is
        # dated at or after `skew_bound`. Then a path from P1 to it has no skewed edge, so
        # limit_list hides it before it can stop, and lists nothing P1 already had.
        boundary = [p for p in ps[1:] if p not in topic]
        boundary += [p for x in topic for p in parents[x] if p not in topic]
        if all(date[b] >= skew_bound for b in boundary):
            provable += 1
        got = ours.get(m)
        if got is None:
            print(f"merge {m} is not in {args.walk_json}", file=sys.stderr)
            return 2
        if got == exact:
            same += 1
        elif set(got) == set(exact):
            order_diff += 1
            if shown < args.show:
                shown += 1
                print(f"order differs: {m}")
        else:
            extra = [x for x in got if x not in topic]
            missing = [x for x in exact if x not in set(got)]
            extra_merges += 1
            extra_commits += len(extra)
            if shown < args.show:
                shown += 1
                print(f"set differs: {m}: {len(extra)} listed but reachable from P1, {len(missing)} missing")
        for x in list(topic) + [m]:
            if any(date[p] > date[x] for p in parents[x]):
                skew_bound = max(skew_bound, date[x] + 1)
        seen |= topic
        seen.add(m)
    print(
        f"{args.repo}: {merges} first-parent merges; same set and order: {same}; "
        f"same set, other order: {order_diff}; other set: {extra_merges} ({extra_commits} extra commits); "
        f"exact set provably git's (no skewed edge can reach the boundary): {provable}"
    )
    return 0 if same == merges else 1


if __name__ == "__main__":
    sys.exit(main())
