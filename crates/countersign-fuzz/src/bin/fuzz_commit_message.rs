//! cargo-afl entry point for [`countersign_fuzz::commit_message`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::commit_message(data);
    });
}
