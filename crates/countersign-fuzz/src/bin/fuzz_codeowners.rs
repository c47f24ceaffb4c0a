//! cargo-afl entry point for [`countersign_fuzz::codeowners`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::codeowners(data);
    });
}
