#!/usr/bin/env python3
"""Differential check of countersign's git evidence against plain git.

    bench/differential.py REPO COUNTERSIGN_BIN [--jobs N] [--limit N] [--show N]
                          [--diffs FILE] [--audit-json FILE] [--from-json FILE]

Runs `countersign audit --repo REPO --policy bundled --no-store --no-cache --format json`
(nothing is written into REPO) and compares, for every first-parent change of the branch
HEAD points at, three fields with what plain git says, computed here independently of
countersign's code:

* PR number: from the subject (`Merge pull request #N`, bors/homu `Auto merge of #N` and
  `Rollup merge of #N` in any case, bors-ng `Merge #N`, a squash `... (#N)`), else a GitLab
  `See merge request g/p!N` line, else the last Gerrit `Reviewed-on:` line with a change
  number. Regular expressions over `git log --first-parent --format=%s/%B`.
* Commit count: for a merge M with first parent P1, `git log P1..M` minus M itself (the
  commits the merge brings in; a merge that brings in nothing counts as its own one commit,
  as countersign lists it); 1 for any other commit.
* Author (mailmapped `%aN <%aE>`): for a commit that is not a merge, its author. For a merge,
  the rule of docs/git-evidence.md applied to `git log P1..M` output: the topic line is the
  commits met by following first parents from M's second parent while they are in P1..M; the
  author is the most frequent author among the non-merge commits of the line, a tie going
  to the author whose first commit on the line is oldest; without such commits, the same
  over all non-merge commits of P1..M (oldest first in git's order); without any, M's author.

Prints the agreement per field and the first differences of each (--show, default 20);
--diffs writes every difference as TSV. --audit-json saves countersign's output;
--from-json compares a saved output instead of running the binary. Python 3 standard library only. Exit status: 0
when every field agrees everywhere, 1 when there are differences, 2 on errors.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

US = "\x1f"


def git(repo: str, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", repo, *args], check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    return out.stdout.decode("utf-8", errors="replace")


# ---- PR numbers, independently of countersign's parser ---------------------------------

RE_GITHUB = re.compile(r"^Merge pull request #(\d+)(?: |$)")
RE_BORS = re.compile(r"^(?:auto|rollup) merge of #(\d+)", re.IGNORECASE)
RE_BORS_NG = re.compile(r"^Merge #(\d+)(?: |$)")
RE_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
RE_GITLAB = re.compile(r"^\s*See merge request \S*!(\d+)")
RE_GERRIT = re.compile(r"^Reviewed-on:\s*(\S+)", re.IGNORECASE)


def gerrit_number(url: str) -> int | None:
    url = url.rstrip("/")
    m = re.search(r"/\+/(\d+)(?:/\d+)?$", url)
    if m:
        return int(m.group(1))
    m = re.search(r"/(\d+)$", url)
    return int(m.group(1)) if m else None


def pr_number(subject: str, body: str) -> int | None:
    for rx in (RE_GITHUB, RE_BORS, RE_BORS_NG, RE_SQUASH):
        m = rx.search(subject)
        if m:
            return int(m.group(1))
    lines = body.splitlines()
    for line in reversed(lines):
        m = RE_GITLAB.match(line)
        if m:
            return int(m.group(1))
    for line in reversed(lines):
        m = RE_GERRIT.match(line)
        if m:
            n = gerrit_number(m.group(1))
            if n is not None:
                return n
    return None


# ---- authors -------------------------------------------------------------------------


def author_key(name: str, email: str) -> str:
    """How countersign displays an identity that is not in the policy, reduced to a key:
    a GitHub noreply address carries the login, otherwise the email (lower case)."""
    email = email.strip()
    if email.endswith("@users.noreply.github.com"):
        local = email[: -len("@users.noreply.github.com")]
        return "login:github:" + local.rsplit("+", 1)[-1]
    if email:
        return "email:" + email.lower()
    return "name:" + name.strip().lower()


RE_DISPLAY_EMAIL = re.compile(r"^(.*?) ?<(.*)> \(not in policy\)$")
RE_DISPLAY_OTHER = re.compile(r"^(.*) \(not in policy\)$")


def display_key(display: str | None) -> str | None:
    if display is None:
        return None
    m = RE_DISPLAY_EMAIL.match(display)
    if m:
        return "email:" + m.group(2).strip().lower()
    m = RE_DISPLAY_OTHER.match(display)
    if m:
        text = m.group(1)
        return ("login:" + text) if ":" in text or " " not in text else ("name:" + text.lower())
    return "person:" + display


def topic_author(merge: dict, rows: list[tuple[str, list[str], str]]) -> str:
    """rows: `git log P1..M` without M, newest first: (id, parents, author key)."""
    by_id = {r[0]: r for r in rows}
    line = []
    c = merge["parents"][1] if len(merge["parents"]) > 1 else None
    while c in by_id and len(line) <= len(rows):
        line.append(c)
        parents = by_id[c][1]
        c = parents[0] if parents else None
    candidates = [by_id[c][2] for c in reversed(line) if len(by_id[c][1]) <= 1]
    if not candidates:
        candidates = [r[2] for r in reversed(rows) if len(r[1]) <= 1]
    if not candidates:
        return merge["author"]
    counts: dict[str, list[int]] = {}
    for i, key in enumerate(candidates):
        counts.setdefault(key, [0, i])[0] += 1
    return max(counts.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[0]


def merge_facts(repo: str, merge: dict) -> tuple[int, str, str]:
    p1 = merge["parents"][0]
    out = git(repo, "log", f"--format=%H{US}%P{US}%aN{US}%aE", f"{p1}..{merge['id']}")
    rows = []
    for line in out.splitlines():
        h, parents, name, email = line.split(US)
        if h == merge["id"]:
            continue
        rows.append((h, parents.split(), author_key(name, email)))
    # The rule before docs/git-evidence.md: the author of the oldest commit brought in.
    previous = rows[-1][2] if rows else merge["author"]
    return max(len(rows), 1), topic_author(merge, rows), previous


# ---- main ----------------------------------------------------------------------------


def first_parent_history(repo: str, limit: int | None) -> list[dict]:
    args = ["log", "--first-parent", "-z", f"--format=%H{US}%P{US}%aN{US}%aE{US}%s{US}%B"]
    if limit:
        args.append(f"-n{limit}")
    out = git(repo, *args, "HEAD")
    commits = []
    for record in out.split("\0"):
        if not record.strip():
            continue
        h, parents, name, email, subject, body = record.lstrip("\n").split(US, 5)
        commits.append(
            {
                "id": h,
                "parents": parents.split(),
                "author": author_key(name, email),
                "subject": subject,
                "pr": pr_number(subject, body),
            }
        )
    return commits


def run_audit(repo: str, binary: str, save: str | None) -> tuple[dict, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [binary, "audit", "--repo", repo, "--policy", "bundled", "--no-store", "--no-cache", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    elapsed = time.monotonic() - start
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode("utf-8", errors="replace"))
        raise SystemExit(f"error: countersign audit exited with {proc.returncode}")
    if save:
        with open(save, "wb") as f:
            f.write(proc.stdout)
    return json.loads(proc.stdout), elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo")
    ap.add_argument("binary")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel git processes")
    ap.add_argument("--limit", type=int, help="compare only the newest N first-parent changes")
    ap.add_argument("--show", type=int, default=20, help="differences listed per field")
    ap.add_argument("--diffs", help="write every difference as TSV to this file")
    ap.add_argument("--audit-json", help="also save countersign's JSON output here")
    ap.add_argument("--from-json", help="compare this saved `audit --format json` output instead of running BINARY")
    args = ap.parse_args()

    tip = git(args.repo, "rev-parse", "HEAD").strip()
    branch = git(args.repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    print(f"repository: {os.path.abspath(args.repo)}  branch {branch}  tip {tip}")

    if args.from_json:
        with open(args.from_json, "rb") as f:
            audit = json.load(f)
        ours = {e["change"]["id"]: e["change"] for e in audit["changes"]}
        print(f"countersign audit: {len(ours)} changes (from {args.from_json})")
    else:
        audit, audit_seconds = run_audit(args.repo, args.binary, args.audit_json)
        ours = {e["change"]["id"]: e["change"] for e in audit["changes"]}
        print(f"countersign audit: {len(ours)} changes in {audit_seconds:.1f} s")

    start = time.monotonic()
    history = first_parent_history(args.repo, args.limit)
    merges = [c for c in history if len(c["parents"]) > 1]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for c, (count, author, previous) in zip(merges, pool.map(lambda m: merge_facts(args.repo, m), merges)):
            c["commits"], c["topic_author"], c["previous_author"] = count, author, previous
    for c in history:
        if len(c["parents"]) <= 1:
            c["commits"], c["topic_author"] = 1, c["author"]
    print(
        f"git: {len(history)} first-parent commits, {len(merges)} merges, "
        f"read in {time.monotonic() - start:.1f} s"
    )

    fields = {
        "pr_number": (lambda g: g["pr"], lambda o: o.get("pr_number")),
        "commits": (lambda g: g["commits"], lambda o: o.get("commits")),
        "author": (lambda g: g["topic_author"], lambda o: display_key(o.get("author"))),
    }
    agree = collections.Counter()
    compared = 0
    diffs: dict[str, list[tuple[str, str, object, object]]] = {f: [] for f in fields}
    missing = [c["id"] for c in history if c["id"] not in ours]
    for c in history:
        o = ours.get(c["id"])
        if o is None:
            continue
        compared += 1
        for field, (from_git, from_ours) in fields.items():
            g, v = from_git(c), from_ours(o)
            if g == v:
                agree[field] += 1
            else:
                diffs[field].append((c["id"], c["subject"], v, g))
    extra = len(ours) - compared if args.limit is None else 0

    print(f"changes compared: {compared} (missing from countersign: {len(missing)}, only in countersign: {extra})")
    with_pr = sum(1 for c in history if c["pr"] is not None)
    print(f"first-parent changes with a PR number according to git subjects/trailers: {with_pr}")
    print(f"{'field':<10} {'agree':>8} / {'compared':<8} share")
    for field in fields:
        share = 100.0 * agree[field] / compared if compared else 100.0
        print(f"{field:<10} {agree[field]:>8} / {compared:<8} {share:.2f}%")
    changed_rule = sum(1 for c in merges if c["previous_author"] != c["topic_author"])
    print(f"merges whose author the previous rule (oldest commit brought in) names differently: {changed_rule}")
    for field, rows in diffs.items():
        if not rows:
            continue
        print(f"\n{field}: {len(rows)} differences (countersign | git)")
        for h, subject, v, g in rows[: args.show]:
            print(f"  {h[:10]} {subject[:60]!r}: {v!r} | {g!r}")
    for h in missing[: args.show]:
        print(f"  missing from countersign: {h}")
    if args.diffs:
        with open(args.diffs, "w", encoding="utf-8") as f:
            f.write("field\tcommit\tsubject\tcountersign\tgit\n")
            for field, rows in diffs.items():
                for h, subject, v, g in rows:
                    f.write(f"{field}\t{h}\t{subject}\t{v}\t{g}\n")
    return 0 if not missing and all(not rows for rows in diffs.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"error: {' '.join(e.cmd)} failed: {e.stderr.decode(errors='replace')}\n")
        sys.exit(2)
