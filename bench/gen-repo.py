#!/usr/bin/env python3
"""Generate a deterministic synthetic git repository for benchmarking countersign.

    bench/gen-repo.py OUT_DIR --commits 50000 --seed 1 [--files 3000] [--stream-only]

Writes a `git fast-import` stream (stdlib only, Python 3.11) and feeds it to
`git fast-import` in a fresh repository at OUT_DIR (or prints it with --stream-only).
The history looks like a busy product repository:

* a tree of a few thousand files in nested directories (src/, docs/, infra/, .github/),
* feature branches merged with `Merge pull request #N from org/branch` merge commits
  (1-4 branch commits each, sometimes with main moving on while the branch is open),
* squash merges `Subject (#N)` with Reviewed-by / Co-authored-by / TryBot-Result trailers,
* bors merges `Auto merge of #N - user:branch, r=alice,bob`,
* and some direct pushes.

After the import the repository is repacked (`git repack -adf`, like a `git gc`) and a
commit-graph is written unless --no-commit-graph is given. The same seed gives the same
commit ids.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys

PEOPLE = [
    ("Alice Anders", "alice@example.com", "alice"),
    ("Bob Brown", "bob@example.com", "bob"),
    ("Carol Chen", "carol@example.com", "carol"),
    ("Dan Diaz", "dan@example.com", "dan"),
    ("Erin Evans", "erin@example.com", "erin"),
    ("Femi Falade", "femi@example.com", "femi"),
    ("Grace Gao", "grace@example.com", "grace"),
    ("Hiro Hayashi", "hiro@example.com", "hiro"),
    ("Ines Ibarra", "ines@example.com", "ines"),
    ("Jon Jansen", "jon@example.com", "jon"),
    ("Kemal Kaya", "kemal@example.com", "kemal"),
    ("Lena Lund", "lena@example.com", "lena"),
    ("Mo Malik", "mo@example.com", "mo"),
    ("Nia Nwosu", "nia@example.com", "nia"),
    ("Omar Ortiz", "omar@example.com", "omar"),
    ("Priya Patel", "priya@example.com", "priya"),
]
GITHUB = ("GitHub", "noreply@github.com")
BORS = ("bors", "bors@example.com")

WORDS = (
    "add fix remove update refactor handle guard cache parse render validate retry "
    "timeout config migration schema index auth token session billing invoice export "
    "import queue worker scheduler metrics logging tracing docs test flaky race leak "
    "deadlock panic error path api client server endpoint handler router middleware"
).split()

TOP_DIRS = ["src", "src/api", "src/core", "src/auth", "src/billing", "src/db", "web", "docs", "infra", "tools"]


def sentence(rng: random.Random, lo: int = 3, hi: int = 8) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words)


def line(rng: random.Random) -> str:
    return f"    let {rng.choice(WORDS)}_{rng.randint(0, 999)} = {rng.choice(WORDS)}({rng.randint(0, 99999)});"


class Gen:
    def __init__(self, out, rng: random.Random, files: int):
        self.out = out
        self.rng = rng
        self.mark = 0
        self.time = 1_420_070_400  # 2015-01-01
        self.pr = 1
        self.commits = 0
        self.files: dict[str, list[str]] = {}
        self.main_mark: int | None = None
        self.initial_files = files

    # -- stream helpers -------------------------------------------------------------------
    def w(self, s: str) -> None:
        self.out.write(s.encode())

    def data(self, payload: str) -> None:
        b = payload.encode()
        self.out.write(f"data {len(b)}\n".encode())
        self.out.write(b)
        self.out.write(b"\n")

    def tick(self) -> int:
        self.time += self.rng.randint(60, 5400)
        return self.time

    def commit(self, ref: str, author, committer, message: str, parent: int | None, merges: list[int], changes: dict[str, list[str] | None]) -> int:
        self.mark += 1
        self.commits += 1
        t = self.tick()
        self.w(f"commit {ref}\nmark :{self.mark}\n")
        self.w(f"author {author[0]} <{author[1]}> {t - self.rng.randint(0, 3600)} +0000\n")
        self.w(f"committer {committer[0]} <{committer[1]}> {t} +0000\n")
        self.data(message)
        if parent is not None:
            self.w(f"from :{parent}\n")
        for m in merges:
            self.w(f"merge :{m}\n")
        for path in sorted(changes):
            content = changes[path]
            if content is None:
                self.w(f"D {path}\n")
            else:
                self.w(f"M 100644 inline {path}\n")
                self.data("\n".join(content) + "\n")
        self.w("\n")
        return self.mark

    # -- content ----------------------------------------------------------------------------
    def new_path(self) -> str:
        rng = self.rng
        top = rng.choice(TOP_DIRS)
        depth = rng.randint(0, 2)
        parts = [top] + [f"{rng.choice(WORDS)}{rng.randint(0, 9)}" for _ in range(depth)]
        ext = {"docs": ".md", "infra": ".tf", "web": ".ts"}.get(top, ".rs")
        return "/".join(parts) + f"/{rng.choice(WORDS)}_{rng.randint(0, 9999)}{ext}"

    def edit(self, view: dict[str, list[str]], n_files: int) -> dict[str, list[str] | None]:
        """Pick files to change in `view` (a dict path -> lines), return the changes."""
        rng = self.rng
        changes: dict[str, list[str] | None] = {}
        paths = list(self.files.keys())
        for _ in range(n_files):
            r = rng.random()
            if r < 0.08 or not paths:
                p = self.new_path()
                changes[p] = [line(rng) for _ in range(rng.randint(5, 30))]
            elif r < 0.11 and len(paths) > 100:
                p = rng.choice(paths)
                changes[p] = None
            else:
                p = rng.choice(paths)
                cur = list(view.get(p) or self.files.get(p) or [])
                if not cur or rng.random() < 0.4 or len(cur) > 60:
                    if cur:
                        cur[rng.randrange(len(cur))] = line(rng)
                    else:
                        cur.append(line(rng))
                else:
                    cur.insert(rng.randrange(len(cur) + 1), line(rng))
                changes[p] = cur
        return changes

    def apply(self, changes: dict[str, list[str] | None]) -> None:
        for p, c in changes.items():
            if c is None:
                self.files.pop(p, None)
            else:
                self.files[p] = c

    def trailers(self, author) -> str:
        rng = self.rng
        out = []
        reviewer = rng.choice([p for p in PEOPLE if p[1] != author[1]])
        if rng.random() < 0.8:
            out.append(f"Reviewed-by: {reviewer[0]} <{reviewer[1]}>")
        if rng.random() < 0.2:
            co = rng.choice(PEOPLE)
            out.append(f"Co-authored-by: {co[0]} <{co[1]}>")
        if rng.random() < 0.5:
            out.append(f"TryBot-Result: {rng.choice(['+1', '+1', '+1', '-1'])}")
        return "\n".join(out)

    # -- history shapes ---------------------------------------------------------------------
    def initial(self) -> None:
        changes: dict[str, list[str] | None] = {
            ".github/workflows/ci.yml": ["on: [push]", "jobs:", "  test:", "    runs-on: ubuntu-latest"],
            "CODEOWNERS": ["/src/auth/ @security", "/infra/ @sre"],
            "README.md": ["# synthetic"],
        }
        while len(changes) < self.initial_files:
            changes[self.new_path()] = [line(self.rng) for _ in range(self.rng.randint(5, 30))]
        author = PEOPLE[0]
        self.main_mark = self.commit("refs/heads/main", author, author, "Initial import\n", None, [], changes)
        self.apply(changes)

    def pr_merge(self, bors: bool) -> None:
        rng = self.rng
        author = rng.choice(PEOPLE)
        branch = f"{author[2]}/{rng.choice(WORDS)}-{self.pr}"
        base = self.main_mark
        view: dict[str, list[str] | None] = {}
        tip = base
        for _ in range(rng.randint(1, 4)):
            ch = self.edit({k: v for k, v in view.items() if v is not None}, rng.randint(1, 4))
            msg = f"{sentence(rng).capitalize()}\n\n{sentence(rng, 8, 20)}.\n"
            if rng.random() < 0.3:
                msg += "\n" + (self.trailers(author) or f"Signed-off-by: {author[0]} <{author[1]}>") + "\n"
            tip = self.commit("refs/heads/feature", author, author, msg, tip, [], ch)
            view.update(ch)
        # Sometimes main moves on while the branch is open.
        if rng.random() < 0.3:
            self.direct()
        number = self.pr
        self.pr += 1
        if bors:
            reviewers = ",".join(sorted({rng.choice(PEOPLE)[2] for _ in range(rng.randint(1, 2))}))
            msg = f"Auto merge of #{number} - {branch.replace('/', ':')}, r={reviewers}\n\n{sentence(rng).capitalize()}\n"
            committer = BORS
            merger = BORS
        else:
            msg = f"Merge pull request #{number} from org/{branch}\n\n{sentence(rng).capitalize()}\n"
            merger = rng.choice(PEOPLE)
            committer = GITHUB
        self.main_mark = self.commit("refs/heads/main", merger, committer, msg, self.main_mark, [tip], view)
        self.apply(view)

    def squash(self) -> None:
        rng = self.rng
        author = rng.choice(PEOPLE)
        ch = self.edit({}, rng.randint(1, 6))
        number = self.pr
        self.pr += 1
        msg = f"{sentence(rng).capitalize()} (#{number})\n\n{sentence(rng, 10, 30)}.\n"
        t = self.trailers(author)
        if t:
            msg += "\n" + t + "\n"
        self.main_mark = self.commit("refs/heads/main", author, GITHUB, msg, self.main_mark, [], ch)
        self.apply(ch)

    def direct(self) -> None:
        rng = self.rng
        author = rng.choice(PEOPLE)
        ch = self.edit({}, rng.randint(1, 3))
        msg = f"{sentence(rng).capitalize()}\n"
        self.main_mark = self.commit("refs/heads/main", author, author, msg, self.main_mark, [], ch)
        self.apply(ch)

    def run(self, total: int) -> None:
        self.initial()
        while self.commits < total:
            r = self.rng.random()
            if r < 0.45:
                self.pr_merge(bors=False)
            elif r < 0.52:
                self.pr_merge(bors=True)
            elif r < 0.90:
                self.squash()
            else:
                self.direct()
        self.w("reset refs/heads/feature\nfrom 0000000000000000000000000000000000000000\n\n")
        self.w("done\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--commits", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--stream-only", action="store_true", help="print the fast-import stream to stdout")
    ap.add_argument("--no-commit-graph", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    if args.stream_only:
        Gen(sys.stdout.buffer, rng, args.files).run(args.commits)
        return 0

    if os.path.exists(args.out_dir) and os.listdir(args.out_dir):
        print(f"{args.out_dir} exists and is not empty", file=sys.stderr)
        return 2
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "init", "-q", "-b", "main", args.out_dir], check=True, env=env)
    proc = subprocess.Popen(
        ["git", "-C", args.out_dir, "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None
    gen = Gen(proc.stdin, rng, args.files)
    gen.run(args.commits)
    proc.stdin.close()
    if proc.wait() != 0:
        print("git fast-import failed", file=sys.stderr)
        return 1
    subprocess.run(["git", "-C", args.out_dir, "repack", "-adf", "-q"], check=True, env=env)
    if not args.no_commit_graph:
        subprocess.run(["git", "-C", args.out_dir, "commit-graph", "write", "--reachable"], check=True, env=env)
    subprocess.run(["git", "-C", args.out_dir, "checkout", "-q", "main"], check=True, env=env)
    print(f"{args.out_dir}: {gen.commits} commits, {len(gen.files)} files at the tip, {gen.pr - 1} PRs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
