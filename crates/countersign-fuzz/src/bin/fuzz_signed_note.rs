//! cargo-afl entry point for [`countersign_fuzz::signed_note`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::signed_note(data);
    });
}
