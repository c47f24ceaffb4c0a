//! Walk a repository's first-parent history and print what the walk found.
//!
//! `cargo run --release -p countersign-git --example walk -- REPO [--no-cache] [--json]
//! [--branch NAME] [--range A..B] [--threads N] [--added-lines GLOB]`
//!
//! Stats go to stderr; with `--json` every change is written to stdout as JSON (the same work
//! `countersign audit --format json` does for the evidence part), otherwise one line per
//! change. Used by `bench/audit-vs-git.sh --walk-example`.

use std::io::Write;

use countersign_git::{Repository, WalkOptions};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut repo_path = None;
    let mut opts = WalkOptions::default();
    let mut json = false;
    let mut quiet = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-cache" => opts.use_cache = false,
            "--json" => json = true,
            "--quiet" => quiet = true,
            "--branch" => opts.branch = args.next(),
            "--range" => opts.range = args.next(),
            "--threads" => opts.threads = args.next().and_then(|n| n.parse().ok()),
            "--added-lines" => opts.read.added_lines_for.extend(args.next()),
            _ if repo_path.is_none() => repo_path = Some(arg),
            _ => {
                eprintln!("unexpected argument {arg}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(repo_path) = repo_path else {
        eprintln!("usage: walk REPO [--no-cache] [--json] [--quiet] [--branch NAME] [--range A..B] [--threads N]");
        return std::process::ExitCode::from(2);
    };
    let started = std::time::Instant::now();
    let result = Repository::open(&repo_path).and_then(|repo| repo.changes(&opts, &|_| {}));
    let walk = match result {
        Ok(walk) => walk,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let elapsed = started.elapsed();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if json {
        serde_json::to_writer(&mut out, &walk.changes).map_err(std::io::Error::from)
    } else if quiet {
        Ok(())
    } else {
        walk.changes.iter().try_for_each(|c| {
            writeln!(
                out,
                "{} {:?} pr={:?} paths={} approvals={} {}",
                &c.id[..12],
                c.kind,
                c.pr_number,
                c.changed_paths.len(),
                c.approvals.len(),
                c.title
            )
        })
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("error: writing output: {e}");
        return std::process::ExitCode::from(2);
    }
    if let Some(reason) = &walk.empty_reason {
        eprintln!("empty: {reason}");
    }
    eprintln!(
        "walked {} first-parent commits, {} changes ({} from cache, {} read), cache {:?}, commit-graph {}, merges in one pass {}, {} commits decoded for parents, {} added to the kept graph, {:.3}s",
        walk.stats.first_parent_commits,
        walk.stats.in_window,
        walk.stats.from_cache,
        walk.stats.read,
        walk.stats.cache,
        walk.stats.used_commit_graph,
        walk.stats.merges_in_one_pass,
        walk.stats.decoded_for_parents,
        walk.stats.graph_added,
        elapsed.as_secs_f64()
    );
    std::process::ExitCode::SUCCESS
}
