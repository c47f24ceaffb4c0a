//! cargo-afl entry point for [`countersign_fuzz::policy_toml`]; see the crate README.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        countersign_fuzz::policy_toml(data);
    });
}
