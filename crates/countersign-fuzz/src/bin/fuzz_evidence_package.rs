//! cargo-afl entry point for [`countersign_fuzz::evidence_package`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::evidence_package(data);
    });
}
