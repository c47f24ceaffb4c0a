//! Time `Repository::is_ancestor` (the deploy gate's question), for the benchmarks:
//!
//!   cargo run --release -p countersign-git --example ancestor -- REPO ANCESTOR DESCENDANT [RUNS]
//!
//! Prints the answer and the time of each run. With a kept commit graph in
//! `<git-dir>/countersign/` (written by an audit with the cache on) the walk stops at the
//! ancestor's generation; without one, gix's merge-base answers.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, ancestor, descendant, rest @ ..] = args.as_slice() else {
        eprintln!("usage: ancestor REPO ANCESTOR DESCENDANT [RUNS]");
        return std::process::ExitCode::from(2);
    };
    let runs: usize = rest.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    let repo = match countersign_git::Repository::open(repo) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    for _ in 0..runs {
        let start = std::time::Instant::now();
        match repo.is_ancestor(ancestor, descendant) {
            Ok(answer) => println!("{answer} in {:.3} ms", start.elapsed().as_secs_f64() * 1000.0),
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
