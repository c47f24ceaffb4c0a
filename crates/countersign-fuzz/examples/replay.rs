//! Replays files through a fuzz target without AFL, e.g. a fuzzer's whole queue against the
//! current code: `cargo run -p countersign-fuzz --example replay -- <target> <file or dir>…`.
//! Prints each input that panics and exits 1 if any did.

use std::path::{Path, PathBuf};

fn inputs(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).expect("read dir").map(|e| e.expect("dir entry").path()).collect();
        entries.sort();
        for entry in entries {
            if entry.is_file() {
                out.push(entry);
            }
        }
    } else {
        out.push(path.to_owned());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().expect("usage: replay <target> <file or dir>…");
    let run = countersign_fuzz::target(&name).unwrap_or_else(|| panic!("no target {name:?}"));
    let mut files = Vec::new();
    for arg in args {
        inputs(Path::new(&arg), &mut files);
    }
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = 0;
    for file in &files {
        let data = std::fs::read(file).expect("read input");
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            println!("PANIC {}: {message}", file.display());
            failed += 1;
        }
    }
    println!("{name}: {} inputs, {failed} panicked", files.len());
    std::process::exit(i32::from(failed > 0));
}
