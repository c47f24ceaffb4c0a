//! cargo-afl entry point for [`countersign_fuzz::gh_pr_json`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::gh_pr_json(data);
    });
}
