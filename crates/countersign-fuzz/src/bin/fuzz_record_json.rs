//! cargo-afl entry point for [`countersign_fuzz::record_json`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::record_json(data);
    });
}
