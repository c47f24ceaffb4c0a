//! cargo-afl entry point for [`countersign_fuzz::dsse_envelope`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::dsse_envelope(data);
    });
}
